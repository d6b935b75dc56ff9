import { expect } from 'chai';
import { SipPhone } from '../world/sip/sip-phone';
import type { Phase2World } from '../world/world';
import { traffic } from '../world/traffic-log';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { attempts } from '../reporting/attempts';
import { TALK_PACKETS, audioSnapshot, expectHeardEachOther, talkForAMoment } from './audio';
import { speakers } from './call-control';
import { FAILOVER_TARGET_MS, crashActiveNode, firstSuccessAfterCrash, latestFault } from './failover';
import { expectAnsweredTrunkCallRecord, placeCall } from './voice';
import { bound, PLATFORM_LOG } from './waiting';

/**
 * A phone's own retransmission interval (RFC 3261 Timer E starts at 500 ms). sip.js does not
 * retransmit (FACTS §3), so each attempt is a fresh phone that gives up after this long.
 */
const ATTEMPT_MS = 500;
/** A new call's attempt: the outside line answers after 300 ms; twice that and a margin. */
const CALL_ATTEMPT_MS = 2_000;

/** A fresh phone of the person's account on the same address, as a phone that re-sends would be. */
async function freshPhone(world: Phase2World, name: string, attempt: number): Promise<SipPhone> {
  const person = world.subscriber(name);
  const { sip } = world.env.endpoints;
  const phone = new SipPhone({
    actor: `${name}'s phone (try ${attempt} after the crash)`,
    username: person.sip.username,
    password: person.sip.password,
    domain: sip.domain,
    transport: 'udp',
    server: sip.udp,
    toneHz: world.voiceOf(person),
    requestTimeoutMs: ATTEMPT_MS,
  });
  await phone.start();
  return phone;
}

/** Stops a phone whose attempt failed: its own troubles are part of that failure, already counted. */
function discard(phone: SipPhone): void {
  phone.stop().catch(() => undefined);
}

/** Then {person}'s phone registers again through the same address within 30 seconds */
export async function expectRegistersAgainWithinTarget(world: Phase2World, name: string) {
  const { value: phone } = await firstSuccessAfterCrash(
    world,
    'sip',
    `${name}'s phone registered through the same address`,
    async (n) => {
      const phone = await freshPhone(world, name, n);
      try {
        await phone.register();
        return phone;
      } catch (error) {
        discard(phone);
        throw error;
      }
    },
  );
  world.onCleanup(() => phone.stop());
  world.failover.phoneAfter = phone;
}

/** Then {person} can call {person} again through the same address within 30 seconds */
export async function expectCallsAgainWithinTarget(
  world: Phase2World,
  callerName: string,
  calleeName: string,
) {
  const callee = world.person(calleeName);
  await firstSuccessAfterCrash(
    world,
    'sip',
    `a new call from ${callerName} answered by ${calleeName}`,
    async (n) => {
      const phone = await freshPhone(world, callerName, n);
      let callId: string | undefined;
      try {
        const call = await phone.call(callee.number);
        callId = call.callId;
        const outcome = await call.events.waitFor((e) => e.kind === 'answered' || e.kind === 'rejected', {
          awaited: 'an answer to the call',
          timeoutMs: CALL_ATTEMPT_MS,
          lookAt: EVIDENCE.SIP,
        });
        if (outcome.kind !== 'answered')
          throw new Error(`the call was refused with ${outcome.status} ${outcome.reason ?? ''}`);
        await call.hangup();
        await phone.stop();
      } catch (error) {
        // A probe into the outage is the failover time's measurement, not a customer's call lost.
        if (callId)
          attempts.settle(
            'call',
            callId,
            `call from ${callerName} to ${calleeName}`,
            'refused-as-expected',
            'placed while the SIP service was failing over (counted in its failover time)',
          );
        discard(phone);
        throw error;
      }
    },
  );
}

/** When {person} calls {person} and the active SIP node crashes before {person} answers */
export async function callAndCrashWhileRinging(
  world: Phase2World,
  callerName: string,
  calleeName: string,
  answerer: string,
) {
  expect(answerer, 'who is about to answer: the person called').to.equal(calleeName);
  // placeCall returns once the INVITE reached the outside line, which answers 300 ms later.
  await placeCall(world, callerName, calleeName);
  await crashActiveNode(world, 'sip');
}

