import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { attempts } from '../reporting/attempts';
import { firstSuccessAfterCrash, latestFault, within } from './failover';
import { customerNumber } from './messaging';
import { awaitCallRecord } from './call-records';
import { callAndTalk, hangUp } from './voice';
import { bound, eventually, untilInstant, PLATFORM_LOG } from './waiting';

/**
 * The database's outage (TEST-INT-044), injected through the fault seam as role `database`,
 * node `primary`: `hang` makes it refuse writes (reads go on, as from a replica), `recover` brings
 * it back. The platform must neither lose nor double what it owed the store meanwhile.
 */

/** When the database is back after {int} seconds: the outage lasts the stated time, then ends. */
export async function databaseBackAfter(world: Phase2World, seconds: number) {
  const outage = latestFault(world, 'database');
  expect(outage.action, 'the database was made unavailable first').to.equal('hang');
  await untilInstant(outage.requestedAt + seconds * 1000);
  const back = await world.env.faults.recover('database', outage.node);
  world.failover.faults.push(back);
}

/**
 * Then {string} is told to try again later while the database is away: a 503 with Retry-After,
 * within the ordinary bound — never a 500, never a request left hanging.
 */
export async function expectTryAgainLater(world: Phase2World, customerName: string) {
  expect(latestFault(world, 'database').action, 'the database is away').to.equal('hang');
  const api = world.customer(customerName).api;
  // The refusal is this step's expectation: the run's end-to-end figure must not count it lost.
  const requestId = `suite-${randomUUID()}`;
  attempts.expectRefusal('request', requestId);
  const answer = await within(
    api.raw({
      method: 'POST',
      path: '/v1/messages',
      headers: { 'X-Request-Id': requestId },
      json: {
        from: customerNumber(world, customerName),
        to: world.newHandset('deliver'),
        text: 'During the outage',
      },
    }),
    world.env.config.waitMs,
    'a send while the database is away (the API must answer, not hang)',
  );
  const see = `(see "${EVIDENCE.HTTP}")`;
  expect(
    answer.status,
    `answer to a send while the database refuses writes: 503, never 202 nor 500 ${see}`,
  ).to.equal(503);
  expect(answer.headers['retry-after'], `Retry-After of the 503 ${see}`).to.match(/^\d+$/);
}

/**
 * Then the platform is back to full service within {int} seconds of the database's return: a new
 * text is accepted again, and (where the seam shows it) every node has written what it owed.
 */
export async function expectFullServiceWithin(world: Phase2World, customerName: string, seconds: number) {
  const back = latestFault(world, 'database');
  expect(back.action, 'the database came back').to.equal('recover');
  const api = world.customer(customerName).api;
  const from = customerNumber(world, customerName);
  // Service = a new text accepted and on its handset: the store takes both its row and its outcome.
  await firstSuccessAfterCrash(world, 'database', 'a new text accepted and delivered', async () => {
    const to = world.newHandset('deliver');
    const text = `After the outage ${randomBytes(3).toString('hex')}`;
    await api.sendMessage({ from, to, text });
    await world.mobileNetwork.handset(to).inbox.waitFor(
      (sms) => sms.text === text,
      bound(world, `the text sent after the database came back, on ${to}`, {
        lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
        within: Math.max(1, back.requestedAt + seconds * 1000 - Date.now()),
      }),
    );
  });
  const nodes = await world.env.faults.nodes();
  if (!nodes?.some((n) => n.store)) return; // the seam does not show what nodes owe the store
  const caughtUp = await eventually(
    world,
    'every node to have written what it owed the store (store.queued 0 on GET /ops/v1/nodes)',
    async () => (await world.env.faults.nodes()) ?? [],
    (list) => list.every((n) => (n.store?.queued ?? 0) === 0),
    {
      lookAt: [EVIDENCE.FAULT, PLATFORM_LOG],
      within: Math.max(1, back.requestedAt + seconds * 1000 - Date.now()),
    },
  );
  const ms = Date.now() - back.requestedAt;
  attachJson(world, 'Platform nodes once caught up', caughtUp);
  recordMetric(world, {
    kind: 'failover',
    role: 'database',
    name: 'database back → every node caught up',
    ms,
  });
}

/**
 * Then after a later call of {person}'s is recorded, her call during the outage still has exactly
 * one record: "none doubled" proven by a later event, not at one instant (a record written again
 * by a late retry of its own would be there by then).
 */
export async function expectStillOneRecordAfterALaterCall(world: Phase2World, name: string) {
  const during = world.currentCall();
  const customer = world.customer(during.caller.customer ?? '');
  await callAndTalk(world, name, during.callee.name);
  await hangUp(world, name);
  await awaitCallRecord(world, customer.api, world.currentCall().call.callId, `${name}'s later call`);
  const { items } = await customer.api.listCdrs({ sipCallId: during.call.callId });
  expect(
    items.map((cdr) => cdr.id),
    `records of ${name}'s call during the outage (SIP Call-ID ${during.call.callId}) once a later call was recorded: exactly one (see "${EVIDENCE.HTTP}")`,
  ).to.have.length(1);
  world.voice.call = during;
}
