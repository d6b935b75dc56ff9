import { expect } from 'chai';
import type { Cdr, PlatformApi, CdrFilter } from '../world/http/api-client';
import type { Phase2World, FinishedCall, Person } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric, consistencyCheck } from '../reporting/metrics';
import { DataTable } from '@cucumber/cucumber';
import type { PstnBehaviour } from '../world/sip/pstn-double';
import { pstnNumber } from '../world/factories';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';
import { attempts } from '../reporting/attempts';

/**
 * The one record of a call, as its customer reads it through the API by the SIP Call-ID their
 * side of the call used; waited for (the platform writes it as the call ends) and attached.
 */
export async function awaitCallRecord(
  world: Phase2World,
  api: PlatformApi,
  sipCallId: string,
  what: string,
): Promise<Cdr> {
  const page = await eventually(
    world,
    `the record of ${what} (SIP Call-ID ${sipCallId})`,
    () => api.listCdrs({ sipCallId }),
    (result) => result.items.length > 0,
    { lookAt: [EVIDENCE.HTTP, PLATFORM_LOG] },
  ).catch((error: unknown) => {
    recordMetric(world, { kind: 'audit', name: 'call records written', expected: 1, recorded: 0 });
    throw error;
  });
  recordMetric(world, {
    kind: 'audit',
    name: 'call records written',
    expected: 1,
    recorded: page.items.length,
  });
  expect(page.items, `records of ${what} (SIP Call-ID ${sipCallId}): exactly one`).to.have.length(1);
  attachJson(world, 'Call record', page.items[0]);
  return page.items[0];
}

/**
 * Call records (CDRs) through the API: one per call attempt, with the outcome the callee's line
 * produced, filterable, paged, pushed to the customer's webhook, and private to the customer.
 */

/** Outside lines as the feature describes them, and what the telephone network double does. */
const LINES: Record<string, { behaviour: PstnBehaviour; outcome: string }> = {
  answers: { behaviour: { answer: 'answer', media: 'tone', answerAfterMs: 300 }, outcome: 'answered' },
  'rings unanswered': { behaviour: { answer: 'ring' }, outcome: 'no-answer' },
  'is busy': { behaviour: { answer: 'busy' }, outcome: 'busy' },
  'is out of service': { behaviour: { answer: 'reject', rejectCode: 503 }, outcome: 'failed' },
};
/** A short exchange on the answered call: enough for a non-zero, measurable talk time. */
const SHORT_TALK_PACKETS = 10;
/** Loopback jitter allowance between the phone's and the platform's view of a call's length. */
export const DURATION_TOLERANCE_MS = 150;

async function makeCall(world: Phase2World, caller: Person, callee: Person, outcome: string): Promise<void> {
  if (!caller.phone) throw new Error(`${caller.name} has no phone.`);
  const waitMs = boundMs(world);
  const call = await caller.phone.call(callee.number);
  // The line was set up to refuse: for the traffic metric that refusal is the expected end.
  if (outcome !== 'answered') attempts.expectRefusal('call', call.callId);
  if (outcome === 'answered') {
    await call.waitUntilAnswered(waitMs);
    await call.rtp.waitForPackets(SHORT_TALK_PACKETS, waitMs);
    await call.hangup();
  }
  // The platform gives up on an unanswered call after its no-answer time: wait that long at most.
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  await call.waitUntilEnded(boundMs(world, noAnswerTimeoutMs));
  world.voice.finishedCalls.push({
    caller,
    callee,
    sipCallId: call.callId,
    expected: outcome,
    endedAt: Date.now(),
    talkMs: call.answeredAt !== undefined ? (call.endedAt ?? 0) - call.answeredAt : 0,
  });
}

/** Given {person} has made these calls, one after the other: */
export async function makeTheseCallsOneAfterTheOther(
  world: Phase2World,
  callerName: string,
  table: DataTable,
) {
  const caller = world.person(callerName);
  const network = await world.telephoneNetwork();
  for (const row of table.hashes()) {
    const line = LINES[row['whose line'] ?? ''];
    if (!line)
      throw new Error(`Unknown line "${row['whose line']}" (known: ${Object.keys(LINES).join(', ')}).`);
    const name = row.to ?? '';
    const callee: Person = { name, number: pstnNumber(), kind: 'outside line' };
    world.people.set(name, callee);
    network.behaviourFor(callee.number, line.behaviour);
    await makeCall(world, caller, callee, line.outcome);
  }
}

export function finished(world: Phase2World, name: string): FinishedCall {
  const found = world.voice.finishedCalls.find((c) => c.callee.name === name);
  if (!found) throw new Error(`No finished call to ${name} in this scenario.`);
  return found;
}

function callerApi(world: Phase2World) {
  const first = world.voice.finishedCalls[0];
  if (!first?.caller.customer) throw new Error('No call of a customer has been made in this scenario.');
  return world.customer(first.caller.customer).api;
}

/** The record of one finished call, once it is there. */
function recordOf(world: Phase2World, call: FinishedCall): Promise<Cdr> {
  return awaitCallRecord(world, callerApi(world), call.sipCallId, `the call to ${call.callee.name}`);
}

async function allRecords(world: Phase2World): Promise<Map<string, Cdr>> {
  const records = new Map<string, Cdr>();
  for (const call of world.voice.finishedCalls) records.set(call.callee.name, await recordOf(world, call));
  attachJson(world, 'Call records', Object.fromEntries(records));
  return records;
}

