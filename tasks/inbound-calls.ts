import { expect } from 'chai';
import type { Phase2World, Person } from '../world/world';
import { pstnNumber } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { talkForAMoment, expectHeardEachOther } from './audio';
import { bound, PLATFORM_LOG, boundMs } from './waiting';

/**
 * Calls from the outside telephone network into the platform: the scenario's PSTN double
 * places them over the customer's trunk, to a subscriber's number.
 */

export function outsideLine(world: Phase2World, name: string, withheld = false): void {
  world.people.set(name, { name, number: pstnNumber(), kind: 'outside line', withheld });
}

export async function giveAnOutsideLine(world: Phase2World, callerName: string, calleeName: string) {
  const caller = world.person(callerName);
  const callee = world.person(calleeName);
  if (caller.kind !== 'outside line') throw new Error(`${callerName} is not on an outside line.`);
  const network = await world.telephoneNetwork();
  const placedAt = Date.now();
  const pstn = await network.call(
    caller.withheld ? 'anonymous' : caller.number,
    callee.number,
    world.env.endpoints.sip.udp,
    // Withheld as carriers do it: From anonymous, the real number asserted with Privacy: id.
    // A withheld number still speaks with its person's voice.
    caller.withheld
      ? {
          fromDisplay: 'Anonymous',
          headers: {
            Privacy: 'id',
            'P-Asserted-Identity': `<sip:${caller.number}@${network.address().host}>`,
          },
          toneHz: world.voiceOf(caller),
        }
      : {},
  );
  world.voice.inboundCall = { caller, callee, pstn, placedAt };
  return world.voice.inboundCall;
}

/** The call ringing on the callee's own phone (the first one since the call was placed). */
async function ringingOn(world: Phase2World, callee: Person, placedAt: number) {
  if (!callee.phone) throw new Error(`${callee.name} has no phone of their own in this scenario.`);
  return callee.phone.incomingCalls.waitFor(
    (call) => call.invitedAt >= placedAt,
    bound(world, `the call to ${callee.number} to ring on ${callee.name}'s phone`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
}

/** When {person} calls {person}'s number and nobody answers */
export async function callAndNobodyAnswers(world: Phase2World, callerName: string, calleeName: string) {
  const inbound = await giveAnOutsideLine(world, callerName, calleeName);
  inbound.ringing = await ringingOn(world, inbound.callee, inbound.placedAt);
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  await inbound.pstn.waitUntilEnded(boundMs(world, noAnswerTimeoutMs));
}

/** When {person} calls {person}'s number and {person} answers */
export async function callAndAnswer(
  world: Phase2World,
  callerName: string,
  calleeName: string,
  answerer: string,
) {
  expect(answerer, 'who answers').to.equal(calleeName);
  const inbound = await giveAnOutsideLine(world, callerName, calleeName);
  const ringing = await ringingOn(world, inbound.callee, inbound.placedAt);
  inbound.ringing = ringing;
  await ringing.answer();
  const waitMs = boundMs(world);
  await Promise.all([ringing.waitUntilAnswered(waitMs), inbound.pstn.waitUntilAnswered(waitMs)]);
  await talkForAMoment(
    world,
    { name: callerName, rtp: inbound.pstn.rtp },
    { name: calleeName, rtp: ringing.rtp },
  );
  expectHeardEachOther(
    world,
    { name: callerName, rtp: inbound.pstn.rtp },
    { name: calleeName, rtp: ringing.rtp },
  );
}

/**
 * How late the platform may give up after its no-answer time, and how late a subscriber who
 * cannot be reached may be reported: a loopback round trip on a busy machine, not a second ring.
 */
const GIVE_UP_SLACK_MS = 750;

/** Then {person}'s call ends unanswered after the platform's no-answer time */
export async function expectCallEndsUnansweredAfterNoAnswerTime(world: Phase2World, callerName: string) {
  const inbound = world.currentInboundCall();
  expect(inbound.caller.name, 'whose call').to.equal(callerName);
  // The operator's configured no-answer time, as the operations endpoint documents it.
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  const ended = await inbound.pstn.waitUntilEnded(boundMs(world));
  expect(ended.kind, `how ${callerName}'s call ended (see "${EVIDENCE.SIP}")`).to.equal('rejected');
  expect(ended.status, `SIP status ${callerName}'s network got: 480 Temporarily Unavailable`).to.equal(480);
  // Neither at once (or without ringing) nor ringing on past the no-answer time.
  expect(
    ended.at - inbound.placedAt,
    `ms ${callerName}'s call rang before the platform gave up (its no-answer time is ${noAnswerTimeoutMs} ms)`,
  ).to.be.within(noAnswerTimeoutMs, noAnswerTimeoutMs + GIVE_UP_SLACK_MS);
  const ringing = inbound.ringing;
  if (!ringing) throw new Error(`${inbound.callee.name}'s phone never rang.`);
  // The desk phone stops ringing when the platform gives up: it is cancelled, not left ringing.
  const stopped = await ringing.waitUntilEnded(boundMs(world)).catch((error: unknown) => {
    throw new Error(
      `${inbound.callee.name}'s phone kept ringing after ${callerName} was told nobody answered: the platform never cancelled it (see "${EVIDENCE.SIP}"). ${(error as Error).message}`,
    );
  });
  expect(
    [stopped.kind, stopped.by],
    `how the ringing on ${inbound.callee.name}'s phone ended: cancelled by the platform (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal(['ended', 'remote']);
  expect(
    stopped.at - ended.at,
    `ms ${inbound.callee.name}'s phone kept ringing after ${callerName} was told nobody answered`,
  ).to.be.at.most(GIVE_UP_SLACK_MS);
}

/** Then {person} hears that {person} is not available */
export async function expectHearsNotAvailable(world: Phase2World, callerName: string, calleeName: string) {
  const inbound = world.currentInboundCall();
  expect([inbound.caller.name, inbound.callee.name]).to.deep.equal([callerName, calleeName]);
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  const ended = await inbound.pstn.waitUntilEnded(boundMs(world));
  expect(ended.kind, `how ${callerName}'s call to ${calleeName} ended (see "${EVIDENCE.SIP}")`).to.equal(
    'rejected',
  );
  expect(ended.status, `SIP status for a subscriber who cannot be reached`).to.equal(480);
  // A phone that is switched off cannot ring: the caller is told at once, not after the no-answer time.
  expect(
    ended.at - inbound.placedAt,
    `ms before ${callerName} heard that ${calleeName}, whose phone is off, is not available (the no-answer time is ${noAnswerTimeoutMs} ms)`,
  ).to.be.below(Math.min(GIVE_UP_SLACK_MS, noAnswerTimeoutMs));
}
