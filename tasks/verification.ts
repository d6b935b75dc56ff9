import { expect } from 'chai';
import type { CustomerActor, Phase2World } from '../world/world';
import type { Verification } from '../world/http/api-client';
import { localDid } from '../world/factories';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';
import { soundNames } from './audio';
import { expectNothingElseArrived } from './texts';

/**
 * Two-factor verification during a call: the verification line texts a one-time code to the
 * caller's mobile, the caller keys it in (RFC 4733), and the line answers with a prompt.
 */

/** Each prompt is recognised by its pitch; this share of its frames must be heard. */
const PROMPT_SHARE = 0.9;

function lineOwner(world: Phase2World): CustomerActor {
  const owner = [...world.customers.values()].find((c) => c.verificationLine !== undefined);
  if (!owner) throw new Error('No customer runs a verification line in this scenario.');
  return owner;
}

/** Given {string} runs a verification line */
export async function runVerificationLine(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const number = localDid();
  await customer.api.addNumber({ number, kind: 'local' });
  const line = await customer.api.updateNumber(number, { voiceService: 'verification' });
  expect(line.voiceService, `service of ${number}`).to.equal('verification');
  customer.verificationLine = number;
}

/** Given {string}'s verification codes expire {int} seconds after they are sent */
export async function expectCodesExpireAfter(world: Phase2World, customerName: string, seconds: number) {
  const customer = world.customer(customerName);
  const line = customer.verificationLine;
  if (!line) throw new Error(`"${customerName}" runs no verification line yet.`);
  const updated = await customer.api.updateNumber(line, {
    voiceService: 'verification',
    codeTtlSeconds: seconds,
  });
  expect(updated.codeTtlSeconds, 'validity of the line’s codes').to.equal(seconds);
}

/** When {person} calls the verification line from her/his mobile */
export async function callTheVerificationLine(world: Phase2World, name: string) {
  const caller = world.person(name);
  if (caller.kind !== 'mobile') throw new Error(`${name} has no mobile phone to call from.`);
  const line = lineOwner(world).verificationLine ?? '';
  const network = await world.telephoneNetwork();
  const placedAt = Date.now();
  const pstn = await network.call(caller.number, line, world.env.endpoints.sip.udp);
  world.voice.inboundCall = {
    caller,
    callee: { name: 'the verification line', number: line, kind: 'outside line' },
    pstn,
    placedAt,
  };
  await pstn.waitUntilAnswered(boundMs(world));
}

type Prompt = 'enterCode' | 'confirmed' | 'tryAgain' | 'refused';

/** Waits for one more playing of a prompt than the caller has heard so far. */
async function hearPrompt(world: Phase2World, prompt: Prompt, heardBefore: number): Promise<void> {
  const { voice } = await world.platformSettings();
  const frames = Math.floor((voice.promptMs / 20) * PROMPT_SHARE);
  const { pstn } = world.currentInboundCall();
  await pstn.rtp.waitForTone(
    voice.promptHz[prompt],
    heardBefore + frames,
    boundMs(world, voice.promptMs),
    `the "${prompt}" prompt`,
    await soundNames(world),
  );
}

async function framesSoFar(world: Phase2World, prompt: Prompt): Promise<number> {
  const { voice } = await world.platformSettings();
  return world.currentInboundCall().pstn.rtp.framesHeardAt(voice.promptHz[prompt]);
}

/** Then {person} hears the line ask for her/his code */
export async function expectAskedForTheCode(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await hearPrompt(world, 'enterCode', 0);
}

/** When {person}'s mobile receives a one-time code from the verification line */
export async function receiveTheOneTimeCode(world: Phase2World, name: string) {
  const mobile = world.person(name).number;
  const line = lineOwner(world).verificationLine;
  const sms = await world.mobileNetwork
    .handset(mobile)
    .inbox.waitFor(
      () => true,
      bound(world, `the one-time code on ${name}'s mobile`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG] }),
    );
  expect(sms.from, 'sender of the code: the verification line').to.equal(line);
  const code = /\b(\d{6})\b/.exec(sms.text)?.[1];
  expect(code, `a six-digit code in the text "${sms.text}"`).to.be.a('string');
  world.person(name).textedCode = code;
  world.person(name).textedCodeAt = sms.receivedAt;
}

