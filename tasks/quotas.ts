import { expect } from 'chai';
import { attempts } from '../reporting/attempts';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import type { QuotaState } from '../world/http/api-client';
import { smppStatusName } from '../world/smpp/smpp-session';
import type { PhoneCall } from '../world/sip/sip-phone';
import type { Phase2World } from '../world/world';
import { customerNumber, mobilePhoneInbox } from './messaging';
import { session } from './smpp';
import { bound, PLATFORM_LOG, untilInstant } from './waiting';

/**
 * Quotas per customer over every channel (TEST-INT-053): one text quota for the API and SMPP
 * together, and a call-attempt rate for all the customer's phones together (503 + Retry-After).
 * The windows are the platform's settings (security.limits); the counts are the customer's own.
 */

async function limitSettings(world: Phase2World) {
  const limits = (await world.platformSettings()).security?.limits;
  if (!limits)
    throw new Error('GET /ops/v1/settings publishes no security.limits: no per-customer quotas announced.');
  return limits;
}

/**
 * The quota's state in a window with at least half of it left: a window about to close would
 * give the attempts a fresh count in mid-run.
 */
async function freshWindow(world: Phase2World, customerName: string, kind: 'texts' | 'callAttempts') {
  const { id } = world.customer(customerName);
  let state: QuotaState = (await world.operator.quotas(id))[kind];
  if (state.resetInMs < state.windowMs / 2) {
    await untilInstant(Date.now() + state.resetInMs);
    state = (await world.operator.quotas(id))[kind];
  }
  attachJson(world, `"${customerName}"'s ${kind} quota before the attempts`, state);
  if (state.remaining === null) throw new Error(`"${customerName}" has no ${kind} quota in force.`);
  return { ...state, remaining: state.remaining };
}

/** Given {string} may send {int} texts in a short while, whichever way it sends them */
export async function limitTexts(world: Phase2World, customerName: string, count: number) {
  const { id } = world.customer(customerName);
  const current = await world.operator.quotas(id);
  const set = await world.operator.setQuotas(id, {
    textsPerWindow: count,
    callAttemptsPerWindow: current.callAttempts.limit,
  });
  const { textWindowMs } = await limitSettings(world);
  expect(set.texts, `"${customerName}"'s text quota`).to.include({ limit: count, windowMs: textWindowMs });
}

/** Given {string} may start {int} calls in a short while */
export async function limitCallAttempts(world: Phase2World, customerName: string, count: number) {
  const { id } = world.customer(customerName);
  const current = await world.operator.quotas(id);
  const set = await world.operator.setQuotas(id, {
    textsPerWindow: current.texts.limit,
    callAttemptsPerWindow: count,
  });
  const { callAttemptWindowMs } = await limitSettings(world);
  expect(set.callAttempts, `"${customerName}"'s call-attempt rate`).to.include({
    limit: count,
    windowMs: callAttemptWindowMs,
  });
}

/** When {string} texts {person} over the API and over SMPP in turn, two more times than its quota has left */
export async function textOverBothChannels(world: Phase2World, customerName: string, name: string) {
  const customer = world.customer(customerName);
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  const { remaining } = await freshWindow(world, customerName, 'texts');
  const run: NonNullable<typeof customer.quotaRun> = [];
  // One after another, so the order of the answers is the order the quota was used in.
  for (let n = 0; n < remaining + 2; n++) {
    const channel = n % 2 === 0 ? 'API' : 'SMPP';
    const text = `Quota ${n + 1} of ${remaining + 2} by ${channel} ${Date.now()}`;
    if (channel === 'API') {
      const answer = await customer.api.raw({
        method: 'POST',
        path: '/v1/messages',
        json: { from, to, text },
      });
      const retryAfter = answer.headers['retry-after'];
      run.push({
        channel,
        text,
        answer: String(answer.status),
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      });
    } else {
      const response = await session(world).submitOnce({
        source: from,
        destination: to,
        text,
        registeredDelivery: false,
      });
      run.push({ channel, text, answer: smppStatusName(response.command_status) });
    }
  }
  customer.quotaRun = run;
  attachJson(world, `Texts over the API and SMPP against one quota`, { remaining, run });
}

/** Then the texts beyond {string}'s quota are refused on the channel they came by, saying to slow down */
export function expectQuotaSharedByChannels(world: Phase2World, customerName: string) {
  const run = world.customer(customerName).quotaRun ?? [];
  const left = run.length - 2;
  const see = `(see "Texts over the API and SMPP against one quota" and "${EVIDENCE.HTTP}")`;
  const accepted = { API: '202', SMPP: 'ESME_ROK' };
  const refused = { API: '429', SMPP: 'ESME_RTHROTTLED' };
  expect(
    run.map((r) => `${r.channel} ${r.answer}`),
    `answers to ${run.length} texts sent by API and SMPP in turn, ${left} left in the quota ${see}`,
  ).to.deep.equal(run.map((r, i) => `${r.channel} ${(i < left ? accepted : refused)[r.channel]}`));
  for (const r of run.filter((x) => x.channel === 'API' && x.answer === '429'))
    expect(
      Number(r.retryAfter),
      `Retry-After of the API text refused over the quota, in seconds ${see}`,
    ).to.be.within(1, 3_600);
}

