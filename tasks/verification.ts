import { expect } from 'chai';
import type { CustomerActor, Phase2World } from '../world/world';
import type { Verification } from '../world/http/api-client';
import { localDid } from '../world/factories';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';
import { soundNames } from './audio';

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
}

/** The code the verification line texted this person, as their mobile showed it. */
function theCode(world: Phase2World, name: string): string {
  const code = world.person(name).textedCode;
  if (!code) throw new Error(`${name} has received no one-time code in this scenario.`);
  return code;
}

/** A code that is certainly not the right one: the right one with every digit shifted. */
function wrongCode(world: Phase2World, name: string): string {
  return [...theCode(world, name)].map((d) => String((Number(d) + 1) % 10)).join('');
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
  await keyIn(world, wrongCode(world, name));
}

/** Then {person} hears the line ask her/him to try again */
export async function expectAskedToTryAgain(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await hearPrompt(world, 'tryAgain', world.currentInboundCall().promptsHeardBefore ?? 0);
  expect(world.currentInboundCall().pstn.isEnded, 'the call stays up for another try').to.equal(false);
}

/** When {person} keys in wrong codes until no tries are left */
export async function keyInWrongCodesUntilNoTriesLeft(world: Phase2World, name: string) {
  const verification = await theVerification(world, name);
  const left = verification.maxAttempts - verification.attempts;
  expect(left, 'tries left').to.be.above(0);
  for (let i = 1; i <= left; i += 1) {
    const before = await framesSoFar(world, 'tryAgain');
    await keyIn(world, wrongCode(world, name));
    if (i < left) await hearPrompt(world, 'tryAgain', before);
  }
}

async function expectPromptThenHangUp(world: Phase2World, prompt: Prompt): Promise<void> {
  await hearPrompt(world, prompt, 0);
  const ended = await world.currentInboundCall().pstn.waitUntilEnded(boundMs(world));
  expect(ended.by, 'who ended the call: the verification line').to.equal('remote');
}

/** Then {person} hears the line confirm she/he is verified, and the line hangs up */
export async function expectConfirmedVerified(world: Phase2World, name: string) {
  expect(world.currentInboundCall().caller.name, 'who is on the line').to.equal(name);
  await expectPromptThenHangUp(world, 'confirmed');
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

/** When {person} waits until the code has expired */
export async function waitUntilTheCodeHasExpired(world: Phase2World, name: string) {
  const { expiresAt } = await theVerification(world, name);
  const phone = world.person(name).number;
  // The business wait: until the platform itself reports the code as expired.
  await eventually(
    world,
    `${name}'s code to expire (at ${expiresAt})`,
    () => lineOwner(world).api.listVerifications(phone),
    (result) => result.items[0]?.status === 'expired',
    { lookAt: [EVIDENCE.HTTP], extraMs: Math.max(0, Date.parse(expiresAt) - Date.now()), intervalMs: 200 },
  );
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
