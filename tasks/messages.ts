import { expect } from 'chai';
import type { Phase2World } from '../world/world';

/** One of the customer's numbers of a kind ('local', 'short-code', …), as a Given step added it. */
export function customerNumber(world: Phase2World, customerName: string, kind = 'local'): string {
  const found = world.customer(customerName).numbers.find((n) => n.kind === kind);
  if (!found) throw new Error(`"${customerName}" owns no ${kind} number: a Given step must add one.`);
  return found.number;
}

/**
 * Sends a text through the API and makes it the scenario's message. The clock starts before the
 * request, so a latency measured from `acceptedAt` is an upper bound of accept → handset.
 */
export async function sendText(
  world: Phase2World,
  customerName: string,
  from: string,
  personName: string,
  text: string,
): Promise<void> {
  const to = world.person(personName).number;
  const requestedAt = Date.now();
  const message = await world.customer(customerName).api.sendMessage({ from, to, text });
  expect(message.status, 'status of a message the API has just accepted').to.equal('queued');
  world.message = { id: message.id, customer: customerName, from, to, text, acceptedAt: requestedAt };
}