/** Then the call records show: */
export async function expectTheCallRecordsShow(world: Phase2World, table: DataTable) {
  const records = await allRecords(world);
  for (const row of table.hashes()) {
    const call = finished(world, row.to ?? '');
    const cdr = records.get(call.callee.name);
    if (!cdr) throw new Error(`No record of the call to ${call.callee.name}.`);
    const about = `the record of the call to ${call.callee.name}`;
    expect(cdr, about).to.deep.include({
      caller: call.caller.number,
      callee: call.callee.number,
      trunkId: world.customer(call.caller.customer ?? '').trunkId,
      direction: 'outbound',
      disposition: row.outcome,
      sipStatus: Number(row['SIP status']),
    });
    const started = Date.parse(cdr.startedAt);
    const ended = Date.parse(cdr.endedAt);
    expect(started <= ended, `${about}: started ${cdr.startedAt} ≤ ended ${cdr.endedAt}`).to.equal(true);
    if (row['talk time'] === 'yes') {
      const answered = Date.parse(cdr.answeredAt ?? '');
      expect(started <= answered && answered <= ended, `${about}: answered between start and end`).to.equal(
        true,
      );
      expect(
        cdr.durationMs,
        `${about}: duration vs the ${call.talkMs} ms measured on the phone`,
      ).to.be.closeTo(call.talkMs, DURATION_TOLERANCE_MS);
      expect(cdr.billableSeconds, `${about}: billable seconds, the duration rounded up`).to.equal(
        Math.ceil(cdr.durationMs / 1000),
      );
    } else {
      expect(
        [cdr.answeredAt, cdr.durationMs, cdr.billableSeconds],
        `${about}: never answered, so no answer time, duration or billable seconds`,
      ).to.deep.equal([null, 0, 0]);
    }
  }
  expect(table.hashes(), 'every call made is checked').to.have.length(world.voice.finishedCalls.length);
}

export async function expectFilterReturns(
  world: Phase2World,
  filter: CdrFilter,
  names: string[],
): Promise<void> {
  const page = await callerApi(world).listCdrs(filter);
  const expected = await Promise.all(names.map((name) => recordOf(world, finished(world, name))));
  expect(
    page.items.map((cdr) => cdr.id),
    `records for ${JSON.stringify(filter)}: the calls to ${names.join(', ')}, newest first`,
  ).to.deep.equal(expected.map((cdr) => cdr.id));
}

/** Then asking for calls started after the call to {person} and before the call to {person} returns only the call to {person} */
export async function expectCallsStartedAfterTheCallTo(
  world: Phase2World,
  after: string,
  before: string,
  name: string,
) {
  // Bounds from the platform's own clock (its records), so a remote platform's clock skew cannot matter.
  const previous = await recordOf(world, finished(world, after));
  const next = await recordOf(world, finished(world, before));
  await expectFilterReturns(world, { since: previous.endedAt, until: next.startedAt }, [name]);
}

/** Then reading the records one per page returns the calls to {person}, {person}, {person} and {person}, then no more pages */
export async function expectOneRecordPerPageInOrder(
  world: Phase2World,
  first: string,
  second: string,
  third: string,
  fourth: string,
) {
  const names = [first, second, third, fourth];
  const api = callerApi(world);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page <= names.length; page += 1) {
    const result = await api.listCdrs({ limit: 1, cursor });
    expect(result.items.length, `records on page ${page + 1} of one`).to.be.at.most(1);
    seen.push(...result.items.map((cdr) => cdr.id));
    if (result.nextCursor === null) break;
    cursor = result.nextCursor;
  }
  const expected = await Promise.all(names.map((name) => recordOf(world, finished(world, name))));
  expect(seen, 'record ids page by page: newest first, none missing, none repeated').to.deep.equal(
    expected.map((cdr) => cdr.id),
  );
}

/** Then {string}'s webhook receives one completed-call event per call, carrying the same record as the API */
export async function expectOneCompletedCallEventPerCall(world: Phase2World, customerName: string) {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  for (const call of world.voice.finishedCalls) {
    const cdr = await recordOf(world, call);
    const event = await world.env.webhooks.waitForEvent(
      webhook.path,
      (e) => e.type === 'call.completed' && (e.data as { id?: string }).id === cdr.id,
      bound(world, `a call.completed event for the call to ${call.callee.name} (record ${cdr.id})`, {
        lookAt: [EVIDENCE.WEBHOOK],
      }),
    );
    await consistencyCheck(world, 'call.completed webhook vs the API record', () =>
      expect(event.data, `the record in the event for the call to ${call.callee.name}`).to.deep.equal(cdr),
    );
  }
  const events = world.env.webhooks.events.filter((e) => e.path === webhook.path);
  expect(events.length, `completed-call events at "${customerName}"'s webhook: one per call`).to.equal(
    world.voice.finishedCalls.length,
  );
}

/** Then {string} finds none of {person}'s call records, neither in lists nor by id */
export async function expectNoneOfTheirCallRecordsVisible(
  world: Phase2World,
  outsider: string,
  callerName: string,
) {
  const api = world.customer(outsider).api;
  const theirs = world.voice.finishedCalls.filter((c) => c.caller.name === callerName);
  expect(theirs, `calls ${callerName} made`).to.have.length.above(0);
  const listed = await api.listCdrs({ limit: 500 });
  for (const call of theirs) {
    const cdr = await recordOf(world, call);
    expect(
      listed.items.map((c) => c.id),
      `"${outsider}"'s records`,
    ).to.not.include(cdr.id);
    const bySipCallId = await api.listCdrs({ sipCallId: call.sipCallId });
    expect(bySipCallId.items, `"${outsider}"'s records for SIP Call-ID ${call.sipCallId}`).to.deep.equal([]);
    const byId = await api.raw({
      method: 'GET',
      path: `/v1/cdrs/${cdr.id}`,
      refusal: { what: `"${outsider}" reading another customer's call record`, by: 'the platform' },
    });
    expect(byId.status, `"${outsider}" reading record ${cdr.id}`).to.equal(404);
  }
}
