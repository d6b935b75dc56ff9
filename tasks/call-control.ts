import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { LiveCall } from '../world/http/api-client';
import type { PstnCall, ReceivedInvite } from '../world/sip/pstn-double';
import { EVIDENCE } from '../reporting/evidence';
import {
  audioSnapshot,
  expectHeardEachOther,
  expectSilenceBothWays,
  talkForAMoment,
  type Speaker,
} from './audio';
import { bound, PLATFORM_LOG, boundMs } from './waiting';
import { awaitCallRecord, expectDirectionCounted, talkTimeBracket } from './call-records';
import { pstnNumber } from '../world/factories';

/**
 * Live call control through the API: a supervisor's application lists the calls in progress,
 * holds and resumes them, transfers them and hangs them up.
 */

export function speakers(world: Phase2World, aName: string, bName: string): [Speaker, Speaker] {
  const { caller, callee, call, farEnd } = world.currentCall();
  expect([caller.name, callee.name], 'the people on the current call').to.deep.equal([aName, bName]);
  if (!farEnd) throw new Error(`${callee.name} never answered: there is no conversation to control.`);
  return [
    { name: caller.name, rtp: call.rtp },
    { name: callee.name, rtp: farEnd.rtp },
  ];
}

function apiOf(world: Phase2World, customerName?: string) {
  const name = customerName ?? world.currentCall().caller.customer;
  if (!name) throw new Error('The current call is not a customer’s call.');
  return world.customer(name).api;
}

/** The current call as the API lists it, found by the SIP Call-ID the caller's phone used. */
export async function liveCall(world: Phase2World, customerName: string): Promise<LiveCall> {
  const current = world.currentCall();
  const { items } = await apiOf(world, customerName).listLiveCalls();
  const found = items.find((c) => c.sipCallId === current.call.callId);
  if (!found)
    throw new Error(
      `"${customerName}"'s live calls do not include the call with SIP Call-ID ${current.call.callId}; listed: ${JSON.stringify(items)} (see "${EVIDENCE.HTTP}")`,
    );
  current.liveCallId = found.id;
  return found;
}

export function liveCallId(world: Phase2World): string {
  const id = world.currentCall().liveCallId;
  if (!id) throw new Error('The call has not been looked up among the live calls yet.');
  return id;
}

/** Then {string} sees the call between {person} and {person} among its live calls, answered */
export async function expectTheCallAmongLiveCalls(
  world: Phase2World,
  customerName: string,
  callerName: string,
  calleeName: string,
) {
  const { caller, callee } = world.currentCall();
  expect([caller.name, callee.name]).to.deep.equal([callerName, calleeName]);
  const call = await liveCall(world, customerName);
  expect(call, `the live call as "${customerName}" sees it`).to.deep.include({
    direction: 'outbound',
    caller: caller.number,
    callee: callee.number,
    trunkId: world.customer(customerName).trunkId,
    state: 'answered',
    held: false,
  });
  expect(
    await apiOf(world, customerName).getLiveCall(call.id),
    'the same call read on its own',
  ).to.deep.equal(call);
}

/** When {string} puts the call on hold through the API */
export async function holdThroughTheApi(world: Phase2World, customerName: string) {
  const { id } = await liveCall(world, customerName);
  const held = await apiOf(world, customerName).holdLiveCall(id);
  expect(held.held, 'the call as the API reports it after the hold').to.equal(true);
}

/** When {string} resumes the call through the API */
export async function resumeThroughTheApi(world: Phase2World, customerName: string) {
  const resumed = await apiOf(world, customerName).resumeLiveCall(liveCallId(world));
  expect(resumed.held, 'the call as the API reports it after resuming').to.equal(false);
}

/** Then {person} and {person} no longer hear each other */
export async function expectTheyNoLongerHearEachOther(world: Phase2World, aName: string, bName: string) {
  const [a, b] = speakers(world, aName, bName);
  await expectSilenceBothWays(world, a, b);
}

/** Then {person} and {person} hear each other again */
export async function expectTheyHearEachOtherAgain(world: Phase2World, aName: string, bName: string) {
  const [a, b] = speakers(world, aName, bName);
  const since = audioSnapshot(a, b);
  await talkForAMoment(world, a, b);
  expectHeardEachOther(world, a, b, since);
}

/** When {string} transfers the call to {person} through the API */
export async function transferThroughTheApi(world: Phase2World, customerName: string, targetName: string) {
  const { id } = await liveCall(world, customerName);
  const target = world.person(targetName);
  world.currentCall().transferRequestedAt = Date.now();
  const accepted = await apiOf(world, customerName).transferLiveCall(id, target.number);
  expect(accepted, 'the transfer as the API accepted it').to.deep.equal({ id, to: target.number });
}

