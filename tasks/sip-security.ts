import { expect } from 'chai';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { answerChallenge, parseChallenge } from '../world/attack/digest';
import {
  COMMON_PASSWORDS,
  PHONE_USER_AGENT,
  SCANNER_USER_AGENT,
  SipAttacker,
  type Answer,
  type DictionaryAttack,
} from '../world/attack/sip-attacker';
import type { Phase2World, SipAttackNotes } from '../world/world';
import { randomToken } from '../world/sip/sip-text';
import { subscribeWebhook } from './webhooks';
import { bound, PLATFORM_LOG, untilInstant } from './waiting';

/**
 * SIP authentication defences (TEST-INT-051) tried as an attacker would: password guessing,
 * scanner sweeps and account probing, from loopback addresses of the attacker's own.
 */

/** The jail's settings as the platform publishes them (GET /ops/v1/settings security.sipFraud). */
async function jail(world: Phase2World) {
  const sipFraud = (await world.platformSettings()).security?.sipFraud;
  if (!sipFraud)
    throw new Error('GET /ops/v1/settings publishes no security.sipFraud: the SIP edge announces no jail.');
  return sipFraud;
}

async function attackerOf(world: Phase2World): Promise<SipAttackNotes> {
  if (world.refusals.sipAttack) return world.refusals.sipAttack;
  const { sip } = world.env.endpoints;
  const attacker = await SipAttacker.open('attacker', { ...sip.udp, domain: sip.domain });
  world.onCleanup(() => attacker.close());
  world.refusals.sipAttack = { attacker };
  return world.refusals.sipAttack;
}

function usernameOf(world: Phase2World, name: string): string {
  const sip = world.person(name).sip;
  if (!sip) throw new Error(`${name} has no SIP account.`);
  return sip.username;
}

function dictionaryOf(world: Phase2World): DictionaryAttack {
  const dictionary = world.refusals.sipAttack?.dictionary;
  if (!dictionary) throw new Error('No attacker has guessed a password in this scenario.');
  return dictionary;
}

const answerWait = (world: Phase2World, awaited: string) =>
  bound(world, awaited, { lookAt: [EVIDENCE.SIP, PLATFORM_LOG] });

/** Given {string} is told of security events at their webhook */
export function subscribeToSecurityEvents(world: Phase2World, customerName: string) {
  return subscribeWebhook(world, customerName, ['security.*']);
}

/** Given {string} is told of fraud alerts at their webhook */
export function subscribeToFraudAlerts(world: Phase2World, customerName: string) {
  return subscribeWebhook(world, customerName, ['fraud.*']);
}

/** When an attacker guesses {person}'s password from an address of their own */
export async function guessPassword(world: Phase2World, name: string) {
  const notes = await attackerOf(world);
  const { authFailuresBeforeBan } = await jail(world);
  // Bounded: a few more guesses than the jail allows, so an edge without one is caught guessing on.
  const maxTries = authFailuresBeforeBan + 3;
  const guesses = Array.from({ length: maxTries }, (_, i) => COMMON_PASSWORDS[i] ?? `guess-${i}`);
  notes.dictionary = await notes.attacker.guessPasswords(
    usernameOf(world, name),
    guesses,
    maxTries,
    answerWait(world, `the SIP edge's answer to a password guess for ${name}'s account`),
  );
  attachJson(world, 'Dictionary attack', summarise(notes.dictionary));
}

function summarise(attack: DictionaryAttack) {
  return {
    ...attack,
    tries: attack.tries.map((t) => ({
      password: t.password,
      sentAt: new Date(t.sentAt).toISOString(),
      answer: t.answer ? `${t.answer.status} ${t.answer.reason}` : 'none',
    })),
  };
}

/** Then the attacker is cut off after a few wrong passwords, without finding the password */
export async function expectCutOffAfterAFewWrongPasswords(world: Phase2World) {
  const attack = dictionaryOf(world);
  const { authFailuresBeforeBan } = await jail(world);
  const answered = attack.tries.filter((t) => t.answer !== undefined);
  expect(
    answered.filter((t) => t.answer?.status !== 401).map((t) => `${t.password}: ${t.answer?.status}`),
    'guesses answered with anything but a new challenge (a 200 means the password was found)',
  ).to.deep.equal([]);
  expect(
    answered.length,
    `wrong passwords the edge answered from ${attack.address} before going quiet (security.sipFraud.` +
      `authFailuresBeforeBan is ${authFailuresBeforeBan}; ${attack.tries.length} guesses were made; see "Dictionary attack")`,
  ).to.equal(authFailuresBeforeBan);
  expect(attack.tries.at(-1)?.answer, 'the answer to the guess after the ban').to.equal(undefined);
}

