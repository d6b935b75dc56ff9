import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { Cdr, SipAccountSettings } from '../world/http/api-client';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { expectNothingElseArrived } from './texts';
import { awaitCallRecord, talkTimeBracket } from './call-records';
import { expectHeardEachOther, talkForAMoment } from './audio';
import { bound, PLATFORM_LOG, boundMs } from './waiting';

/**
 * A subscriber's voice services that meet SMS: missed-call texts to their mobile, and call
 * forwarding they set by texting their own business number from that mobile.
 */

function mobileOf(world: Phase2World, name: string): string {
  const mobile = world.person(name).mobile;
  if (!mobile) throw new Error(`${name} has no mobile in this scenario: a Given step must give one.`);
  return mobile;
}

/** The inbox of a subscriber's own mobile, which they carry besides their desk phone. */
function subscriberMobileInbox(world: Phase2World, name: string) {
  return world.mobileNetwork.handset(mobileOf(world, name)).inbox;
}

/** Gives the subscriber a mobile on the mobile network double and files it with their account. */
export async function fileMobile(
  world: Phase2World,
  name: string,
  settings: Omit<SipAccountSettings, 'mobile'>,
): Promise<void> {
  const person = world.subscriber(name);
  const mobile = world.newHandset();
  person.mobile = mobile;
  const api = world.customer(person.customer).api;
  const account = await api.updateSipAccount(person.sip.username, { mobile, ...settings });
  expect(account, `${name}'s SIP account after filing the mobile`).to.deep.include({ mobile, ...settings });
}

/** The record of the call that came in from outside, as the subscriber's customer sees it. */
function inboundCallRecord(world: Phase2World): Promise<Cdr> {
  const { pstn, callee } = world.currentInboundCall();
  const api = world.customer(world.subscriber(callee.name).customer).api;
  return awaitCallRecord(world, api, pstn.callId, `the call to ${callee.name}`);
}

/**
 * Waits for the one text the subscriber's mobile should get, from their business number, and
 * proves by a later marker text that no second copy (or other text) was queued before it.
 */
