import { expect } from 'chai';
import type { CustomerActor, Phase2World } from '../world/world';
import type { PstnCall, ReceivedInvite } from '../world/sip/pstn-double';
import type { PhoneCall } from '../world/sip/sip-phone';
import { localDid, shortCode } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { audioSnapshot, expectHeardEachOther, talkForAMoment } from './audio';
import { bound, PLATFORM_LOG, boundMs, untilInstant, type Evidence } from './waiting';
import { awaitCallRecord, talkTimeBracket } from './call-records';

/**
 * Call-backs by SMS keyword: a handset texts CALL ME to a customer's short code or callback
 * number; the platform calls the handset back over the trunk and connects the customer's agent.
 */

export type CallbackLine = 'short code' | 'callback number';

export function callbackLine(customer: CustomerActor, line: CallbackLine): string {
  const kind = line === 'short code' ? 'short-code' : 'callback';
  const found = customer.numbers.find((n) => n.kind === kind);
  if (!found) throw new Error(`"${customer.name}" has no ${line} in this scenario.`);
  return found.number;
}

/** Given {person} takes the call-backs asked for on {string}'s short code and callback number */
export async function setUpCallBackLines(world: Phase2World, agentName: string, customerName: string) {
  const customer = world.customer(customerName);
  const agent = world.person(agentName).sip?.username;
  if (!agent) throw new Error(`${agentName} has no SIP account.`);
  const lines: Array<{ number: string; kind: 'short-code' | 'local'; label: string }> = [
    { number: shortCode(), kind: 'short-code', label: 'short-code' },
    { number: localDid(), kind: 'local', label: 'callback' },
  ];
  for (const line of lines) {
    await customer.api.addNumber({ number: line.number, kind: line.kind });
    const updated = await customer.api.updateNumber(line.number, { voiceService: 'callback', agent });
    expect(updated, `${line.number} as a callback line`).to.deep.include({
      voiceService: 'callback',
      callbackAgent: agent,
    });
    customer.numbers.push({ number: line.number, kind: line.label });
  }
}

/** Given {person} has a mobile phone that answers calls */
export async function giveAMobileThatAnswersCalls(world: Phase2World, name: string) {
  const number = world.newHandset();
  // The same phone takes calls: over the trunk, at the scenario's telephone network.
  (await world.telephoneNetwork()).behaviourFor(number, {
    answer: 'answer',
    media: 'tone',
    answerAfterMs: 200,
  });
  world.people.set(name, { name, number, kind: 'mobile' });
}

/** When {person} texts {string} to {string}'s {callbackLine} */
export async function textKeywordToCallBackLine(
  world: Phase2World,
  name: string,
  text: string,
  customerName: string,
  line: CallbackLine,
) {
  world.voice.callback = { textedAt: Date.now(), texter: world.person(name).number };
  await world.mobileNetwork.textFrom(
    world.person(name).number,
    callbackLine(world.customer(customerName), line),
    text,
  );
  world.voice.callback.textedLine = { customer: customerName, line };
}

/**
 * The number a call back shows, a stated rule: the callback number itself when that was texted;
 * for a short code (which cannot be shown as a caller ID) the agent's own number.
 */
function callerIdOfTheCallBack(world: Phase2World, customerName: string): string {
  const texted = world.voice.callback?.textedLine;
  if (!texted) throw new Error('Nobody has texted a callback line in this scenario.');
  if (texted.line === 'callback number') return callbackLine(world.customer(customerName), 'callback number');
  const agent = [...world.people.values()].find((p) => p.customer === customerName && p.phone);
  if (!agent) throw new Error(`"${customerName}" has no agent with a phone in this scenario.`);
  return agent.number;
}

function expectedCallerId(world: Phase2World): string {
  return world.voice.callback?.textedLine?.line === 'callback number'
    ? `the callback number that was texted`
    : `the agent's own number, since a short code cannot be shown`;
}

