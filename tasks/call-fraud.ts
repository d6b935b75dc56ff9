import { expect } from 'chai';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import type { PhoneCall } from '../world/sip/sip-phone';
import type { Phase2World } from '../world/world';
import { bound, boundMs, PLATFORM_LOG } from './waiting';

/**
 * Toll fraud and calls at once (TEST-INT-051): a phone that calls costly destinations in a burst,
 * or holds more calls than its customer's tier allows, is refused with a SIP answer that says why.
 */

async function limits(world: Phase2World) {
  const sipFraud = (await world.platformSettings()).security?.sipFraud;
  if (!sipFraud)
    throw new Error('GET /ops/v1/settings publishes no security.sipFraud: no call limits announced.');
  return sipFraud;
}

function phoneOf(world: Phase2World, name: string) {
  const phone = world.person(name).phone;
  if (!phone) throw new Error(`${name} has no SIP phone in this scenario.`);
  return phone;
}

/** A number in the range: the prefix, the attempt and five random digits (unique across scenarios). */
function numberIn(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(2, '0')}${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
}

/** How the platform (or the far network behind it) finally answered a call attempt. */
async function finalAnswer(world: Phase2World, call: PhoneCall, number: string) {
  return call.events.waitFor(
    (e) => e.kind === 'rejected' || e.kind === 'answered' || e.kind === 'ringing',
    bound(world, `the answer to the call to ${number}`, { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] }),
  );
}

/** When {person}'s phone calls premium-rate and far international numbers one after another */
export async function callHighRiskNumbers(world: Phase2World, name: string) {
  const { premiumRatePrefixes, farInternationalPrefixes, highRiskCallsPerWindow } = await limits(world);
  const network = await world.telephoneNetwork();
  const prefixes = [...premiumRatePrefixes, ...farInternationalPrefixes];
  const tried: NonNullable<Phase2World['refusals']['limitedCalls']> = [];
  // Bounded: two more than the limit, so an edge without one is seen letting them through.
  for (let n = 0; n < highRiskCallsPerWindow + 2; n++) {
    const number = numberIn(prefixes[n % prefixes.length] ?? '+1900', n);
    network.behaviourFor(number, { answer: 'busy' });
    const call = await phoneOf(world, name).call(number);
    const answer = await finalAnswer(world, call, number);
    tried.push({ number, status: answer.status, reason: answer.reason, kind: 'high-risk' });
  }
  world.refusals.limitedCalls = tried;
  attachJson(world, 'High-risk calls', tried);
}

/** Then the calls beyond the platform's limit are refused as suspected fraud */
export async function expectHighRiskCallsCutOff(world: Phase2World) {
  const { highRiskCallsPerWindow, highRiskWindowMs } = await limits(world);
  const tried = world.refusals.limitedCalls ?? [];
  const expected = tried.map((_, i) =>
    i < highRiskCallsPerWindow ? '486 (reached the network)' : '403 Fraud Suspected',
  );
  expect(
    tried.map((t) => (t.status === 486 ? '486 (reached the network)' : `${t.status} ${t.reason}`)),
    `answers to ${tried.length} high-risk calls in a row (security.sipFraud allows ${highRiskCallsPerWindow} ` +
      `within ${highRiskWindowMs} ms; see "High-risk calls")`,
  ).to.deep.equal(expected);
}

/** Then {string} gets a fraud alert naming {person}'s account */
export async function expectFraudAlert(world: Phase2World, customerName: string, name: string) {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const username = world.person(name).sip?.username;
  const firstRefused = world.refusals.limitedCalls?.find((t) => t.status === 403);
  const event = await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) => e.type === 'fraud.alert' && (e.data as { account?: string }).account === username,
    bound(world, `a fraud.alert for ${name}'s account at "${customerName}"'s webhook`, {
      lookAt: [EVIDENCE.WEBHOOK, PLATFORM_LOG],
    }),
  );
  expect(event.data, 'the fraud alert').to.deep.include({ account: username, callee: firstRefused?.number });
}

/** When {person}'s phone calls as many outside numbers at once as her tier allows, and one more */
export async function callBeyondTheCap(world: Phase2World, name: string, tier: string) {
  const cap = (await limits(world)).simultaneousCallsByTier[tier];
  if (cap === undefined) throw new Error(`security.sipFraud.simultaneousCallsByTier has no "${tier}" tier.`);
  const network = await world.telephoneNetwork();
  const tried: NonNullable<Phase2World['refusals']['limitedCalls']> = [];
  const calls: PhoneCall[] = [];
  for (let n = 0; n <= cap; n++) {
    const number = numberIn('+1555', n + 40);
    network.behaviourFor(number, { answer: 'ring' });
    const call = await phoneOf(world, name).call(number);
    calls.push(call);
    const answer = await finalAnswer(world, call, number);
    tried.push({ number, status: answer.status, reason: answer.reason, kind: answer.kind });
  }
  world.refusals.limitedCalls = tried;
  attachJson(world, 'Calls at once', { tier, cap, tried });
  world.onCleanup(async () => {
    await Promise.all(calls.map((c) => c.hangup().catch(() => undefined)));
    await Promise.all(calls.map((c) => c.waitUntilEnded(boundMs(world)).catch(() => undefined)));
  });
}

/** Then the call beyond the {tier} tier's limit is refused, saying the simultaneous-call limit was reached */
export async function expectCallBeyondCapRefused(world: Phase2World, tier: string) {
  const cap = (await limits(world)).simultaneousCallsByTier[tier];
  const tried = world.refusals.limitedCalls ?? [];
  expect(
    tried.map((t) => (t.kind === 'ringing' ? 'ringing' : `${t.status} ${t.reason}`)),
    `answers to ${tried.length} calls held at once (the ${tier} tier allows ${cap}; see "Calls at once")`,
  ).to.deep.equal([...tried.slice(0, -1).map(() => 'ringing'), '403 Simultaneous Call Limit Reached']);
}