async function theOnlyText(world: Phase2World, name: string, about: string): Promise<HandsetSms> {
  const person = world.subscriber(name);
  const inbox = subscriberMobileInbox(world, name);
  const seen = person.mobileTextsSeen ?? 0;
  const earlier = new Set(inbox.all().slice(0, seen));
  const text = await inbox.waitFor(
    (sms) => !earlier.has(sms),
    bound(world, `a text on ${name}'s mobile (${mobileOf(world, name)}) ${about}`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(text.from, `sender of the text on ${name}'s mobile: ${name}'s business number`).to.equal(
    person.number,
  );
  await expectNothingElseArrived(
    world,
    { api: world.customer(person.customer).api, number: person.number },
    mobileOf(world, name),
    [text.text],
    `the text ${about}`,
    seen,
  );
  return text;
}

/** How long after the suite placed a call the platform may stamp its start (loopback, a busy machine). */
const CALL_START_SLACK_MS = 1000;

/**
 * The time of the call as the suite observed it: the text must give the minute (UTC) and day
 * at which Bob dialled — read from when the suite placed the call, not from the platform's own
 * record, so a platform that stamps its record and its text alike with the wrong time fails.
 */
async function expectTimeOfTheCall(world: Phase2World, text: string): Promise<void> {
  const inbound = world.currentInboundCall();
  const minutes = [inbound.placedAt, inbound.placedAt + CALL_START_SLACK_MS].map((at) => {
    const iso = new Date(at).toISOString();
    return { time: iso.slice(11, 16), day: iso.slice(0, 10) };
  });
  expect(
    minutes.some((m) => text.includes(`${m.time} UTC`) && text.includes(m.day)),
    `the missed-call text "${text}" gives the time and day of the call as dialled: ${minutes
      .map((m) => `${m.time} UTC on ${m.day}`)
      .join(' or ')}`,
  ).to.equal(true);
  const cdr = await inboundCallRecord(world);
  attachJson(world, 'Call record of the missed call', cdr);
  const started = Date.parse(cdr.startedAt);
  expect(
    started - inbound.placedAt,
    `ms between the call being dialled and the start in its record (${cdr.startedAt})`,
  ).to.be.within(-CALL_START_SLACK_MS, CALL_START_SLACK_MS);
  expect(cdr, 'the record of the missed call: nobody answered, nothing billed').to.deep.include({
    disposition: 'no-answer',
    answeredAt: null,
    billableSeconds: 0,
  });
}

/** Then {person}'s mobile receives a text naming {person}'s number and the time of his/her call */
export async function expectMissedCallText(world: Phase2World, name: string, callerName: string) {
  const caller = world.person(callerName);
  const text = await theOnlyText(world, name, `about the missed call from ${callerName}`);
  expect(text.text, `the missed-call text names ${callerName}'s number`).to.include(caller.number);
  await expectTimeOfTheCall(world, text.text);
}

/** Then {person}'s mobile receives a text about a call from a withheld number */
export async function expectWithheldMissedCallText(world: Phase2World, name: string) {
  const { caller } = world.currentInboundCall();
  const text = await theOnlyText(world, name, 'about the missed call from a withheld number');
  expect(text.text, 'the missed-call text says the number was withheld').to.match(/withheld|unknown/i);
  // The network knows the real number (P-Asserted-Identity) but the caller asked for privacy.
  expect(text.text, `the missed-call text must not reveal ${caller.name}'s withheld number`).to.not.include(
    caller.number.slice(1),
  );
  await expectTimeOfTheCall(world, text.text);
  const cdr = await inboundCallRecord(world);
  expect(cdr.caller, `caller in the record of a call whose number ${caller.name} withheld`).to.not.include(
    caller.number.slice(1),
  );
}

/** Then {person}'s mobile receives no text about {person}'s call */
export async function expectNoMissedCallText(world: Phase2World, name: string, callerName: string) {
  const cdr = await inboundCallRecord(world);
  expect(cdr.disposition, `outcome of ${callerName}'s call`).to.equal('answered');
  // A missed-call text would be queued when the record is written, before anything sent later.
  const person = world.subscriber(name);
  await expectNothingElseArrived(
    world,
    { api: world.customer(person.customer).api, number: person.number },
    mobileOf(world, name),
    [],
    `${callerName}'s answered call`,
  );
}

// ---- forwarding by SMS ---------------------------------------------------------------------

export async function textBusinessNumber(world: Phase2World, name: string, text: string): Promise<void> {
  const person = world.subscriber(name);
  await world.mobileNetwork.textFrom(mobileOf(world, name), person.number, text);
}

export async function expectForwardingConfirmed(
  world: Phase2World,
  name: string,
  target: string,
): Promise<void> {
  const targetNumber = world.person(target).number;
  const text = await theOnlyText(world, name, `confirming that calls ring ${target}'s number`);
  expect(text.text, `the confirmation names ${target}'s number`).to.include(targetNumber);
  const person = world.subscriber(name);
  const account = await world.customer(person.customer).api.getSipAccount(person.sip.username);
  expect(account.forwardTo, `${name}'s forwarding as the API shows it`).to.equal(targetNumber);
}

/** Given {person} has forwarded her/his calls to {person} by text */
export async function forwardCallsByText(world: Phase2World, name: string, target: string) {
  await textBusinessNumber(world, name, `FORWARD ${world.person(target).number}`);
  await expectForwardingConfirmed(world, name, target);
  // The confirmation and its marker are accounted for: later checks look past them.
  world.person(name).mobileTextsSeen = subscriberMobileInbox(world, name).all().length;
}

/** Then {person}'s mobile receives a confirmation that forwarding is off */
export async function expectForwardingOffConfirmed(world: Phase2World, name: string) {
  const text = await theOnlyText(world, name, 'confirming that forwarding is off');
  expect(text.text, 'the confirmation says forwarding is off').to.match(/forwarding is off/i);
  const person = world.subscriber(name);
  const account = await world.customer(person.customer).api.getSipAccount(person.sip.username);
  expect(account.forwardTo, `${name}'s forwarding as the API shows it`).to.equal(null);
}

/** Then {person}'s mobile receives an error text saying {string} is not a phone number */
export async function expectNotAPhoneNumberError(world: Phase2World, name: string, argument: string) {
  const text = await theOnlyText(world, name, `saying "${argument}" is not a phone number`);
  expect(text.text, 'the error text quotes what was sent').to.include(`"${argument}"`);
  expect(text.text, 'the error text says it is not a phone number').to.match(/not a phone number/i);
}

/** Then {person}'s calls are still not forwarded */
export async function expectCallsNotForwarded(world: Phase2World, name: string) {
  const person = world.subscriber(name);
  const account = await world.customer(person.customer).api.getSipAccount(person.sip.username);
  expect(account.forwardTo, `${name}'s forwarding as the API shows it`).to.equal(null);
}

/** When {person} texts FORWARD and her/his own number to {person}'s business number */
export async function textForwardFromAStranger(world: Phase2World, strangerName: string, name: string) {
  const stranger = world.person(strangerName);
  await world.mobileNetwork.textFrom(
    stranger.number,
    world.subscriber(name).number,
    `FORWARD ${stranger.number}`,
  );
}

/**
 * Then {person} gets no answer and {person}'s calls are still not forwarded: proven after a later
 * event — the subscriber texts her own number a word it does not know, and the platform, which
 * handles texts in order, answers her with its commands; by then the stranger's text was handled.
 */
export async function expectStrangerIgnored(world: Phase2World, strangerName: string, name: string) {
  const person = world.subscriber(name);
  await textBusinessNumber(world, name, 'HELP');
  const reply = await subscriberMobileInbox(world, name).waitFor(
    (sms) => sms.from === person.number,
    bound(world, `the platform's answer to ${name}'s own text sent after ${strangerName}'s`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(reply.text, `the answer to ${name}'s own text: the commands`).to.match(/FORWARD/);
  const stranger = world.person(strangerName).number;
  expect(
    world.mobileNetwork
      .handset(stranger)
      .inbox.all()
      .map((sms) => sms.text),
    `texts ${strangerName} got back from ${name}'s number: none, a stranger is not answered (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
  await expectCallsNotForwarded(world, name);
}

/** Then the call rings {person}'s line instead of {person}'s phone */
export async function expectCallRingsForwardedLine(
  world: Phase2World,
  targetName: string,
  subscriberName: string,
) {
  const inbound = world.currentInboundCall();
  const target = world.person(targetName);
  const invite = await (
    await world.telephoneNetwork()
  ).invites.waitFor(
    (i) => i.number === target.number && i.at >= inbound.placedAt,
    bound(world, `the forwarded call to ${targetName}'s number ${target.number} at the telephone network`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  const see = `(see "${EVIDENCE.SIP}")`;
  expect(invite.from, `caller shown to ${targetName}: the original caller ${see}`).to.equal(
    inbound.caller.number,
  );
  expect(
    invite.pAssertedIdentity,
    `caller asserted to ${targetName}'s network (P-Asserted-Identity): the original caller ${see}`,
  ).to.equal(inbound.caller.number);
  expect(invite.divertedFrom, `number the call was forwarded from (Diversion) ${see}`).to.equal(
    inbound.callee.number,
  );
  const rangHere = world
    .subscriber(subscriberName)
    .phone?.incomingCalls.filter((call) => call.invitedAt >= inbound.placedAt);
  expect(rangHere, `calls that rang ${subscriberName}'s own phone`).to.have.length(0);
}

/** Then the call rings {person}'s phone */
export async function expectCallRingsPhone(world: Phase2World, name: string) {
  const inbound = world.currentInboundCall();
  const phone = world.subscriber(name).phone;
  if (!phone) throw new Error(`${name} has no phone.`);
  const ringing = await phone.incomingCalls.waitFor(
    (call) => call.invitedAt >= inbound.placedAt,
    bound(world, `${inbound.caller.name}'s call to ring ${name}'s phone`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  inbound.ringing = ringing;
  expect(ringing.remoteIdentity.user, `caller shown on ${name}'s phone`).to.equal(inbound.caller.number);
  // Only her phone rings: once the caller hears it ringing (a later event: the phone's 180 came
  // back through the platform), a call forwarded alongside would have reached the network too.
  await inbound.pstn.events.waitFor(
    (e) => e.kind === 'ringing',
    bound(world, `${inbound.caller.name} to hear ${name}'s phone ringing`, { lookAt: [EVIDENCE.SIP] }),
  );
  const network = await world.telephoneNetwork();
  const elsewhere = network.invites.filter((i) => i.at >= inbound.placedAt);
  expect(
    elsewhere.map((i) => i.number),
    `numbers the platform called over the trunk for ${inbound.caller.name}'s call to ${name} (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal([]);
}

/** When {person} answers and {person} and {person} hear each other */
export async function answerAndHearEachOther(
  world: Phase2World,
  answerer: string,
  aName: string,
  bName: string,
) {
  const inbound = world.currentInboundCall();
  const network = await world.telephoneNetwork();
  const number = world.person(answerer).number;
  const answered = await network.calls.waitFor(
    (call) => call.number === number && call.origin === 'platform',
    bound(world, `${answerer}'s line to answer the forwarded call`, { lookAt: [EVIDENCE.SIP] }),
  );
  const waitMs = boundMs(world);
  await Promise.all([answered.waitUntilConfirmed(waitMs), inbound.pstn.waitUntilAnswered(waitMs)]);
  const speakers = { [inbound.caller.name]: inbound.pstn.rtp, [answerer]: answered.rtp };
  const a = { name: aName, rtp: speakers[aName] };
  const b = { name: bName, rtp: speakers[bName] };
  if (!a.rtp || !b.rtp) throw new Error(`${aName} and ${bName} must be the caller and ${answerer}.`);
  await talkForAMoment(world, a, b);
  expectHeardEachOther(world, a, b);
  // Proven after a later event (they talked for a second): a desk phone rung alongside the
  // forwarded call would have rung by now.
  const rangTheDesk = inbound.callee.phone?.incomingCalls.filter(
    (call) => call.invitedAt >= inbound.placedAt,
  );
  expect(
    rangTheDesk?.length ?? 0,
    `calls that rang ${inbound.callee.name}'s own phone while her calls are forwarded (see "${EVIDENCE.SIP}")`,
  ).to.equal(0);
}

/**
 * Then once {person} hangs up, the call is on record as his/her call to {person}, forwarded to
 * {person}'s line: the subscriber's number stays the called party (the one the caller dialled and
 * the customer's number the call was for), the forwarding number is named, and the talk time lies
 * between what the caller and the line that answered saw.
 */
export async function expectForwardedCallRecordOnceHungUp(
  world: Phase2World,
  callerName: string,
  subscriberName: string,
  targetName: string,
) {
  const inbound = world.currentInboundCall();
  expect(inbound.caller.name, 'who hangs up: the caller of the call under test').to.equal(callerName);
  const target = world.person(targetName);
  const network = await world.telephoneNetwork();
  const forwarded = network.calls.filter((c) => c.number === target.number && c.origin === 'platform');
  expect(
    forwarded,
    `forwarded calls that reached ${targetName}'s line (see "${EVIDENCE.SIP}")`,
  ).to.have.length(1);
  const waitMs = boundMs(world);
  await inbound.pstn.hangup();
  await Promise.all([inbound.pstn.waitUntilEnded(waitMs), forwarded[0].waitUntilEnded(waitMs)]);
  const cdr = await inboundCallRecord(world);
  const about = `the record of ${callerName}'s call forwarded to ${targetName}`;
  expect(cdr, about).to.deep.include({
    direction: 'inbound',
    caller: inbound.caller.number,
    callee: world.person(subscriberName).number,
    forwardedTo: target.number,
    disposition: 'answered',
    sipStatus: 200,
    hangupBy: 'caller',
  });
  const talk = talkTimeBracket([inbound.pstn, forwarded[0]]);
  expect(
    cdr.durationMs,
    `${about}: talk time in ms, between what ${callerName} and ${targetName}'s line saw ` +
      `(${talk.atLeast}–${talk.atMost} ms)`,
  ).to.be.within(talk.atLeast, talk.atMost);
}
