/**
 * Bencode (the BitTorrent encoding rtpengine's "ng" control protocol uses): byte strings
 * `<length>:<bytes>`, integers `i<n>e`, lists `l…e`, dictionaries `d…e`. We encode keys sorted as
 * raw bytes (the BitTorrent rule); rtpengine and Kamailio write them in insertion order ("sdp"
 * before "result"), so the decoder takes any order and refuses only a repeated key.
 * Byte strings decode to Buffer (they need not be UTF-8); the caller reads them as text.
 */

export type BencodeValue = Buffer | string | number | BencodeValue[] | { [key: string]: BencodeValue };

/** A decode failure: `offset` is where in the input the decoder stopped, `expected` what it wanted there. */
export class BencodeError extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
    found: string,
  ) {
    super(`bencode: expected ${expected} at offset ${offset}, found ${found}`);
    this.name = 'BencodeError';
  }
}

export function encode(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, parts, 0);
  return Buffer.concat(parts);
}

/** Nesting deeper than this is refused both ways: no input can exhaust the stack. */
const MAX_DEPTH = 64;

function encodeInto(value: BencodeValue, parts: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new Error(`bencode: nesting deeper than ${MAX_DEPTH}`);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new Error(`bencode: ${value} is not an integer within ±2^53 (only safe integers are encoded)`);
    parts.push(Buffer.from(`i${value}e`, 'ascii'));
    return;
  }
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(Buffer.from(`${bytes.length}:`, 'ascii'), bytes);
    return;
  }
  if (Array.isArray(value)) {
    parts.push(Buffer.from('l'));
    for (const item of value) encodeInto(item, parts, depth + 1);
    parts.push(Buffer.from('e'));
    return;
  }
  const keys = Object.keys(value)
    .map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  parts.push(Buffer.from('d'));
  for (const { key, bytes } of keys) {
    const item = value[key];
    if (item === undefined) continue; // an absent optional field is not sent
    parts.push(Buffer.from(`${bytes.length}:`, 'ascii'), bytes);
    encodeInto(item, parts, depth + 1);
  }
  parts.push(Buffer.from('e'));
}

/** Decodes exactly one value; trailing bytes are an error. */
export function decode(input: Buffer): BencodeValue {
  const decoder = new Decoder(input);
  const value = decoder.value(0);
  if (decoder.offset !== input.length) throw decoder.fail('end of input');
  return value;
}

const DIGIT = /^[0-9]$/;

class Decoder {
  offset = 0;

  constructor(private readonly input: Buffer) {}

  fail(expected: string): BencodeError {
    const found =
      this.offset >= this.input.length
        ? 'end of input'
        : JSON.stringify(this.input.subarray(this.offset, this.offset + 8).toString('latin1'));
    return new BencodeError(this.offset, expected, found);
  }

  value(depth: number): BencodeValue {
    if (depth > MAX_DEPTH) throw this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    const lead = this.char();
    if (lead === 'i') return this.integer();
    if (lead === 'l') {
      this.offset += 1;
      const list: BencodeValue[] = [];
      while (this.char() !== 'e') {
        if (this.offset >= this.input.length) throw this.fail('a list item or "e"');
        list.push(this.value(depth + 1));
      }
      this.offset += 1;
      return list;
    }
    if (lead === 'd') return this.dictionary(depth);
    if (lead !== undefined && DIGIT.test(lead)) return this.bytes();
    throw this.fail('a value ("i", "l", "d" or a string length)');
  }

  private char(): string | undefined {
    const byte = this.input[this.offset];
    return byte === undefined ? undefined : String.fromCharCode(byte);
  }

  private integer(): number {
    this.offset += 1; // "i"
    const start = this.offset;
    const end = this.input.indexOf('e', start, 'ascii');
    if (end < 0) throw this.fail('an integer ended by "e"');
    const text = this.input.subarray(start, end).toString('latin1');
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) throw this.fail('an integer without leading zeros or "-0"');
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw this.fail('an integer within ±2^53 (larger ones are refused)');
    this.offset = end + 1;
    return value;
  }

  private bytes(): Buffer {
    const colon = this.input.indexOf(':', this.offset, 'ascii');
    if (colon < 0) throw this.fail('a string length ended by ":"');
    const text = this.input.subarray(this.offset, colon).toString('latin1');
    if (!/^(0|[1-9][0-9]*)$/.test(text)) throw this.fail('a string length (digits without leading zeros)');
    const length = Number(text);
    const start = colon + 1;
    if (start + length > this.input.length) {
      this.offset = start;
      throw this.fail(`${length} bytes of string (only ${this.input.length - start} left)`);
    }
    this.offset = start + length;
    return this.input.subarray(start, start + length);
  }

  private dictionary(depth: number): { [key: string]: BencodeValue } {
    this.offset += 1; // "d"
    const dict: { [key: string]: BencodeValue } = Object.create(null) as { [key: string]: BencodeValue };
    while (this.char() !== 'e') {
      const lead = this.char();
      if (lead === undefined || !DIGIT.test(lead)) throw this.fail('a dictionary key (a string) or "e"');
      const keyOffset = this.offset;
      const key = this.bytes();
      if (Object.prototype.hasOwnProperty.call(dict, key.toString('utf8'))) {
        this.offset = keyOffset;
        throw this.fail(`a key other than ${JSON.stringify(key.toString('latin1'))} (keys must be unique)`);
      }
      if (this.offset >= this.input.length)
        throw this.fail(`a value for key ${JSON.stringify(key.toString('latin1'))}`);
      dict[key.toString('utf8')] = this.value(depth + 1);
    }
    this.offset += 1;
    return dict;
  }
}

/** Reading decoded values: byte strings as text, dictionaries as records. */
export function asText(value: BencodeValue | undefined): string | undefined {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return typeof value === 'string' ? value : undefined;
}

export function asDict(value: BencodeValue | undefined): { [key: string]: BencodeValue } | undefined {
  return value !== undefined && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value)
    ? value
    : undefined;
}

export function asList(value: BencodeValue | undefined): BencodeValue[] | undefined {
  return Array.isArray(value) ? value : undefined;
}
