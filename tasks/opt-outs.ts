import type { CampaignRun, ListedContact, Phase2World } from '../world/world';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE } from '../reporting/evidence';
import { expect } from 'chai';
import { customerNumber } from './messaging';
import { bound, PLATFORM_LOG } from './waiting';

/** Opt-outs: a person texts STOP to a customer's number and hears no more from it. */

/** Whether the contact texted STOP to the customer running the campaign. */
export function optedOut(world: Phase2World, run: CampaignRun, contact: ListedContact): boolean {
  return world.customer(run.customer).optedOut.has(contact.number);
}

export function isOptOutNotice(sms: HandsetSms): boolean {
  return /no more texts|texts from .* again/i.test(sms.text);
}

export async function replyStop(world: Phase2World, name: string, customerName: string): Promise<void> {
  const person = world.person(name);
  const businessNumber = customerNumber(world, customerName);
  await world.mobileNetwork.textFrom(person.number, businessNumber, 'STOP');
  const confirmation = await world.mobileNetwork.handset(person.number).inbox.waitFor(
    (sms) => sms.from === businessNumber && /no more texts/i.test(sms.text),
    bound(world, `the confirmation of ${name}'s STOP from ${businessNumber}`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(confirmation.text, `confirmation on ${name}'s phone`).to.include('START');
  world.customer(customerName).optedOut.add(person.number);
  const optOuts = (await world.customer(customerName).api.listOptOuts()).items;
  expect(
    optOuts.map(({ number, source }) => ({ number, source })),
    `"${customerName}"'s opt-outs (see "${EVIDENCE.HTTP}")`,
  ).to.deep.include({ number: person.number, source: 'sms' });
}