/** Then {person}'s phone is released */
export async function expectPhoneReleased(world: Phase2World, name: string) {
  const { caller, call } = world.currentCall();
  expect(caller.name, 'whose phone').to.equal(name);
  const ended = await call.waitUntilEnded(boundMs(world));
  expect(ended.by, `who ended the call on ${name}'s phone: the platform`).to.equal('remote');
}

/** When {person}'s line answers and {person} and {person} hear each other */
export async function answerTheTransferAndTalk(
  world: Phase2World,
  targetName: string,
  keptName: string,
  targetAgain: string,
) {
  expect(targetAgain, 'who talks after the transfer').to.equal(targetName);
  const { callee, farEnd } = world.currentCall();
  expect(callee.name, 'the party kept on the call').to.equal(keptName);
  if (!farEnd) throw new Error(`${keptName} was never on the call.`);
  const target = world.person(targetName);
  const network = await world.telephoneNetwork();
  const since = world.currentCall().transferRequestedAt ?? 0;
  const waitMs = boundMs(world);
  const invite: ReceivedInvite = await network.invites.waitFor(
    (i) => i.number === target.number && i.at >= since,
    bound(world, `the transferred call to arrive at ${targetName}'s number ${target.number}`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  expect(invite.from, `caller shown to ${targetName}: ${keptName}, whose call it now is`).to.equal(
    callee.number,
  );
  const answered: PstnCall = await network.calls.waitFor(
    (c) => c.callId === invite.callId,
    bound(world, `${targetName}'s line to answer the transferred call`, { lookAt: [EVIDENCE.SIP] }),
  );
  await answered.waitUntilConfirmed(waitMs);
  const kept = { name: keptName, rtp: farEnd.rtp };
  const joined = { name: targetName, rtp: answered.rtp };
  // Counted from the platform's ACK to the target: from then on every packet has a way through.
  const from = audioSnapshot(kept, joined);
  await talkForAMoment(world, kept, joined);
  expectHeardEachOther(world, kept, joined, from);
  expect(farEnd.isEnded, `${keptName}'s call stayed up through the transfer`).to.equal(false);
  world.currentCall().transferredTo = answered;
}

/** The record of the current call, once the platform wrote it. */
function callRecordOfCurrentCall(world: Phase2World) {
  return awaitCallRecord(world, apiOf(world), world.currentCall().call.callId, 'the controlled call');
}

/** Then once {person} hangs up, the call record shows the call transferred to {person} */
export async function expectTransferInTheCallRecordOnceHungUp(
  world: Phase2World,
  keptName: string,
  targetName: string,
) {
  const { farEnd, transferredTo, call, caller } = world.currentCall();
  if (!farEnd) throw new Error(`${keptName} was never on the call.`);
  if (!transferredTo) throw new Error(`${targetName} never answered the transferred call.`);
  await farEnd.hangup();
  await Promise.all([farEnd.waitUntilEnded(boundMs(world)), transferredTo.waitUntilEnded(boundMs(world))]);
  const cdr = await callRecordOfCurrentCall(world);
  expect(cdr, 'the record of the transferred call').to.deep.include({
    disposition: 'answered',
    transferredTo: world.person(targetName).number,
  });
  // One call from start to end: its audio counts span both parties that held the caller's side.
  const callerSide = `${caller.name} then ${targetName}`;
  const [before, after, kept] = [call.rtp.stats(), transferredTo.rtp.stats(), farEnd.rtp.stats()];
  expectDirectionCounted(
    cdr.media.aToB,
    `from ${callerSide} to ${keptName}`,
    { name: callerSide, sent: before.sent + after.sent },
    { name: keptName, received: kept.received },
    undefined,
  );
  expectDirectionCounted(
    cdr.media.bToA,
    `from ${keptName} to ${callerSide}`,
    { name: keptName, sent: kept.sent },
    { name: callerSide, received: before.received + after.received },
    undefined,
  );
}

/** When {string} hangs up the call through the API */
export async function hangUpThroughTheApi(world: Phase2World, customerName: string) {
  const { id } = await liveCall(world, customerName);
  world.currentCall().hangupRequestedAt = Date.now();
  await apiOf(world, customerName).hangupLiveCall(id);
}

/** Then both {person} and {person} are hung up by the platform */
export async function expectBothHungUpByThePlatform(world: Phase2World, aName: string, bName: string) {
  const { call, farEnd } = world.currentCall();
  if (!farEnd) throw new Error(`${bName} was never on the call.`);
  const waitMs = boundMs(world);
  const [phoneEnd, lineEnd] = await Promise.all([call.waitUntilEnded(waitMs), farEnd.waitUntilEnded(waitMs)]);
  expect(phoneEnd.by, `who ended ${aName}'s call: the platform`).to.equal('remote');
  expect(lineEnd.by, `who ended ${bName}'s call: the platform`).to.equal('remote');
}

/** Then the call record shows the call ended by the platform */
export async function expectCallRecordEndedBy(world: Phase2World) {
  const cdr = await callRecordOfCurrentCall(world);
  expect(cdr, 'the record of a call hung up through the API').to.deep.include({
    disposition: 'answered',
    hangupBy: 'platform',
  });
  // The platform ended it between the API request and the BYEs both ends received; it stamped the
  // answer between the callee sending and the caller receiving the 200 OK.
  const { call, farEnd, hangupRequestedAt } = world.currentCall();
  if (!farEnd || hangupRequestedAt === undefined)
    throw new Error('The call was not hung up through the API.');
  const { atMost } = talkTimeBracket([call, farEnd]);
  const atLeast = hangupRequestedAt - Math.max(call.answeredAt ?? NaN, farEnd.answeredAt ?? NaN);
  expect(
    cdr.durationMs,
    `talk time in the record: between ${atLeast} ms (answer to the API request) and ${atMost} ms (answer to the BYEs both ends got; see "${EVIDENCE.SIP}")`,
  ).to.be.within(atLeast, atMost);
}

/** Then the call is no longer among {string}'s live calls */
export async function expectTheCallNoLongerLive(world: Phase2World, customerName: string) {
  const id = liveCallId(world);
  const { items } = await apiOf(world, customerName).listLiveCalls();
  expect(
    items.map((c) => c.id),
    'live calls',
  ).to.not.include(id);
  const response = await apiOf(world, customerName).raw({
    method: 'GET',
    path: `/v1/calls/${id}`,
    refusal: { what: `reading the finished call ${id} as a live call`, by: 'the platform' },
  });
  expect(response.status, `reading the finished call ${id} as a live call`).to.equal(404);
}

/** Then {string} cannot hold, resume or transfer that call any more: it is not found */
export async function expectHoldOfTheEndedCallRefused(world: Phase2World, customerName: string) {
  const id = liveCallId(world);
  for (const [action, json] of [
    ['hold', undefined],
    ['resume', undefined],
    ['transfer', { to: pstnNumber() }],
  ] as const) {
    const response = await apiOf(world, customerName).raw({
      method: 'POST',
      path: `/v1/calls/${id}/${action}`,
      json,
      refusal: { what: `${action} of a finished call`, by: 'the platform' },
    });
    expect(response.status, `${action} of the finished call ${id} (see "${EVIDENCE.HTTP}")`).to.equal(404);
  }
}

/** Then {string} cannot hang up a call that never existed: it is not found */
export async function expectHangingUpAnUnknownCallRefused(world: Phase2World, customerName: string) {
  const response = await apiOf(world, customerName).raw({
    method: 'DELETE',
    path: '/v1/calls/call_that_never_existed',
    refusal: { what: 'hanging up a call that never existed', by: 'the platform' },
  });
  expect(response.status, 'hanging up an unknown call').to.equal(404);
}

/** Then {string} can neither see nor control {string}'s call */
export async function expectCannotSeeNorControlTheCall(world: Phase2World, outsider: string, owner: string) {
  const { id } = await liveCall(world, owner);
  const api = apiOf(world, outsider);
  const { items } = await api.listLiveCalls();
  expect(
    items.map((c) => c.id),
    `live calls "${outsider}" sees`,
  ).to.not.include(id);
  // A line that would answer, so a transfer the platform wrongly carried out would show at the network.
  const target = pstnNumber();
  const network = await world.telephoneNetwork();
  network.behaviourFor(target, { answer: 'answer', media: 'tone' });
  const triedAt = Date.now();
  for (const [method, path, json] of [
    ['GET', `/v1/calls/${id}`, undefined],
    ['POST', `/v1/calls/${id}/hold`, undefined],
    ['POST', `/v1/calls/${id}/resume`, undefined],
    ['POST', `/v1/calls/${id}/transfer`, { to: target }],
    ['DELETE', `/v1/calls/${id}`, undefined],
  ] as const) {
    const response = await api.raw({
      method,
      path,
      json,
      refusal: { what: `${method} ${path} by "${outsider}", who does not own the call,`, by: 'the platform' },
    });
    expect(response.status, `${method} ${path} by "${outsider}" (see "${EVIDENCE.HTTP}")`).to.equal(404);
  }
  const still = await apiOf(world, owner).getLiveCall(id);
  expect(still, `"${owner}"'s call after "${outsider}" tried to control it`).to.deep.include({
    state: 'answered',
    held: false,
  });
  // Later event: the two people keep talking for another second, by when a transfer started
  // behind the refusal would have reached the network; none may have.
  const [a, b] = speakers(world, world.currentCall().caller.name, world.currentCall().callee.name);
  const since = audioSnapshot(a, b);
  await talkForAMoment(world, a, b);
  expectHeardEachOther(world, a, b, since);
  expect(
    network.invites.filter((i) => i.number === target && i.at >= triedAt).map((i) => i.callId),
    `calls the network got to ${target}, where "${outsider}" tried to transfer "${owner}"'s call (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal([]);
}
