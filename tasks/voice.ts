import { expect } from 'chai';
import { SipPhone } from '../world/sip/sip-phone';
import { SipDatagramProbe } from '../world/probes/sip-datagram-probe';
import type { Phase2World, Person } from '../world/world';
import { pstnNumber } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { TALK_PACKETS, audioSnapshot, expectHeardEachOther } from './audio';
import { awaitCallRecord, expectDirectionCounted, talkTimeBracket } from './call-records';
import { expectGrantedAsAsked } from './registration';
import { bound, PLATFORM_LOG, boundMs } from './waiting';

/**
 * Outside lines ring this long before answering, so a call record that bills from the dial
 * instead of the answer is off by more than the tolerance below and fails.
 */
export const RING_MS = 300;

function phoneOf(person: Person): SipPhone {
  if (!person.phone) throw new Error(`${person.name} has no SIP phone in this scenario.`);
  return person.phone;
}

/** Given {person}'s phone is registered (for the lifetime it asked, within the platform's bounds) */
export async function registerPhone(world: Phase2World, name: string) {
  await phoneOf(world.person(name)).register();
  await expectGrantedAsAsked(world, name);
}

/** Given {person} is on an outside line that answers calls */
export async function giveAnOutsideLineThatAnswers(world: Phase2World, name: string) {
  const number = pstnNumber();
  (await world.telephoneNetwork()).behaviourFor(number, {
    answer: 'answer',
    media: 'tone',
    answerAfterMs: RING_MS,
  });
  world.people.set(name, { name, number, kind: 'outside line' });
}

/** Given {person} is on an outside line that is busy */
export async function giveAnOutsideLineThatIsBusy(world: Phase2World, name: string) {
  const number = pstnNumber();
  (await world.telephoneNetwork()).behaviourFor(number, { answer: 'busy' });
  world.people.set(name, { name, number, kind: 'outside line' });
}

/** Given {person} is on an outside line that is out of service: the far network answers 503. */
export async function giveAnOutsideLineThatIsOutOfService(world: Phase2World, name: string) {
  const number = pstnNumber();
  (await world.telephoneNetwork()).behaviourFor(number, { answer: 'reject', rejectCode: 503 });
  world.people.set(name, { name, number, kind: 'outside line' });
}

export async function placeCall(world: Phase2World, callerName: string, calleeName: string): Promise<void> {
  const caller = world.person(callerName);
  const callee = world.person(calleeName);
  // Only this scenario's trunk points at this scenario's telephone network.
  const network = callee.kind === 'outside line' ? await world.telephoneNetwork() : undefined;
  // This call's INVITE is one the network had not received before it was placed: an earlier call's
  // to the same number can arrive in the same millisecond as this one is placed (a quiet host).
  const earlier = new Set(network?.invites.all());
  const call = await phoneOf(caller).call(callee.number);
  world.voice.call = { caller, callee, call };
  if (network) {
    world.voice.call.invite = await network.invites.waitFor(
      (invite) => invite.number === callee.number && !earlier.has(invite),
      bound(
        world,
        `the call from ${callerName} to arrive at the outside number ${callee.number} over the trunk`,
        { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] },
      ),
    );
  }
}

export async function answerAndTalk(world: Phase2World, calleeName: string): Promise<void> {
  const current = world.currentCall();
  const waitMs = boundMs(world);
  const invite = current.invite;
  if (!invite) throw new Error(`${calleeName} is not reached over the trunk in this scenario.`);
  current.farEnd = await (
    await world.telephoneNetwork()
  ).calls.waitFor(
    (call) => call.callId === invite.callId,
    bound(world, `${calleeName}'s line to answer the call (SIP Call-ID ${invite.callId})`, {
      lookAt: [EVIDENCE.SIP],
    }),
  );
  await current.call.waitUntilAnswered(waitMs);
  // The platform must complete the answer towards the network too (ACK), or the carrier drops the call.
  await current.farEnd.waitUntilConfirmed(waitMs);
  // "A moment" = until each side has heard a second of the other: event-driven, no fixed pause.
  await Promise.all([
    current.call.rtp.waitForPackets(TALK_PACKETS, waitMs),
    current.farEnd.rtp.waitForPackets(TALK_PACKETS, waitMs),
  ]);
}