/** Then {person}'s phone receives exactly the texts {string} had accepted, whichever way they came */
export async function expectQuotaTextsDelivered(world: Phase2World, name: string, customerName: string) {
  const run = world.customer(customerName).quotaRun ?? [];
  const accepted = run.filter((r) => r.answer === '202' || r.answer === 'ESME_ROK').map((r) => r.text);
  const refused = run.filter((r) => !accepted.includes(r.text)).map((r) => r.text);
  const inbox = mobilePhoneInbox(world, name);
  for (const text of accepted)
    await inbox.waitFor(
      (sms) => sms.text === text,
      bound(world, `the accepted text "${text}" on ${name}'s phone`, {
        lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
      }),
    );
  const arrived = inbox.all().map((sms) => sms.text);
  expect(
    arrived.filter((text) => refused.includes(text)),
    `refused texts that reached ${name}'s phone anyway (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
  expect(
    arrived.filter((text) => accepted.includes(text)).sort(),
    `accepted texts on ${name}'s phone, each once`,
  ).to.deep.equal([...accepted].sort());
}

function phoneOf(world: Phase2World, name: string) {
  const phone = world.person(name).phone;
  if (!phone) throw new Error(`${name} has no SIP phone in this scenario.`);
  return phone;
}

/** A busy outside number of its own: the call reaches the network and ends at once. */
async function busyNumber(world: Phase2World, n: number): Promise<string> {
  const number = `+1555${String(60 + n).padStart(2, '0')}${String(Math.floor(Math.random() * 100_000)).padStart(5, '0')}`;
  (await world.telephoneNetwork()).behaviourFor(number, { answer: 'busy' });
  return number;
}

/** Places a call and waits for its final answer. */
async function attempt(world: Phase2World, caller: string, number: string) {
  const call: PhoneCall = await phoneOf(world, caller).call(number);
  // Every number here is busy, and beyond the rate the platform refuses: no call should connect.
  attempts.expectRefusal('call', call.callId);
  const answer = await call.events.waitFor(
    (e) => e.kind === 'rejected' || e.kind === 'answered',
    bound(world, `the answer to ${caller}'s call to ${number}`, { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] }),
  );
  if (answer.kind === 'answered') await call.hangup();
  return {
    number,
    caller,
    status: answer.status,
    reason: answer.reason,
    kind: answer.kind,
    answeredAt: Date.now(),
    ...(answer.retryAfter === undefined ? {} : { retryAfter: answer.retryAfter }),
    ...(answer.warning === undefined ? {} : { warning: answer.warning }),
  };
}

/** When {person}'s and {person}'s phones try two more calls than {string} may still start in that while */
export async function callBeyondTheRate(
  world: Phase2World,
  first: string,
  second: string,
  customerName: string,
) {
  const { remaining } = await freshWindow(world, customerName, 'callAttempts');
  const tried: NonNullable<Phase2World['refusals']['limitedCalls']> = [];
  for (let n = 0; n < remaining + 2; n++) {
    const caller = n % 2 === 0 ? first : second;
    tried.push(await attempt(world, caller, await busyNumber(world, n)));
  }
  world.refusals.limitedCalls = tried;
  attachJson(world, 'Call attempts against the rate', { remaining, tried });
}

/** Then the calls beyond {string}'s rate are refused as Service Unavailable, saying when to try again */
export async function expectCallsBeyondTheRateRefused(world: Phase2World, customerName: string) {
  const { callAttemptWindowMs } = await limitSettings(world);
  const tried = world.refusals.limitedCalls ?? [];
  const left = tried.length - 2;
  const see = `(see "Call attempts against the rate" and "${EVIDENCE.SIP}")`;
  expect(
    tried.map(
      (t) => `${t.caller}: ${t.status === 486 ? 'reached the network (486)' : `${t.status} ${t.reason}`}`,
    ),
    `answers to ${tried.length} calls by "${customerName}"'s phones, ${left} left in its rate ${see}`,
  ).to.deep.equal(
    tried.map((t, i) => `${t.caller}: ${i < left ? 'reached the network (486)' : '503 Service Unavailable'}`),
  );
  for (const refused of tried.slice(left)) {
    expect(refused.retryAfter, `Retry-After of the refused call to ${refused.number} ${see}`).to.match(
      /^\d+$/,
    );
    expect(
      Number(refused.retryAfter),
      `Retry-After (s) of the refused call: within the ${callAttemptWindowMs} ms window ${see}`,
    ).to.be.within(1, Math.ceil(callAttemptWindowMs / 1_000));
    expect(refused.warning, `the Warning saying why the call was refused ${see}`).to.match(
      /call attempt rate/i,
    );
  }
}

/** Then once that time has passed, {person}'s phone reaches the network again */
export async function expectCallsAgainAfterRetryAfter(world: Phase2World, name: string) {
  const last = (world.refusals.limitedCalls ?? []).at(-1);
  if (last?.answeredAt === undefined || last.retryAfter === undefined)
    throw new Error('No call refused with a Retry-After in this scenario.');
  await untilInstant(last.answeredAt + Number(last.retryAfter) * 1_000);
  const again = await attempt(world, name, await busyNumber(world, 90));
  attachJson(world, 'The call after Retry-After', again);
  expect(
    `${again.status} ${again.reason}`,
    `${name}'s call ${last.retryAfter} s after the refusal said to retry (see "${EVIDENCE.SIP}", ${world.env.platformLog})`,
  ).to.match(/^486 /);
}
