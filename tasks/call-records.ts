import { expect } from 'chai';
import type { Cdr, PlatformApi, CdrFilter } from '../world/http/api-client';
import type { Phase2World, FinishedCall, Person } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric, consistencyCheck } from '../reporting/metrics';
import { DataTable } from '@cucumber/cucumber';
import type { PstnBehaviour } from '../world/sip/pstn-double';
import { randomInt } from 'node:crypto';
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
    recordMetric(world, { kind: 'consistency', name: 'one call record per call', passed: false });
    throw error;
  });
  // One record per call is data consistency (the audit trail is TEST-INT-054's, by request id).
  recordMetric(world, {
    kind: 'consistency',
    name: 'one call record per call',
    passed: page.items.length === 1,
  });
  expect(page.items, `records of ${what} (SIP Call-ID ${sipCallId}): exactly one`).to.have.length(1);
  attachJson(world, 'Call record', page.items[0]);
  return page.items[0];
}

/**
 * The talk time the platform can have measured, from what both ends observed. The platform stamps
 * the answer when the callee's 200 OK reaches it and the end when the first BYE does; each end
 * stamps its own side of those same messages (the callee sends its 200 OK before the platform
 * sees it, the caller gets it after; whoever hangs up sends the BYE before, the other gets it
 * after). So the record's duration lies between the shortest and the longest span the two ends
 * saw, however long the messages took on a busy host: no tolerance, no clock shared with the
 * platform. Loopback makes the bracket a few ms wide; its width is in the failure message.
 */
export function talkTimeBracket(ends: Array<{ answeredAt?: number; endedAt?: number }>): {
  atLeast: number;
  atMost: number;
} {
  const answers = ends.map((e) => e.answeredAt ?? NaN);
  const hangUps = ends.map((e) => e.endedAt ?? NaN);
  return {
    atLeast: Math.min(...hangUps) - Math.max(...answers),
    atMost: Math.max(...hangUps) - Math.min(...answers),
  };
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
  'rings until Alice gives up': { behaviour: { answer: 'ring' }, outcome: 'cancelled' },
};
/** A short exchange on the answered call: enough for a non-zero, measurable talk time. */
const SHORT_TALK_PACKETS = 10;