/** The interval in which the ban began: between the banning guess going out and its answer. */
function banBegan(world: Phase2World): { from: number; to: number } {
  const attack = dictionaryOf(world);
  const answered = attack.tries.filter((t) => t.answer !== undefined);
  const banning = answered.at(-1);
  if (!banning?.answer) throw new Error('The attacker was never answered, so no ban can have begun.');
  return { from: banning.sentAt, to: banning.answer.at };
}

/** Then the attacker's address gets no answer at all during the ban period */
export async function expectSilenceDuringBan(world: Phase2World) {
  const { attacker } = await attackerOf(world);
  const { banMs } = await jail(world);
  const began = banBegan(world);
  // Halfway through the ban, from the attacker's address: an ordinary request and a correct-looking one.
  await untilInstant(began.to + banMs / 2);
  for (const method of ['OPTIONS', 'REGISTER'] as const) {
    const { answer } = await attacker.sendAndSettle(
      { method, user: dictionaryOf(world).username, userAgent: PHONE_USER_AGENT },
      answerWait(world, `the SIP edge's answer to a witness, halfway through the ban`),
    );
    expect(
      answer ? `${answer.status} ${answer.reason}` : 'none',
      `the answer to ${method} from the banned address ${attacker.address}, halfway through the ${banMs} ms ban`,
    ).to.equal('none');
  }
  expect(Date.now(), 'the silence was checked before the ban period ended').to.be.below(began.from + banMs);
}

/** Then {person}'s phone registers from her own address while the attacker is banned */
export async function expectRealPhoneRegistersDuringBan(world: Phase2World, name: string) {
  const phone = world.person(name).phone;
  if (!phone) throw new Error(`${name} has no SIP phone in this scenario.`);
  const { banMs } = await jail(world);
  await phone.register();
  expect(
    Date.now(),
    `${name}'s phone registered while the attacker's ${banMs} ms ban still ran (no later than its earliest end)`,
  ).to.be.below(banBegan(world).from + banMs);
}

/** Then {string} is told by webhook that the attacker's address was banned for the ban period */
export async function expectBanReported(world: Phase2World, customerName: string, name: string) {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const attack = dictionaryOf(world);
  const { banMs, authFailuresBeforeBan } = await jail(world);
  const event = await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) =>
      e.type === 'security.address_banned' && (e.data as { address?: string }).address === attack.address,
    bound(world, `a security.address_banned event for ${attack.address} at "${customerName}"'s webhook`, {
      lookAt: [EVIDENCE.WEBHOOK, PLATFORM_LOG],
    }),
  );
  const data = event.data as { failures: number; bannedUntil: string; accounts: string[] };
  expect(data.accounts, 'the accounts the banned address tried').to.deep.equal([usernameOf(world, name)]);
  expect(data.failures, 'wrong passwords that led to the ban').to.equal(authFailuresBeforeBan);
  const began = banBegan(world);
  expect(
    Date.parse(data.bannedUntil),
    `the ban's end: ${banMs} ms after it began, which was between ${new Date(began.from).toISOString()} and ${new Date(began.to).toISOString()}`,
  ).to.be.within(began.from + banMs, began.to + banMs);
}

/** Then once the ban period is over, the attacker's address is answered again */
export async function expectAnsweredAfterBan(world: Phase2World) {
  const { attacker } = await attackerOf(world);
  const { banMs } = await jail(world);
  await untilInstant(banBegan(world).to + banMs);
  const sent = await attacker.send({ method: 'OPTIONS', user: 'after-ban', userAgent: PHONE_USER_AGENT });
  const answer = await attacker.answerTo(
    sent,
    answerWait(world, `an answer to ${attacker.address} once its ${banMs} ms ban was over`),
  );
  expect(answer.status, 'the answer to OPTIONS after the ban').to.equal(200);
}

/** When a scanning tool sweeps the platform for SIP servers */
export async function sweepWithScanner(world: Phase2World) {
  const notes = await attackerOf(world);
  const scanner = await notes.attacker.send({
    method: 'OPTIONS',
    user: '100',
    userAgent: SCANNER_USER_AGENT,
  });
  // The same request from the same address as a desk phone sends it: answered, so the first was seen.
  const phone = await notes.attacker.send({ method: 'OPTIONS', user: '100', userAgent: PHONE_USER_AGENT });
  const phoneAnswer = await notes.attacker.answerTo(
    phone,
    answerWait(world, `the SIP edge's answer to an ordinary phone's OPTIONS from ${notes.attacker.address}`),
  );
  await new Promise((done) => setImmediate(done));
  notes.sweep = { scanner: notes.attacker.answered(scanner), phone: phoneAnswer };
}