/** Given {person} has called {person} and they are talking */
export async function callAndTalk(world: Phase2World, callerName: string, calleeName: string) {
  await placeCall(world, callerName, calleeName);
  await answerAndTalk(world, calleeName);
}

/** When {person} hangs up */
export async function hangUp(world: Phase2World, name: string) {
  const inbound = world.voice.inboundCall;
  if (inbound && inbound.caller.name === name) {
    // An outside caller hangs up at the telephone network; the subscriber's phone must hear of it.
    await inbound.pstn.hangup();
    await inbound.pstn.waitUntilEnded(boundMs(world));
    if (inbound.ringing) await inbound.ringing.waitUntilEnded(boundMs(world));
    return;
  }
  const current = world.currentCall();
  if (current.callee.name === name) {
    // The called party hangs up first: the caller's phone must hear it from the platform (a later Then).
    const { farEnd } = current;
    if (!farEnd) throw new Error(`${name} never answered, so there is nothing to hang up.`);
    current.talkedUntil = audioSnapshot(
      { name: current.caller.name, rtp: current.call.rtp },
      { name, rtp: farEnd.rtp },
    );
    await farEnd.hangup();
    await farEnd.waitUntilEnded(boundMs(world));
    return;
  }
  expect(current.caller.name, 'who hangs up').to.equal(name);
  if (current.farEnd)
    current.talkedUntil = audioSnapshot(
      { name: current.caller.name, rtp: current.call.rtp },
      { name: current.callee.name, rtp: current.farEnd.rtp },
    );
  await current.call.hangup();
  await current.call.waitUntilEnded(boundMs(world));
  if (current.farEnd) await current.farEnd.waitUntilEnded(boundMs(world));
}

/** Then {person}'s phone showed {person}'s number as the caller */
export function expectCallerShownOnPhone(world: Phase2World, calleeName: string, callerName: string) {
  const { invite, caller } = world.currentCall();
  expect(invite, `the call as ${calleeName}'s line received it`).to.not.equal(undefined);
  expect(caller.name, `who made the call ${calleeName} received`).to.equal(callerName);
  expect(
    invite?.from,
    `caller number in From of the INVITE ${calleeName} received (see "${EVIDENCE.SIP}")`,
  ).to.equal(caller.number);
  expect(
    invite?.pAssertedIdentity,
    `P-Asserted-Identity of the INVITE ${calleeName} received (see "${EVIDENCE.SIP}")`,
  ).to.equal(caller.number);
}

/** Then {person} and {person} heard each other, with the call audio carried by the platform */
export function expectHeardEachOtherThroughThePlatform(world: Phase2World, aName: string, bName: string) {
  const { call, farEnd } = world.currentCall();
  if (!farEnd) throw new Error(`${bName} never answered, so nobody could hear anybody.`);
  const { talkedUntil } = world.currentCall();
  expectHeardEachOther(
    world,
    { name: aName, rtp: call.rtp },
    { name: bName, rtp: farEnd.rtp },
    undefined,
    talkedUntil,
  );
}

async function callRecord(world: Phase2World, what: string) {
  const { caller, call } = world.currentCall();
  if (!caller.customer) throw new Error(`${caller.name} is not a customer's phone.`);
  return awaitCallRecord(world, world.customer(caller.customer).api, call.callId, what);
}