async function makeCall(world: Phase2World, caller: Person, callee: Person, outcome: string): Promise<void> {
  if (!caller.phone) throw new Error(`${caller.name} has no phone.`);
  const waitMs = boundMs(world);
  const network = await world.telephoneNetwork();
  const call = await caller.phone.call(callee.number);
  // The line was set up to refuse: for the traffic metric that refusal is the expected end.
  if (outcome !== 'answered') attempts.expectRefusal('call', call.callId);
  const notes: Pick<FinishedCall, 'talk' | 'ring'> = {};
  if (outcome === 'answered') {
    const invite = await network.invites.waitFor(
      (i) => i.number === callee.number,
      bound(world, `the call to ${callee.name} to reach the network`, { lookAt: [EVIDENCE.SIP] }),
    );
    await call.waitUntilAnswered(waitMs);
    const line = await network.calls.waitFor(
      (c) => c.callId === invite.callId,
      bound(world, `${callee.name}'s line to answer`, { lookAt: [EVIDENCE.SIP] }),
    );
    await call.rtp.waitForPackets(SHORT_TALK_PACKETS, waitMs);
    await call.hangup();
    await line.waitUntilEnded(waitMs);
    notes.talk = talkTimeBracket([call, line]);
    // The platform saw the dial after the phone sent it and before the line got it, and the answer
    // after the line sent it and before the phone got it.
    notes.ring = {
      atLeast: (line.answeredAt ?? NaN) - invite.at,
      atMost: (call.answeredAt ?? NaN) - call.invitedAt,
    };
  }
  if (outcome === 'cancelled') {
    await call.events.waitFor(
      (e) => e.kind === 'ringing',
      bound(world, `the call to ${callee.name} to ring`, { lookAt: [EVIDENCE.SIP] }),
    );
    await call.hangup();
  }
  // The platform gives up on an unanswered call after its no-answer time: wait that long at most.
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  await call.waitUntilEnded(boundMs(world, noAnswerTimeoutMs));
  if (outcome === 'no-answer')
    notes.ring = { atLeast: noAnswerTimeoutMs, atMost: (call.endedAt ?? NaN) - call.invitedAt };
  // The far end's 503 is not the platform's: told 503, the phone (or a proxy in front, such as
  // Kamailio's dispatcher) would take the platform itself for out of service (RFC 3261 §16.7: 500).
  if (outcome === 'failed')
    expect(
      call.outcome.status,
      `final status ${caller.name}'s phone got for the call to ${callee.name}, whose line is out of service (503): ` +
        `500, a failure further on, not 503, which says the platform itself is out of service (see "${EVIDENCE.SIP}")`,
    ).to.equal(500);
  world.voice.finishedCalls.push({
    caller,
    callee,
    sipCallId: call.callId,
    expected: outcome,
    endedAt: Date.now(),
    talkMs: call.answeredAt !== undefined ? (call.endedAt ?? 0) - call.answeredAt : 0,
    ...notes,
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
    // Each number begins with the one called before it (+1 digit): a filter by a number that
    // also returns calls to longer numbers starting with it shows up in any scenario here.
    const previous = world.voice.finishedCalls.at(-1)?.callee.number;
    const number = previous ? `${previous}${randomInt(0, 10)}` : pstnNumber();
    const callee: Person = { name, number, kind: 'outside line' };
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
    if (call.ring) {
      // Ring time on the platform's own clock, bracketed by what the phone and the line saw.
      const rang = (cdr.answeredAt === null ? ended : Date.parse(cdr.answeredAt)) - started;
      expect(
        rang,
        `${about}: ms from the dial to ${cdr.answeredAt === null ? 'the end' : 'the answer'} in the record, ` +
          `between ${call.ring.atLeast} and ${call.ring.atMost} as the phone and the line saw it (see "${EVIDENCE.SIP}")`,
      ).to.be.within(call.ring.atLeast, call.ring.atMost);
    }
    if (row['talk time'] === 'yes') {
      const answered = Date.parse(cdr.answeredAt ?? '');
      expect(started <= answered && answered <= ended, `${about}: answered between start and end`).to.equal(
        true,
      );
      if (!call.talk) throw new Error(`The call to ${call.callee.name} was not answered when it was made.`);
      expect(
        cdr.durationMs,
        `${about}: duration between ${call.talk.atLeast} and ${call.talk.atMost} ms, the talk time the phone and the line saw (${call.talkMs} ms on the phone; see "${EVIDENCE.SIP}")`,
      ).to.be.within(call.talk.atLeast, call.talk.atMost);
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

/** Then asking for calls to {person}'s number returns only the call to {person}, not the call to {person} whose number begins with hers */
export async function expectWholeNumberFilter(
  world: Phase2World,
  numberOf: string,
  name: string,
  longerName: string,
): Promise<void> {
  const { number } = world.person(numberOf);
  const longer = world.person(longerName).number;
  expect(
    longer.startsWith(number) && longer.length > number.length,
    `${longerName}'s number ${longer} begins with ${numberOf}'s ${number} (the scenario's premise)`,
  ).to.equal(true);
  await expectFilterReturns(world, { callee: number }, [name]);
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

/** The platform's records of the finished calls to two people, in the order named. */
async function recordsOfCallsTo(world: Phase2World, one: string, other: string): Promise<[Cdr, Cdr]> {
  const first = await recordOf(world, finished(world, one));
  return [first, await recordOf(world, finished(world, other))];
}

/** Then asking for calls started after the call to {person} and before the call to {person} returns only the call to {person} */
export async function expectCallsStartedAfterTheCallTo(
  world: Phase2World,
  after: string,
  before: string,
  name: string,
) {
  // Bounds from the platform's own clock (its records), so a remote platform's clock skew cannot matter.
  const [previous, next] = await recordsOfCallsTo(world, after, before);
  await expectFilterReturns(world, { since: previous.endedAt, until: next.startedAt }, [name]);
}

/**
 * Then asking for calls from the start of the call to {person} up to the start of the call to {person}
 * returns only the call to {person}: the window's bounds are records' own start times, so the
 * contract's "since inclusive, until exclusive" is tested exactly at its edges.
 */
export async function expectCallsFromStartUpToStart(
  world: Phase2World,
  from: string,
  upTo: string,
  name: string,
) {
  const [first, next] = await recordsOfCallsTo(world, from, upTo);
  await expectFilterReturns(world, { since: first.startedAt, until: next.startedAt }, [name]);
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
  // Later event: one more call's event, sent after all the others; a duplicate of any earlier one
  // (a redelivery, a second publish) would have arrived by then.
  const caller = world.voice.finishedCalls[0]?.caller;
  if (!caller) throw new Error('No call has been made in this scenario.');
  const marker: Person = { name: 'a busy line (marker)', number: pstnNumber(), kind: 'outside line' };
  (await world.telephoneNetwork()).behaviourFor(marker.number, LINES['is busy'].behaviour);
  await makeCall(world, caller, marker, 'busy');
  const markerRecord = await recordOf(world, finished(world, marker.name));
  await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) => e.type === 'call.completed' && (e.data as { id?: string }).id === markerRecord.id,
    bound(world, `the call.completed event of the marker call (record ${markerRecord.id})`, {
      lookAt: [EVIDENCE.WEBHOOK],
    }),
  );
  const events = world.env.webhooks.events.filter((e) => e.path === webhook.path);
  expect(
    events.map((e) => (e.data as { id?: string }).id),
    `completed-call events at "${customerName}"'s webhook, up to a later call's: one per call (see "${EVIDENCE.WEBHOOK}")`,
  ).to.have.members(
    await Promise.all(world.voice.finishedCalls.map(async (call) => (await recordOf(world, call)).id)),
  );
}

/** When {person} calls {person}, whose line rings, and gives up before anyone answers */
export async function callAndGiveUp(world: Phase2World, callerName: string, calleeName: string) {
  const callee: Person = { name: calleeName, number: pstnNumber(), kind: 'outside line' };
  world.people.set(calleeName, callee);
  const line = LINES['rings until Alice gives up'];
  (await world.telephoneNetwork()).behaviourFor(callee.number, line.behaviour);
  await makeCall(world, world.person(callerName), callee, line.outcome);
}

/** Then the record of the call to {person} shows it cancelled by {person}, with no talk time */
export async function expectCancelledRecord(world: Phase2World, calleeName: string, callerName: string) {
  const call = finished(world, calleeName);
  expect(call.caller.name, 'who gave up').to.equal(callerName);
  const cdr = await recordOf(world, call);
  expect(
    cdr,
    `the record of the call ${callerName} gave up while it rang (see "${EVIDENCE.HTTP}")`,
  ).to.deep.include({
    caller: call.caller.number,
    callee: call.callee.number,
    disposition: 'cancelled',
    sipStatus: 487,
    hangupBy: 'caller',
    answeredAt: null,
    durationMs: 0,
    billableSeconds: 0,
  });
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

/** The relay's counts for one direction lie between what arrived at the listener and what the speaker sent. */
export function expectDirectionCounted(
  counted: { packets: number } | undefined,
  direction: string,
  speaker: { name: string; sent: number },
  listener: { name: string; received: number },
  uncounted: { packets: number; why: string } | undefined,
) {
  // More heard than was said: the listener got audio that was not (only) the speaker's.
  expect(
    listener.received,
    `${listener.name} received ${listener.received} packets while ${speaker.name} sent only ${speaker.sent}: ` +
      `${listener.name} heard audio that was not ${speaker.name}'s (looped back or crossed; see "${EVIDENCE.RTP}")`,
  ).to.be.at.most(speaker.sent);
  const atLeast = Math.max(0, listener.received - (uncounted?.packets ?? 0));
  expect(
    counted?.packets,
    `packets the call record counts ${direction}: at least the ${listener.received} ${listener.name} received` +
      `${uncounted ? ` less ${uncounted.packets} ${uncounted.why}` : ''}, ` +
      `at most the ${speaker.sent} ${speaker.name} sent (see the record in "${EVIDENCE.HTTP}" and "${EVIDENCE.RTP}")`,
  ).to.be.within(atLeast, speaker.sent);
}