/** Then the scanning tool gets no answer, while an ordinary phone at the same address is answered */
export function expectScannerIgnored(world: Phase2World) {
  const sweep = world.refusals.sipAttack?.sweep;
  if (!sweep) throw new Error('No scanner swept the platform in this scenario.');
  expect(sweep.phone?.status, 'the answer to the ordinary phone').to.equal(200);
  expect(
    sweep.scanner ? `${sweep.scanner.status} ${sweep.scanner.reason}` : 'none',
    `the answer to OPTIONS with User-Agent "${SCANNER_USER_AGENT}" (sipvicious svmap)`,
  ).to.equal('none');
}

/** When an attacker probes {person}'s account and an account that does not exist */
export async function probeAccounts(world: Phase2World, name: string) {
  const notes = await attackerOf(world);
  const existing = usernameOf(world, name);
  const missing = `${existing.slice(0, 4)}${randomToken(3)}`;
  const wait = answerWait(world, `the SIP edge's answer to an account probe from ${notes.attacker.address}`);
  const probes: NonNullable<SipAttackNotes['probes']> = [];
  for (const method of ['REGISTER', 'INVITE'] as const) {
    const asked = async (user: string) => {
      const bare = await notes.attacker.send({ method, user });
      const challenge = await notes.attacker.answerTo(bare, wait);
      const header = challenge.response.headers.get(
        method === 'INVITE' ? 'proxy-authenticate' : 'www-authenticate',
      );
      const credentials = header ? wrongAnswer(header, user, method, world) : undefined;
      const guessed = await notes.attacker.send({ method, user, credentials, cseq: 2 });
      return { challenge, guessed: await notes.attacker.answerTo(guessed, wait) };
    };
    const [a, b] = [await asked(existing), await asked(missing)];
    probes.push({ step: `${method} without credentials`, existing: a.challenge, missing: b.challenge });
    probes.push({ step: `${method} with a wrong password`, existing: a.guessed, missing: b.guessed });
  }
  notes.probes = probes;
  attachJson(
    world,
    'Account probes',
    probes.map((p) => ({ step: p.step, existing: line(p.existing), missing: line(p.missing) })),
  );
}

function wrongAnswer(header: string, user: string, method: string, world: Phase2World): string {
  const { sip } = world.env.endpoints;
  const uri = method === 'INVITE' ? `sip:${user}-callee@${sip.domain}` : `sip:${sip.domain}`;
  return answerChallenge(parseChallenge(header), { username: user, password: 'letmein', method, uri });
}

const line = (a: Answer) => ({ status: `${a.status} ${a.reason}`, headers: a.headerNames });

/** Then the platform answers both probes alike, giving away nothing of which account exists */
export function expectProbesAnsweredAlike(world: Phase2World) {
  const probes = world.refusals.sipAttack?.probes;
  if (!probes) throw new Error('No attacker probed accounts in this scenario.');
  for (const probe of probes) {
    expect(
      line(probe.missing),
      `${probe.step}: the answer for a missing account against the existing account's (see "Account probes")`,
    ).to.deep.equal(line(probe.existing));
  }
  expect(
    probes.map((p) => p.existing.status),
    'every probe was challenged (401 for REGISTER, 407 for INVITE)',
  ).to.deep.equal([401, 401, 407, 407]);
}

/** When an attacker at another address calls {person}'s number as if from the carrier */
export async function callAsTheCarrier(world: Phase2World, name: string) {
  const notes = await attackerOf(world);
  const callee = world.person(name);
  // The carrier's From: an outside caller's number, as the carrier's own INVITEs carry.
  const sent = await notes.attacker.send({ method: 'INVITE', user: '+15555550123', dialed: callee.number });
  const answer = await notes.attacker.answerTo(
    sent,
    answerWait(world, `the SIP edge's answer to a call to ${name} claiming to come from the carrier`),
  );
  notes.spoofedCarrier = { answer, sentAt: sent.sentAt };
}

/** Then the call is not put through: the caller is asked to authenticate and {person}'s phone does not ring */
export function expectSpoofedCarrierRefused(world: Phase2World, name: string) {
  const spoofed = world.refusals.sipAttack?.spoofedCarrier;
  if (!spoofed) throw new Error('No call pretending to come from the carrier was made in this scenario.');
  expect(
    `${spoofed.answer.status} ${spoofed.answer.reason}`,
    `the answer to a call from ${world.refusals.sipAttack?.attacker.address}, not the trunk's address`,
  ).to.equal('407 Proxy Authentication Required');
  const phone = world.person(name).phone;
  if (!phone) throw new Error(`${name} has no SIP phone in this scenario.`);
  expect(
    phone.incomingCalls.filter((call) => call.invitedAt >= spoofed.sentAt).length,
    `calls that rang ${name}'s phone after the spoofed one was sent`,
  ).to.equal(0);
}