/** Then {person}'s call is answered or refused with a clear answer within 30 seconds */
export async function expectAnsweredOrRefusedClearly(world: Phase2World, name: string) {
  const { call } = world.currentCall();
  const fault = latestFault(world, 'sip');
  const outcome = await call.events.waitFor(
    (e) => e.kind === 'answered' || e.kind === 'rejected',
    bound(world, `an answer or a refusal of ${name}'s call, caught in the crash of SIP node ${fault.node}`, {
      lookAt: [EVIDENCE.SIP, EVIDENCE.FAULT, PLATFORM_LOG],
      within: Math.max(0, fault.requestedAt + FAILOVER_TARGET_MS - Date.now()),
    }),
  );
  attachJson(world, 'How the call caught in the crash ended', outcome);
  if (outcome.kind === 'answered') {
    // Completed: then it is a call like any other, and it must end cleanly too.
    await call.hangup();
    return;
  }
  expect(
    outcome.status,
    `SIP status refusing ${name}'s call: a final failure (4xx-6xx) the phone can show (see "${EVIDENCE.SIP}")`,
  ).to.be.within(400, 699);
}

/** Then {person} and {person} still hear each other: nothing was lost across the crash */
export async function expectStillHearEachOther(world: Phase2World, aName: string, bName: string) {
  const parties = speakers(world, aName, bName);
  await talkForAMoment(world, ...parties);
  expectHeardEachOther(world, ...parties, world.failover.audioAtFault);
}

/** Then {person}'s line is told that the call has ended */
export function expectLineToldCallEnded(world: Phase2World, name: string) {
  const { farEnd } = world.currentCall();
  if (!farEnd) throw new Error(`${name} never answered.`);
  expect(
    farEnd.endedBy,
    `who ended the call at ${name}'s line: the platform, passing on the hang-up through the standby SIP node (see "${EVIDENCE.SIP}")`,
  ).to.equal('remote');
}

/**
 * Then {person} and {person} hear each other again through the same relay address, without the
 * phones being asked to change anything. Each side's longest silence is kept for the next step.
 */
export async function expectAudioResumesUnasked(world: Phase2World, aName: string, bName: string) {
  const parties = speakers(world, aName, bName);
  const fault = latestFault(world, 'media');
  const atFault = world.failover.audioAtFault;
  if (!atFault) throw new Error('No call was going on when the media relay crashed.');
  // Audio resumed = each side received another second of the other after the crash.
  await Promise.all(
    parties.map((p) =>
      p.rtp.waitForPackets(
        (atFault[p.name]?.received ?? 0) + TALK_PACKETS,
        Math.max(1, fault.requestedAt + FAILOVER_TARGET_MS - Date.now()),
      ),
    ),
  );
  const gaps = Object.fromEntries(parties.map((p) => [p.name, p.rtp.stats().maxGapMs]));
  world.failover.audioGaps = gaps;
  for (const [listener, speaker] of [
    [aName, bName],
    [bName, aName],
  ])
    recordMetric(world, {
      kind: 'audio-gap',
      name: `media relay crash: silence ${listener} heard`,
      direction: `${speaker} → ${listener}`,
      ms: gaps[listener] ?? 0,
    });
  recordMetric(world, {
    kind: 'failover',
    role: 'media',
    name: 'media relay crash → audio flowing both ways again',
    ms: Math.max(...Object.values(gaps)),
  });
  const asked = traffic
    .since(world.failover.trafficAtFault ?? 0, 'SIP')
    .filter((e) => /^(INVITE|UPDATE)\b/.test(e.summary));
  expect(
    asked.map((e) => `${e.from} → ${e.to}: ${e.summary}`),
    `SIP requests that asked the phones to change their media after the crash: none — the standby relay takes over the same addresses (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal([]);
  // From a snapshot after the resumption: intact audio, one relay address per side (sources).
  const resumed = audioSnapshot(...parties);
  await talkForAMoment(world, ...parties);
  expectHeardEachOther(world, ...parties, resumed);
}

/** Then the silence each of them heard is reported, and was shorter than {int} seconds */
export function expectSilenceShorterThan(world: Phase2World, seconds: number) {
  const gaps = world.failover.audioGaps;
  if (!gaps) throw new Error('Audio has not resumed after a crash in this scenario yet.');
  attachJson(world, 'Longest silence heard (ms)', gaps);
  for (const [listener, ms] of Object.entries(gaps))
    expect(
      ms,
      `longest silence ${listener} heard across the media relay's failover, ms (goal in embedded mode; see "Longest silence heard (ms)" and "${EVIDENCE.RTP}")`,
    ).to.be.below(seconds * 1000);
}