/** The code the verification line texted this person, as their mobile showed it. */
function theCode(world: Phase2World, name: string): string {
  const code = world.person(name).textedCode;
  if (!code) throw new Error(`${name} has received no one-time code in this scenario.`);
  return code;
}

/**
 * The `nth` wrong code (0 first): each close to the right one in a different way — the last
 * digit changed, the first digit changed, every digit changed — so a platform comparing only
 * part of the code lets one of them through.
 */
function wrongCode(world: Phase2World, name: string, nth: number): string {
  const digits = [...theCode(world, name)];
  const shift = (d: string | undefined): string => String((Number(d) + 1) % 10);
  if (nth % 3 === 0) return [...digits.slice(0, -1), shift(digits.at(-1))].join('');
  if (nth % 3 === 1) return [shift(digits[0]), ...digits.slice(1)].join('');
  return digits.map(shift).join('');
}

async function keyIn(world: Phase2World, digits: string): Promise<void> {
  await world.currentInboundCall().pstn.rtp.sendDtmf(digits);
}

/** When {person} keys in the code */
export async function keyInTheCode(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who keys in').to.equal(name);
  await keyIn(world, theCode(world, name));
}

/** When {person} keys in a wrong code */
export async function keyInAWrongCode(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who keys in').to.equal(name);
  world.currentInboundCall().promptsHeardBefore = await framesSoFar(world, 'tryAgain');
  await keyIn(world, wrongCode(world, name, 0));
}

/** Then {person} hears the line ask her/him to try again */
export async function expectAskedToTryAgain(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await hearPrompt(world, 'tryAgain', world.currentInboundCall().promptsHeardBefore ?? 0);
  expect(world.currentInboundCall().pstn.isEnded, 'the call stays up for another try').to.equal(false);
}

/**
 * When {person} keys in wrong codes until her/his {int} tries are used up: the number of tries is
 * the stated business rule, so the line must ask again after each wrong code but the last, and
 * refuse on the last one (checked by the next step) — neither sooner nor later.
 */
export async function keyInWrongCodesUntilNoTriesLeft(world: Phase2World, name: string, tries: number) {
  const verification = await theVerification(world, name);
  expect(
    verification.maxAttempts,
    `tries a caller has, as the API reports them (the rule: ${tries})`,
  ).to.equal(tries);
  const used = verification.attempts;
  expect(used, 'wrong codes keyed in so far').to.be.below(tries);
  for (let nth = used; nth < tries; nth += 1) {
    const before = await framesSoFar(world, 'tryAgain');
    await keyIn(world, wrongCode(world, name, nth));
    if (nth < tries - 1) await hearPrompt(world, 'tryAgain', before);
  }
}

async function expectPromptThenHangUp(world: Phase2World, prompt: Prompt): Promise<void> {
  await hearPrompt(world, prompt, 0);
  const inbound = world.currentInboundCall();
  const ended = await inbound.pstn.waitUntilEnded(boundMs(world));
  expect(ended.by, 'who ended the call: the verification line').to.equal('remote');
  // After the hang-up (a later event): one code per call, however often the line prompted.
  const owner = lineOwner(world);
  const inbox = world.mobileNetwork.handset(inbound.caller.number).inbox;
  const code = inbox.all()[0];
  if (!code) throw new Error(`${inbound.caller.name}'s mobile never received a code.`);
  await expectNothingElseArrived(
    world,
    { api: owner.api, number: owner.verificationLine ?? '' },
    inbound.caller.number,
    [code.text],
    'the one-time code of the call',
  );
}

/** Then {person} hears the line confirm she/he is verified, and the line hangs up */
export async function expectConfirmedVerified(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await expectPromptThenHangUp(world, 'confirmed');
  // Heard after the hang-up, when nothing more can come: the right code was never refused.
  for (const wrong of ['tryAgain', 'refused'] as const)
    expect(await framesSoFar(world, wrong), `frames of the "${wrong}" prompt ${name} heard: none`).to.equal(
      0,
    );
}

/** Then {person} hears the line refuse, and the line hangs up */
export async function expectRefusedAndHungUp(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await expectPromptThenHangUp(world, 'refused');
  const { voice } = await world.platformSettings();
  expect(
    world.currentInboundCall().pstn.rtp.framesHeardAt(voice.promptHz.confirmed),
    'frames of the "confirmed" prompt heard: none',
  ).to.equal(0);
}

