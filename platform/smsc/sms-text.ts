/**
 * The SMSC's text codec: GSM 03.38 (default alphabet, one unpacked septet per octet, as SMPP
 * carries it with data_coding 0) and UCS2 (UTF-16BE, data_coding 8), part counting and splitting,
 * and the concatenation UDH. Written here rather than taken from the smpp library, which labels
 * GSM text as IA5 and maps unknown characters to spaces silently.
 */

/** GSM 03.38 basic character set, indexed by septet value. */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** GSM 03.38 extension table: character → septet after the 0x1B escape. */
const GSM_EXTENSION: ReadonlyMap<string, number> = new Map([
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['€', 0x65],
]);

const ESCAPE = 0x1b;
const GSM_BASIC_INDEX: ReadonlyMap<string, number> = new Map(
  [...GSM_BASIC]
    .map((char, septet) => [char, septet] as [string, number])
    .filter(([char]) => char !== '\u001b'),
);
const GSM_EXTENSION_DECODE: ReadonlyMap<number, string> = new Map([...GSM_EXTENSION].map(([c, s]) => [s, c]));

export type SmsEncoding = 'gsm7' | 'ucs2';

export const DATA_CODING = { gsm7: 0x00, ia5: 0x01, latin1: 0x03, ucs2: 0x08 } as const;

export const MAX_PARTS = 10;

/** Septets of one character, or null when it is not in GSM 03.38. */
function gsmSeptets(char: string): number[] | null {
  const basic = GSM_BASIC_INDEX.get(char);
  if (basic !== undefined) return [basic];
  const extended = GSM_EXTENSION.get(char);
  if (extended !== undefined) return [ESCAPE, extended];
  return null;
}

export function isGsmEncodable(text: string): boolean {
  for (const char of text) if (gsmSeptets(char) === null) return false;
  return true;
}

export function encodeGsm(text: string): Buffer {
  const septets: number[] = [];
  for (const char of text) {
    const encoded = gsmSeptets(char);
    if (encoded === null)
      throw new Error(`character U+${char.codePointAt(0)?.toString(16)} is not in GSM 03.38`);
    septets.push(...encoded);
  }
  return Buffer.from(septets);
}

/** Decodes unpacked septets; bytes outside the alphabet become U+FFFD so the damage stays visible. */
export function decodeGsm(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 1) {
    const septet = bytes[i];
    if (septet === ESCAPE && i + 1 < bytes.length) {
      i += 1;
      text += GSM_EXTENSION_DECODE.get(bytes[i]) ?? '\ufffd';
    } else {
      text += septet < 0x80 && septet !== ESCAPE ? GSM_BASIC[septet] : '\ufffd';
    }
  }
  return text;
}

export function encodeUcs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

export function decodeUcs2(bytes: Buffer): string {
  const even = bytes.length % 2 === 0 ? bytes : bytes.subarray(0, bytes.length - 1);
  return Buffer.from(even).swap16().toString('utf16le');
}

export interface EncodedText {
  encoding: SmsEncoding;
  /** Payload of each part, without UDH, ready for short_message. */
  segments: Buffer[];
}

/**
 * Chooses GSM 03.38 when every character fits, else UCS2, and splits into parts: one part up to
 * 160 septets / 70 UTF-16 units, else 153 / 67 per part. Escape pairs and surrogate pairs never
 * straddle two parts (a handset would render garbage).
 */
export function encodeText(text: string): EncodedText {
  if (isGsmEncodable(text)) {
    const units = [...text].map((char) => gsmSeptets(char) as number[]);
    return { encoding: 'gsm7', segments: split(units, 160, 153).map((part) => Buffer.from(part.flat())) };
  }
  const units = [...text].map((char) => [...encodeUcs2(char)]);
  // Sizes are counted in bytes here: 70 / 67 UTF-16 units = 140 / 134 bytes.
  return { encoding: 'ucs2', segments: split(units, 140, 134).map((part) => Buffer.from(part.flat())) };
}

function split(units: number[][], singleLimit: number, partLimit: number): number[][][] {
  const total = units.reduce((sum, unit) => sum + unit.length, 0);
  if (total <= singleLimit) return [units];
  const parts: number[][][] = [];
  let current: number[][] = [];
  let size = 0;
  for (const unit of units) {
    if (size + unit.length > partLimit) {
      parts.push(current);
      current = [];
      size = 0;
    }
    current.push(unit);
    size += unit.length;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** UDH with the 8-bit-reference concatenation element: 05 00 03 ref total seq. */
export function concatenationUdh(reference: number, total: number, sequence: number): Buffer {
  return Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, sequence]);
}

export interface Concatenation {
  reference: number;
  total: number;
  sequence: number;
}

/** Splits a short_message that carries a UDH; reads 8- and 16-bit concatenation elements. */
export function splitUdh(shortMessage: Buffer): { concatenation: Concatenation | null; payload: Buffer } {
  if (shortMessage.length === 0) throw new Error('UDH indicator set but short_message is empty');
  const headerLength = shortMessage[0];
  if (headerLength + 1 > shortMessage.length)
    throw new Error(`UDH length ${headerLength} exceeds short_message length ${shortMessage.length}`);
  const header = shortMessage.subarray(1, headerLength + 1);
  let concatenation: Concatenation | null = null;
  for (let offset = 0; offset + 2 <= header.length;) {
    const id = header[offset];
    const length = header[offset + 1];
    const value = header.subarray(offset + 2, offset + 2 + length);
    if (value.length !== length) throw new Error(`UDH element 0x${id.toString(16)} is truncated`);
    if (id === 0x00 && length === 3)
      concatenation = { reference: value[0], total: value[1], sequence: value[2] };
    if (id === 0x08 && length === 4)
      concatenation = { reference: value.readUInt16BE(0), total: value[2], sequence: value[3] };
    offset += 2 + length;
  }
  return { concatenation, payload: shortMessage.subarray(headerLength + 1) };
}

/** Decodes a message body by its SMPP data_coding; null for codings the SMSC does not accept. */
export function decodeByDataCoding(dataCoding: number, payload: Buffer): string | null {
  switch (dataCoding) {
    case DATA_CODING.gsm7:
      return decodeGsm(payload);
    case DATA_CODING.ia5:
      return payload.toString('ascii');
    case DATA_CODING.latin1:
      return payload.toString('latin1');
    case DATA_CODING.ucs2:
      return decodeUcs2(payload);
    default:
      return null;
  }
}