/** Then {person}'s mobile rings with a call from {string} */
export async function expectCallBackOnTheMobile(world: Phase2World, name: string, customerName: string) {
  const number = world.person(name).number;
  const since = world.voice.callback?.textedAt ?? 0;
  const invite: ReceivedInvite = await (
    await world.telephoneNetwork()
  ).invites.waitFor(
    (i) => i.number === number && i.at >= since,
    bound(world, `the call back to ${name}'s mobile ${number} over "${customerName}"'s trunk`, {
      lookAt: [EVIDENCE.SIP, EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(
    invite.from,
    `the caller shown to ${name} (see "${EVIDENCE.SIP}"): ${expectedCallerId(world)}`,
  ).to.equal(callerIdOfTheCallBack(world, customerName));
  expect(invite.pAssertedIdentity, 'P-Asserted-Identity of the call back').to.equal(invite.from);
  world.voice.callback = { ...world.voice.callback, invite };
}

/** How long the agent's phone rings before the agent picks up. */
const AGENT_RINGS_MS = 300;

/** Then {person}'s phone rings with {person}'s call back and {person} answers */
export async function answerTheCallBackAtTheAgentsPhone(
  world: Phase2World,
  agentName: string,
  callerName: string,
  answerer: string,
) {
  expect(answerer, 'who answers').to.equal(agentName);
  const callback = world.currentCallback();
  const waitMs = boundMs(world);
  const network = await world.telephoneNetwork();
  const handset: PstnCall = await network.calls.waitFor(
    (c) => c.callId === callback.invite.callId,
    bound(world, `${callerName}'s mobile to answer the call back`, { lookAt: [EVIDENCE.SIP] }),
  );
  await handset.waitUntilConfirmed(waitMs);
  const phone = world.person(agentName).phone;
  if (!phone) throw new Error(`${agentName} has no phone.`);
  const ringing: PhoneCall = await phone.incomingCalls.waitFor(
    (c) => c.invitedAt >= (world.voice.callback?.textedAt ?? 0),
    bound(world, `the call back of ${callerName} to ring ${agentName}'s phone`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  expect(ringing.remoteIdentity.user, `caller shown on ${agentName}'s phone`).to.equal(
    world.person(callerName).number,
  );
  // An agent picks up after the phone has rung a moment, as the outside lines do: the record's
  // ring time then differs from the mobile's answer by far more than any transit jitter.
  await untilInstant(ringing.invitedAt + AGENT_RINGS_MS);
  await ringing.answer();
  await ringing.waitUntilAnswered(waitMs);
  callback.handset = handset;
  callback.agent = ringing;
}

/** Then {person} and {person} hear each other */
export async function expectCallBackPartiesHearEachOther(world: Phase2World, aName: string, bName: string) {
  const callback = world.currentCallback();
  if (!callback.handset || !callback.agent) throw new Error('The call back was not answered at both ends.');
  const handset = { name: aName, rtp: callback.handset.rtp };
  const agent = { name: bName, rtp: callback.agent.rtp };
  const waitMs = boundMs(world);
  // Counted from the first packet each way: before the agent answered there was nobody to hear.
  await Promise.all([handset.rtp.waitForPackets(1, waitMs), agent.rtp.waitForPackets(1, waitMs)]);
  const since = audioSnapshot(handset, agent);
  await talkForAMoment(world, handset, agent);
  expectHeardEachOther(world, handset, agent, since);
  // Once they have talked (a later event), the text has had every chance to be handled twice.
  const network = await world.telephoneNetwork();
  const toTheMobile = network.invites.filter(
    (i) => i.number === callback.invite.number && i.at >= (callback.textedAt ?? 0),
  );
  expect(toTheMobile.length, `calls back to ${aName}'s mobile for one text (see "${EVIDENCE.SIP}")`).to.equal(
    1,
  );
}

/** Then {person}'s mobile receives a reply explaining to text CALL ME */
export async function expectReplyExplainingTheKeyword(world: Phase2World, name: string) {
  const texted = world.voice.callback?.textedLine;
  if (!texted) throw new Error(`${name} has texted no callback line in this scenario.`);
  const { customer, line } = texted;
  const sms = await world.mobileNetwork
    .handset(world.person(name).number)
    .inbox.waitFor(
      () => true,
      bound(world, `the reply on ${name}'s mobile`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG] }),
    );
  expect(sms.from, `sender of the reply: the ${line} texted`).to.equal(
    callbackLine(world.customer(customer), line as CallbackLine),
  );
  expect(sms.text, 'the reply names the keyword').to.include('CALL ME');
  world.voice.callback = { ...world.voice.callback, repliedAt: sms.receivedAt };
}

/** Then nobody is called back */
export async function expectNobodyCalledBack(world: Phase2World) {
  const callback = world.voice.callback;
  const texted = callback?.textedLine;
  if (!callback?.textedAt || !texted) throw new Error('Nobody has texted a callback line in this scenario.');
  const network = await world.telephoneNetwork();
  // A later event instead of a look at one instant: a second mobile (busy, so no agent is rung)
  // texts CALL ME to the same line after the reply. The platform handles texts to a line in
  // order, so once that call back has been tried and its outcome texted back to the second
  // mobile, any call back for the first text would have reached the network.
  const control = world.newHandset();
  network.behaviourFor(control, { answer: 'busy' });
  const line = callbackLine(world.customer(texted.customer), texted.line as CallbackLine);
  await world.mobileNetwork.textFrom(control, line, 'CALL ME');
  const lookAt: Evidence[] = [EVIDENCE.SIP, EVIDENCE.SMPP, PLATFORM_LOG];
  await network.invites.waitFor(
    (i) => i.number === control,
    bound(world, `the call back of a second mobile (${control}) that texted CALL ME after the reply`, {
      lookAt,
    }),
  );
  await world.mobileNetwork.handset(control).inbox.waitFor(
    (sms) => sms.from === line,
    bound(world, `the reply to the second mobile (${control}) once its call back found it busy`, {
      lookAt,
    }),
  );
  const texter = callback.texter;
  if (!texter) throw new Error('Nobody has texted a callback line in this scenario.');
  const placed = network.invites.filter((i) => i.at >= (callback.textedAt ?? 0) && i.number === texter);
  expect(
    placed.map((i) => `${i.number} at ${new Date(i.at).toISOString()}`),
    `calls the platform placed because of the text that was not CALL ME (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal([]);
  // A call back deferred past that (a timer, a queue of its own) breaks the order above: watch
  // the mobile for as long as the platform lets any call of its own ring (its no-answer time),
  // counted from when the reply reached it.
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  const repliedAt = callback.repliedAt ?? Date.now();
  await network.invites.expectNone((i) => i.number === texter, {
    duringMs: Math.max(0, repliedAt + noAnswerTimeoutMs - Date.now()),
    unexpected: `the platform called back the mobile that texted something other than CALL ME`,
    lookAt: `the "${EVIDENCE.SIP}" attachment`,
  });
}

/** Then {person} is told by text that {string} is calling her/him back, and from which number */
export async function expectToldOfTheCallBack(world: Phase2World, name: string, customerName: string) {
  const texted = world.voice.callback?.textedLine;
  if (!texted) throw new Error(`${name} has texted no callback line in this scenario.`);
  const line = callbackLine(world.customer(customerName), texted.line as CallbackLine);
  const shown = callerIdOfTheCallBack(world, customerName);
  const sms = await world.mobileNetwork.handset(world.person(name).number).inbox.waitFor(
    (s) => s.from === line,
    bound(world, `the text telling ${name} she is being called back, from the ${texted.line} ${line}`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(sms.text, `the text to ${name}: she is being called back`).to.match(/calling you back/i);
  expect(
    sms.text,
    `the text to ${name} names the number the call back shows: ${expectedCallerId(world)}`,
  ).to.include(shown);
}

/** Then once {person} hangs up, the call back is on record as {string}'s answered call to him/her */
export async function expectCallBackRecordOnceHungUp(world: Phase2World, name: string, customerName: string) {
  const callback = world.currentCallback();
  const { handset, agent } = callback;
  if (!handset || !agent) throw new Error('The call back was not answered at both ends.');
  const waitMs = boundMs(world);
  await handset.hangup();
  await Promise.all([handset.waitUntilEnded(waitMs), agent.waitUntilEnded(waitMs)]);
  const customer = world.customer(customerName);
  const cdr = await awaitCallRecord(world, customer.api, callback.invite.callId, `the call back to ${name}`);
  const about = `the record of "${customerName}"'s call back to ${name}`;
  expect(cdr, about).to.deep.include({
    direction: 'outbound',
    caller: callerIdOfTheCallBack(world, customerName),
    callee: world.person(name).number,
    trunkId: customer.trunkId,
    disposition: 'answered',
    sipStatus: 200,
    hangupBy: 'callee',
  });
  // The call back is connected once the agent answered, not when the mobile did (Erin answers
  // first, then the agent is rung): the record's ring time is at least from the call reaching
  // Erin's mobile to the agent's answer, and at most from Erin's text to the ACK of that answer
  // reaching the agent's phone (the platform had the answer by then; no fixed transit allowance).
  if (agent.confirmedAt === undefined)
    throw new Error(
      `The platform never ACKed the agent's answer to the call back to ${name} (see "${EVIDENCE.SIP}").`,
    );
  const rang = Date.parse(cdr.answeredAt ?? '') - Date.parse(cdr.startedAt);
  const ring = {
    atLeast: (agent.answeredAt ?? NaN) - callback.invite.at,
    atMost: agent.confirmedAt - (callback.textedAt ?? NaN),
  };
  expect(
    rang,
    `${about}: ms from its start to its answer, which is the agent's answer after ${name}'s mobile ` +
      `rang and answered (${ring.atLeast}–${ring.atMost} ms as the ends saw it)`,
  ).to.be.within(ring.atLeast, ring.atMost);
  // Talk time runs from the agent's answer (Erin had answered before the agent was rung) to the
  // first hang-up, bracketed by what Erin's mobile and the agent's phone saw of the hang-up; the
  // platform took the agent's answer between the agent sending it and the agent getting its ACK.
  const talk = talkTimeBracket([
    { answeredAt: agent.answeredAt, endedAt: handset.endedAt },
    { answeredAt: agent.confirmedAt, endedAt: agent.endedAt },
  ]);
  expect(
    cdr.durationMs,
    `${about}: talk time in ms, from the agent's answer (or its ACK) to the hang-up as the two ends ` +
      `saw them (${talk.atLeast}–${talk.atMost} ms)`,
  ).to.be.within(talk.atLeast, talk.atMost);
}
