import { randomBytes, randomInt } from 'node:crypto';
import { faker } from '@faker-js/faker';

/**
 * Test data. Names and texts come from faker (seeded, replayable); identifiers that must be
 * unique in the platform's database — numbers, usernames — also mix in crypto randomness, so
 * two scenarios, two workers or two runs against the same remote platform never collide.
 */
export function seedFaker(seed: number): void {
  faker.seed(seed);
}

function digits(count: number): string {
  let out = '';
  for (let i = 0; i < count; i += 1) out += String(randomInt(0, 10));
  return out;
}

/** North American test range +1 NXX 555 XXXX style, 11 digits. */
export function localDid(): string {
  return `+1${randomInt(2, 10)}${digits(2)}555${digits(4)}`;
}

/**
 * A UK landline outside London (Hemel Hempstead, 01442 0…): no London-only rule may catch it,
 * yet London's digits 4420 sit inside it, so a rule matched anywhere but at the start would.
 */
export function ukLandline(): string {
  return `+4414420${digits(5)}`;
}

/** A London landline (020): matched by a London rule (+4420) as well as by a UK one (+44). */
export function londonLandline(): string {
  return `+4420${digits(8)}`;
}

/** A six-digit short code (random: short codes are platform-wide, like every number). */
export function shortCode(): string {
  return `${randomInt(1, 10)}${digits(5)}`;
}

/** A North American toll-free number (+1 800 555 …). */
export function tollFreeNumber(): string {
  return `+1800555${digits(4)}`;
}

/** An outside (PSTN) number: unique per scenario so the PSTN double's behaviours never clash. */
export function pstnNumber(): string {
  return `+1${randomInt(2, 10)}${digits(2)}${randomInt(2, 10)}${digits(6)}`;
}

/**
 * Mobile numbers: this worker's range prefix, then a per-worker sequence. Numbers never repeat
 * within a run (random draws from a small range would, and two scenarios would share a handset).
 */
let mobileSequence = 0;

export function mobileNumber(prefix: string): string {
  mobileSequence += 1;
  const width = 16 - prefix.length; // E.164: at most 15 digits after the '+'
  return `${prefix}${String(mobileSequence).padStart(width, '0')}`;
}

/**
 * This worker's mobile range, routed by the platform to this worker's carrier double: a UK
 * mobile test prefix, the worker id, and random digits so concurrent runs against one remote
 * platform get ranges of their own. Leaves 5 digits (100 000 numbers) for the sequence.
 */
export function mobileRangePrefix(): string {
  const worker = process.env.CUCUMBER_WORKER_ID ?? '0';
  return `+44770${worker.slice(-1)}${digits(4)}`;
}

export function sipUsername(person: string): string {
  return `${person.toLowerCase().replace(/[^a-z]/g, '')}-${digits(8)}`;
}

/** Passwords are never replayable from the seed. */
export function password(): string {
  return randomBytes(12).toString('base64url');
}

export function companyName(): string {
  return faker.company.name();
}

/** A French mobile range of the scenario's own (+33 6…), and numbers in it. */
export function frenchMobileRange(): string {
  return `+3361${digits(4)}`;
}

/**
 * A text of exactly `length` characters from the GSM 03.38 basic set (letters, digits, spaces,
 * full stops): faker sentences, cut or padded to size, so its parts can be counted in advance.
 */
export function gsmText(length: number): string {
  let text = '';
  while (text.length < length) text += `${faker.lorem.sentence()} `;
  return text.slice(0, length).replace(/[^A-Za-z0-9 .]/g, '.');
}

/**
 * Voices: the pitch each person of a scenario speaks with on a call, so that a listener can tell
 * whom they heard (a crossed or looped-back call sounds wrong). Multiples of 50 Hz (one identical
 * frame every 20 ms), 250 Hz apart, and at least 150 Hz from the reference platform's prompts
 * (300, 450, 650, 1000, 1400 Hz), which the same listeners must tell apart from voices.
 */
export const VOICE_TONES_HZ: readonly number[] = [800, 1200, 1650, 1900, 2150, 2400, 2650, 2900];

/**
 * The first voice nobody of the scenario speaks with yet; in a crowd larger than the palette,
 * the least used one (two people in one call with the same voice are refused by the check that
 * listens to them, which says so).
 */
export function freeVoiceTone(taken: Iterable<number>): number {
  const uses = new Map(VOICE_TONES_HZ.map((hz) => [hz, 0]));
  for (const hz of taken) if (uses.has(hz)) uses.set(hz, (uses.get(hz) ?? 0) + 1);
  let best = VOICE_TONES_HZ[0] ?? 800;
  for (const hz of VOICE_TONES_HZ) if ((uses.get(hz) ?? 0) < (uses.get(best) ?? 0)) best = hz;
  return best;
}
