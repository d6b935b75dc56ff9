import { expect } from 'chai';
import type { Registration, SipPhone } from '../world/sip/sip-phone';
import type { Phase2World, Person } from '../world/world';
import { EVIDENCE } from '../reporting/evidence';
import { giveAnOutsideLine } from './inbound-calls';
import { bound, boundMs, PLATFORM_LOG, untilInstant } from './waiting';

/**
 * A phone's registration over time: the lifetime it asks for, what the registrar grants, and
 * whether calls find the phone while the registration lasts and after it ran out.
 */

/** A short registration (seconds) that still leaves room to call the phone halfway through it. */
const SHORT_REGISTRATION_SEC = 2;

function phoneOf(person: Person): SipPhone {
  if (!person.phone) throw new Error(`${person.name} has no SIP phone in this scenario.`);
  return person.phone;
}

/** What the registrar must grant for `askedSec`: the ask itself when within its published bounds. */
async function expectedGrant(world: Phase2World, askedSec: number): Promise<number> {
  const { minExpiresSeconds, maxExpiresSeconds } = (await world.platformSettings()).sip.registration;
  return Math.min(Math.max(askedSec, minExpiresSeconds), maxExpiresSeconds);
}

/** The registration the registrar granted just now, checked against what the phone asked for. */
export async function expectGrantedAsAsked(world: Phase2World, name: string): Promise<Registration> {
  const latest = phoneOf(world.person(name)).registrations.all().at(-1);
  if (!latest) throw new Error(`${name}'s phone has not been registered in this scenario.`);
  const { registration } = (await world.platformSettings()).sip;
  expect(
    latest.grantedSec,
    `registration lifetime the platform granted ${name}'s phone, which asked for ${latest.askedSec} s ` +
      `(the platform's bounds: ${registration.minExpiresSeconds}–${registration.maxExpiresSeconds} s; ` +
      `see the Contact expires of the REGISTER's 200 OK in "${EVIDENCE.SIP}")`,
  ).to.equal(await expectedGrant(world, latest.askedSec));
  return latest;
}

/** The short lifetime these scenarios ask for: 2 s, unless the platform allows no less. */
async function shortLifetime(world: Phase2World): Promise<number> {
  const { minExpiresSeconds } = (await world.platformSettings()).sip.registration;
  return Math.max(SHORT_REGISTRATION_SEC, minExpiresSeconds);
}

/** Given {person}'s phone registers for a short while and keeps renewing it / then stops renewing it */
export async function registerForAShortWhile(world: Phase2World, name: string, renew: boolean) {
  const expiresSec = await shortLifetime(world);
  await phoneOf(world.person(name)).register({ expiresSec, renew });
  await expectGrantedAsAsked(world, name);
}

/** When {person}'s registration has been renewed {int} times */
export async function waitForRenewals(world: Phase2World, name: string, times: number) {
  const phone = phoneOf(world.person(name));
  const first = phone.registrations.all().at(-1);
  if (!first) throw new Error(`${name}'s phone has not been registered in this scenario.`);
  const lifetimeMs = (first.grantedSec ?? first.askedSec) * 1000;
  const firstIndex = phone.registrations.all().length - 1;
  for (let renewal = 1; renewal <= times; renewal++) {
    await phone.registrations.waitFor(
      (r) => phone.registrations.all().indexOf(r) >= firstIndex + renewal,
      bound(world, `renewal ${renewal} of ${name}'s registration`, {
        lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
        extraMs: lifetimeMs,
      }),
    );
    await expectGrantedAsAsked(world, name);
  }
  // The whole time since the first registration is now longer than one lifetime: only renewals kept it.
  expect(
    Date.now() - first.at,
    `ms since ${name}'s phone first registered (one lifetime is ${lifetimeMs} ms)`,
  ).to.be.at.least(lifetimeMs * (times / 2));
}

/** A call from an outside line to the person's number rings their phone; the caller then gives up. */
async function expectCallRings(world: Phase2World, callerName: string, calleeName: string, when: string) {
  const inbound = await giveAnOutsideLine(world, callerName, calleeName);
  const ringing = await phoneOf(inbound.callee).incomingCalls.waitFor(
    (call) => call.invitedAt >= inbound.placedAt,
    bound(world, `${callerName}'s call to ring ${calleeName}'s phone ${when}`, {
      lookAt: [EVIDENCE.SIP, PLATFORM_LOG],
    }),
  );
  await inbound.pstn.hangup();
  await inbound.pstn.waitUntilEnded(boundMs(world));
  await ringing.waitUntilEnded(boundMs(world));
}

/** Then {person}'s call to {person} rings her phone */
export function expectCallStillRings(world: Phase2World, callerName: string, calleeName: string) {
  return expectCallRings(world, callerName, calleeName, 'after her registration was renewed');
}

function latestRegistration(world: Phase2World, name: string): Registration & { grantedSec: number } {
  const latest = phoneOf(world.person(name)).registrations.all().at(-1);
  if (latest?.grantedSec === undefined) throw new Error(`${name}'s phone holds no granted registration.`);
  return { ...latest, grantedSec: latest.grantedSec };
}

/** Then {person}'s call to {person} halfway through her registration rings her phone */
export async function expectRingsHalfwayThrough(world: Phase2World, callerName: string, calleeName: string) {
  const registration = latestRegistration(world, calleeName);
  // Halfway through the lifetime the platform granted: a registrar that keeps it shorter has dropped it.
  await untilInstant(registration.at + registration.grantedSec * 500);
  await expectCallRings(world, callerName, calleeName, 'halfway through her registration');
}

/** Then once her registration has run out, {person}'s call to {person} finds her unavailable */
export async function expectUnavailableOnceLapsed(
  world: Phase2World,
  callerName: string,
  calleeName: string,
) {
  const registration = latestRegistration(world, calleeName);
  // The registrar stamped the binding before the phone saw the 200 OK: past this instant it has run out.
  await untilInstant(registration.at + registration.grantedSec * 1000);
  await expectCallFindsUnavailable(world, callerName, calleeName);
}

/** Then a call from {person} finds {person} unavailable: refused 480 at once, ringing no phone of hers. */
export async function expectCallFindsUnavailable(world: Phase2World, callerName: string, calleeName: string) {
  const { noAnswerTimeoutMs } = (await world.platformSettings()).sip;
  const inbound = await giveAnOutsideLine(world, callerName, calleeName);
  const ended = await inbound.pstn.waitUntilEnded(boundMs(world));
  const rang = phoneOf(inbound.callee)
    .incomingCalls.filter((call) => call.invitedAt >= inbound.placedAt)
    .map((call) => call.callId);
  expect(
    rang,
    `calls that rang ${calleeName}'s phone, which holds no registration (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal([]);
  expect(
    [ended.kind, ended.status],
    `how ${callerName}'s call ended, ${calleeName}'s phone holding no registration: 480 Temporarily Unavailable (see "${EVIDENCE.SIP}")`,
  ).to.deep.equal(['rejected', 480]);
  // Known to be unreachable: refused at once, not after ringing nobody for the no-answer time.
  expect(
    ended.at - inbound.placedAt,
    `ms until ${callerName} was told ${calleeName} is unavailable (the no-answer time is ${noAnswerTimeoutMs} ms)`,
  ).to.be.below(noAnswerTimeoutMs);
}