/** When {person} presses {string} on her/his keypad */
export async function pressKeys(world: Phase2World, name: string, digits: string) {
  const { caller, call } = world.currentCall();
  expect(caller.name, 'who presses the keys').to.equal(name);
  await call.sendDtmf(digits);
}

/** Then {person}'s line hears the keys {string} */
export async function expectLineHearsKeys(world: Phase2World, name: string, digits: string) {
  const { farEnd } = world.currentCall();
  if (!farEnd) throw new Error(`${name} never answered.`);
  const heard = (): string =>
    farEnd.rtp.dtmf
      .all()
      .map((d) => d.digit)
      .join('');
  await farEnd.rtp.dtmf.waitFor(
    () => heard().endsWith(digits),
    bound(world, `the keys "${digits}" at ${name}'s line`, { lookAt: [EVIDENCE.RTP, PLATFORM_LOG] }),
  );
  expect(heard(), `keys ${name}'s line heard (see "${EVIDENCE.RTP}")`).to.match(new RegExp(`${digits}$`));
}

/** RTP packetization of the suite's phones: one packet every 20 ms each way. */
const PACKET_MS = 20;
/** How late the relay's save timer may fire on a loaded 2-core machine. */
const SAVE_TIMER_SLACK_MS = 100;

/**
 * Then the call record shows {person} calling {person} over the trunk, answered, for as long as
 * they talked, counting the media of both relays. A relay saves its counters every statsFlushMs
 * (published in the settings): what the crashed relay carried after its last save is the one
 * thing a successor cannot know. Everything else is checked as for any call, so a successor that
 * starts counting from zero (dropping the first relay's counts) still fails.
 */
export async function expectCallRecordAcrossRelayCrash(
  world: Phase2World,
  callerName: string,
  calleeName: string,
) {
  const { media } = await world.platformSettings();
  const flushMs = media?.statsFlushMs;
  if (flushMs === undefined)
    throw new Error(
      "The target's GET /ops/v1/settings does not say how often its media relay saves its counters " +
        '(media.statsFlushMs), so what a relay crash may leave uncounted is unknown.',
    );
  const packets = Math.ceil((flushMs + SAVE_TIMER_SLACK_MS) / PACKET_MS);
  await expectAnsweredTrunkCallRecord(world, callerName, calleeName, {
    packets,
    why: `the crashed relay may have carried after its last save (every ${flushMs} ms, +${SAVE_TIMER_SLACK_MS} ms timer slack)`,
  });
}

/**
 * Then {person}'s call is refused once, and {person}'s line was offered it only once. The far
 * end's 503 is not the SIP node's: passed on as 503 it tells a proxy in front (Kamailio's
 * dispatcher) that the node is out of service, which then tries the call again on the other
 * node: the line is called twice, and the caller's one call leaves two attempts.
 */
export async function expectRefusedOnceNotRetried(
  world: Phase2World,
  callerName: string,
  calleeName: string,
) {
  const { call, callee } = world.currentCall();
  attempts.expectRefusal('call', call.callId);
  const outcome = await call.events.waitFor(
    (event) => event.kind === 'rejected' || event.kind === 'answered',
    bound(world, `the call to ${calleeName}, whose line is out of service, to be refused`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  expect(outcome.kind, `how ${callerName}'s call to ${calleeName} ended`).to.equal('rejected');
  expect(
    outcome.status,
    `final status ${callerName}'s phone got: 500, a failure further on (RFC 3261 §16.7), not the far end's 503 (see "${EVIDENCE.SIP}")`,
  ).to.equal(500);
  // The refusal reached the phone after every attempt at the line: all of them are in by now.
  const network = await world.telephoneNetwork();
  const offered = network.invites.all().filter((invite) => invite.number === callee.number);
  expect(
    offered.map((invite) => invite.callId),
    `calls ${calleeName}'s line was offered for ${callerName}'s one call: one; more is the call tried again ` +
      `through the other SIP node, which took the far end's 503 for the node's own (see "${EVIDENCE.SIP}")`,
  ).to.have.length(1);
}