/** Then the call record shows {person} calling {person} over the trunk, answered, for as long as they talked */
export async function expectAnsweredTrunkCallRecord(
  world: Phase2World,
  callerName: string,
  calleeName: string,
  /** Only after a relay crash: what the dead relay may have carried since it last saved its counts. */
  uncounted?: { packets: number; why: string },
) {
  const current = world.currentCall();
  const { caller, callee, call, farEnd } = current;
  if (!farEnd) throw new Error(`${calleeName} never answered: the call has no talk time.`);
  const cdr = await callRecord(world, `the call record of ${callerName}'s call to ${calleeName}`);
  const trunkId = world.customer(caller.customer ?? '').trunkId;
  expect(cdr, 'call record parties, trunk and outcome').to.deep.include({
    caller: caller.number,
    callee: callee.number,
    trunkId,
    direction: 'outbound',
    disposition: 'answered',
    sipStatus: 200,
  });
  // Who hung up, as the phones saw it: the one whose phone ended the call itself.
  const hungUp = call.outcome.endedBy === 'remote' ? 'callee' : 'caller';
  expect(
    cdr.hangupBy,
    `who hung up, as the call record says: the ${hungUp} (${hungUp === 'caller' ? callerName : calleeName}) sent the BYE (see "${EVIDENCE.SIP}")`,
  ).to.equal(hungUp);
  const talked = (call.endedAt ?? 0) - (call.answeredAt ?? 0);
  expect(talked, `talk time measured on ${callerName}'s phone`).to.be.greaterThan(0);
  const { atLeast, atMost } = talkTimeBracket([call, farEnd]);
  expect(
    cdr.durationMs,
    `call record duration: between ${atLeast} and ${atMost} ms, the talk time ${callerName}'s phone and ` +
      `${calleeName}'s line measured from the answer to the hang-up (see "${EVIDENCE.SIP}")`,
  ).to.be.within(atLeast, atMost);
  expect(cdr.billableSeconds, 'billable seconds: the duration rounded up to whole seconds').to.equal(
    Math.ceil(cdr.durationMs / 1000),
  );
  // Each direction its own counts, bracketed by what the two phones observed on their side.
  const until = current.talkedUntil;
  if (!until) throw new Error('Nobody hung up in this scenario, so the call has no final counts.');
  const media = cdr.media;
  expectDirectionCounted(
    media.aToB,
    `from ${callerName} to ${calleeName}`,
    { name: callerName, sent: call.rtp.stats().sent },
    { name: calleeName, received: until[calleeName]?.received ?? 0 },
    uncounted,
  );
  expectDirectionCounted(
    media.bToA,
    `from ${calleeName} to ${callerName}`,
    { name: calleeName, sent: farEnd.rtp.stats().sent },
    { name: callerName, received: until[callerName]?.received ?? 0 },
    uncounted,
  );
  const started = Date.parse(cdr.startedAt);
  const answered = Date.parse(cdr.answeredAt ?? '');
  const ended = Date.parse(cdr.endedAt);
  expect(
    started <= answered && answered <= ended,
    `timestamps in order: ${cdr.startedAt} ≤ ${cdr.answeredAt} ≤ ${cdr.endedAt}`,
  ).to.equal(true);
  // The platform saw the dial between the phone sending it and the line getting it, and the answer
  // between the line sending it and the phone getting it: its ring time lies between the two views.
  if (!current.invite) throw new Error(`The call never reached ${calleeName}'s line.`);
  const rang = {
    atLeast: (farEnd.answeredAt ?? NaN) - current.invite.at,
    atMost: (call.answeredAt ?? NaN) - call.invitedAt,
  };
  expect(
    answered - started,
    `ms from the dial to the answer in the call record, between ${rang.atLeast} (as ${calleeName}'s line saw it) and ${rang.atMost} (as ${callerName}'s phone did; see "${EVIDENCE.SIP}")`,
  ).to.be.within(rang.atLeast, rang.atMost);
}

/** Then the call record says that {person} hung up */
export async function expectRecordSaysWhoHungUp(world: Phase2World, name: string) {
  const { caller, callee } = world.currentCall();
  const side = name === caller.name ? 'caller' : name === callee.name ? 'callee' : undefined;
  if (!side) throw new Error(`${name} is not on the current call.`);
  const cdr = await callRecord(world, `the call record of ${caller.name}'s call to ${callee.name}`);
  expect(cdr.hangupBy, `who hung up, as the call record says: ${name}, the ${side}`).to.equal(side);
}

/** When {person} listens while {person} keeps talking: one direction carries a second more than the other */
export async function listenWhileTheOtherTalks(world: Phase2World, listenerName: string, talkerName: string) {
  const { caller, callee, call, farEnd } = world.currentCall();
  expect([caller.name, callee.name], 'the people on the call').to.deep.equal([listenerName, talkerName]);
  if (!farEnd) throw new Error(`${talkerName} never answered.`);
  call.rtp.stopSending();
  const waitMs = boundMs(world);
  const heard = call.rtp.stats().received;
  const said = farEnd.rtp.stats().sent;
  await Promise.all([
    farEnd.rtp.waitForSent(said + TALK_PACKETS, waitMs),
    call.rtp.waitForPackets(heard + TALK_PACKETS, waitMs),
  ]);
}