async function theVerification(world: Phase2World, name: string): Promise<Verification> {
  const phone = world.person(name).number;
  const { items } = await lineOwner(world).api.listVerifications(phone);
  expect(items, `verifications for ${phone}`).to.have.length(1);
  attachJson(world, 'Verification', items[0]);
  return items[0];
}

/** How early the code may seem to expire, counted from its arrival: its trip through the network. */
const CODE_TRIP_MS = 300;
/** How late the expiry may be seen after the code's lifetime: a poll and a loopback request. */
const EXPIRY_SEEN_LATE_MS = 1000;

/**
 * When {person} waits until the code has expired: the lifetime the customer set is a business
 * rule checked both ways — the code is still pending while young, and the platform reports it
 * expired neither before its lifetime (counted from when it reached the mobile) nor well after.
 */
export async function waitUntilTheCodeHasExpired(world: Phase2World, name: string) {
  const person = world.person(name);
  const receivedAt = person.textedCodeAt;
  if (receivedAt === undefined) throw new Error(`${name} has received no one-time code in this scenario.`);
  const owner = lineOwner(world);
  const { items: numbers } = await owner.api.listNumbers();
  const ttlSeconds = numbers.find((n) => n.number === owner.verificationLine)?.codeTtlSeconds;
  if (!ttlSeconds) throw new Error(`"${owner.name}"'s verification line has no code lifetime set.`);
  const lifetimeMs = ttlSeconds * 1000;
  const young = await theVerification(world, name);
  const ageMs = Date.now() - receivedAt;
  expect(
    young.status,
    `status of ${name}'s code ${ageMs} ms after it reached her mobile (its lifetime is ${lifetimeMs} ms)`,
  ).to.equal('pending');
  expect(
    Date.parse(young.expiresAt) - Date.parse(young.createdAt),
    `lifetime of the code in the platform's own record (createdAt ${young.createdAt}, expiresAt ${young.expiresAt})`,
  ).to.be.within(lifetimeMs - 50, lifetimeMs + 50);
  await eventually(
    world,
    `${name}'s code to expire, ${lifetimeMs} ms after it reached her mobile`,
    () => owner.api.listVerifications(person.number),
    (result) => result.items[0]?.status === 'expired',
    {
      lookAt: [EVIDENCE.HTTP],
      within: EXPIRY_SEEN_LATE_MS,
      extraMs: receivedAt + lifetimeMs - Date.now(),
      intervalMs: 100,
    },
  );
  const seenAfterMs = Date.now() - receivedAt;
  expect(
    seenAfterMs,
    `ms after the code reached ${name}'s mobile that the platform first reported it expired (lifetime ${lifetimeMs} ms)`,
  ).to.be.within(lifetimeMs - CODE_TRIP_MS, lifetimeMs + EXPIRY_SEEN_LATE_MS);
  expect(world.currentInboundCall().pstn.isEnded, 'the call is still up').to.equal(false);
}

/** Then {string} sees {person}'s verification as {word} through the API */
export async function expectVerificationStatus(
  world: Phase2World,
  customerName: string,
  name: string,
  status: string,
) {
  expect(lineOwner(world).name, 'who runs the line').to.equal(customerName);
  const verification = await eventually(
    world,
    `${name}'s verification to be settled`,
    () => theVerification(world, name),
    (v) => v.status !== 'pending',
    { lookAt: [EVIDENCE.HTTP] },
  );
  expect(verification.status, `status of ${name}'s verification`).to.equal(status);
  if (status === 'verified') {
    expect(verification.verifiedAt, 'when it was verified').to.be.a('string');
    expect(verification.attempts, 'wrong codes before the right one').to.equal(0);
  }
  if (status === 'failed') {
    expect(verification.attempts, 'wrong codes entered: all the tries').to.equal(verification.maxAttempts);
  }
  const read = await lineOwner(world).api.getVerification(verification.id);
  expect(read, 'the verification read on its own').to.deep.equal(verification);
}

/** Then {string} sees one wrong attempt on {person}'s verification */
export async function expectOneWrongAttempt(world: Phase2World, customerName: string, name: string) {
  expect(lineOwner(world).name, 'who runs the line').to.equal(customerName);
  const verification = await theVerification(world, name);
  expect(verification, `${name}'s verification after one wrong code`).to.deep.include({
    status: 'pending',
    attempts: 1,
  });
}