/** Then {person} hears that {person} is busy */
export async function expectHearsBusy(world: Phase2World, _callerName: string, calleeName: string) {
  const { call } = world.currentCall();
  const outcome = await call.events.waitFor(
    (event) => event.kind === 'rejected' || event.kind === 'answered',
    bound(world, `the call to ${calleeName} to be refused`, { lookAt: [EVIDENCE.SIP] }),
  );
  expect(outcome.kind, `how the call to ${calleeName} ended`).to.equal('rejected');
  expect(outcome.status, `SIP status the caller got (486 Busy Here expected)`).to.equal(486);
}

/** Then the call record shows {person} calling {person} over the trunk, busy */
export async function expectBusyTrunkCallRecord(world: Phase2World, callerName: string, calleeName: string) {
  const { caller, callee } = world.currentCall();
  const cdr = await callRecord(world, `the call record of ${callerName}'s busy call to ${calleeName}`);
  expect(cdr, 'call record of a busy call').to.deep.include({
    caller: caller.number,
    callee: callee.number,
    trunkId: world.customer(caller.customer ?? '').trunkId,
    disposition: 'busy',
    sipStatus: 486,
    answeredAt: null,
    durationMs: 0,
    billableSeconds: 0,
  });
}

/** When {person}'s phone tries to register with a wrong password */
export async function registerWithAWrongPassword(world: Phase2World, name: string) {
  const person = world.person(name);
  if (!person.sip) throw new Error(`${name} has no SIP account.`);
  const { endpoints } = world.env;
  const impostor = new SipPhone({
    actor: `${name}'s phone (wrong password)`,
    username: person.sip.username,
    password: `${person.sip.password}-wrong`,
    domain: endpoints.sip.domain,
    transport: 'udp',
    server: endpoints.sip.udp,
  });
  await impostor.start();
  world.onCleanup(() => impostor.stop());
  world.refusals.registration = await impostor.register().then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
}

/** Then the registration is refused as unauthorised */
export function expectRegistrationRefusedAsUnauthorised(world: Phase2World) {
  expect(
    world.refusals.registration,
    'registration with a wrong password must fail, but it succeeded',
  ).to.be.instanceOf(Error);
  expect(world.refusals.registration?.message, 'why the registration failed').to.match(/\b(401|403)\b/);
}

/** When a device sends the platform a malformed call request */
export async function sendAMalformedCallRequest(world: Phase2World) {
  const probe = new SipDatagramProbe('garbled device');
  const port = await probe.open();
  world.onCleanup(() => probe.close());
  world.voice.probe = probe;
  // Every header a response needs, but a CSeq that names another method: parseable enough to
  // answer, too broken to serve. (Without From/To/Call-ID/CSeq a real edge such as Kamailio
  // drops the request unanswered: no response to it could be matched.)
  const id = `garbled${Date.now()}`;
  await probe.send(
    `INVITE sip:${world.env.endpoints.sip.domain} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${id};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:garbled@127.0.0.1>;tag=${id}\r\nTo: <sip:${world.env.endpoints.sip.domain}>\r\n` +
      `Call-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    world.env.endpoints.sip.udp,
  );
}

/** Then the platform rejects the malformed request */
export async function expectMalformedRequestRejected(world: Phase2World) {
  if (!world.voice.probe) throw new Error('No garbled request was sent in this scenario.');
  const response = await world.voice.probe.responses.waitFor(
    () => true,
    bound(world, `the platform's answer to the garbled request`, { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] }),
  );
  // The code is the answer; the reason phrase is free text (RFC 3261 §21: Kamailio names the fault).
  expect(response.statusLine, 'answer to the garbled request').to.match(/^SIP\/2\.0 400 /);
}

/** Then {person}'s phone can still register */
export async function expectPhoneCanStillRegister(world: Phase2World, name: string) {
  await phoneOf(world.person(name)).register();
}
