/**
 * The suite's own SMS text codec (independent of the platform's and of the smpp library's):
 * GSM 03.38 as unpacked septets (SMPP data_coding 0), UCS2 as UTF-16BE (data_coding 8), and
 * the concatenation UDH. Used to build what the suite's ESME sends and to check, byte for byte,
 * what the carrier double receives.
 */

/** GSM 03.38 default alphabet, row by row (16 septets per row). ESC (0x1B) is the placeholder at 0x1B. */
const DEFAULT_ALPHABET: readonly string[] = [
  '@',
  '£',
  '$',
  '¥',
  'è',
  'é',
  'ù',
  'ì',
  'ò',
  'Ç',
  '\n',
  'Ø',
  'ø',
  '\r',
  'Å',
  'å',
  'Δ',
  '_',
  'Φ',
  'Γ',
  'Λ',
  'Ω',
  'Π',
  'Ψ',
  'Σ',
  'Θ',
  'Ξ',
  '<ESC>',
  'Æ',
  'æ',
  'ß',
  'É',
  ' ',
  '!',
  '"',
  '#',
  '¤',
  '%',
  '&',
  "'",
  '(',
  ')',
  '*',
  '+',
  ',',
  '-',
  '.',
  '/',
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  ':',
  ';',
  '<',
  '=',
  '>',
  '?',
  '¡',
  'A',
  'B',
  'C',
  'D',
  'E',
  'F',
  'G',
  'H',
  'I',
  'J',
  'K',
  'L',
  'M',
  'N',
  'O',
  'P',
  'Q',
  'R',
  'S',
  'T',
  'U',
  'V',
  'W',
  'X',
  'Y',
  'Z',
  'Ä',
  'Ö',
  'Ñ',
  'Ü',
  '§',
  '¿',
  'a',
  'b',
  'c',
  'd',
  'e',
  'f',
  'g',
  'h',
  'i',
  'j',
  'k',
  'l',
  'm',
  'n',
  'o',
  'p',
  'q',
  'r',
  's',
  't',
  'u',
  'v',
  'w',
  'x',
  'y',
  'z',
  'ä',
  'ö',
  'ñ',
  'ü',
  'à',
];

/** Extension table (after ESC): septet → character. */
const EXTENSION: Readonly<Record<number, string>> = {
  0x0a: '\f',
  0x14: '^',
  0x28: '{',
  0x29: '}',
  0x2f: '\\',
  0x3c: '[',
  0x3d: '~',
  0x3e: ']',
  0x40: '|',
  0x65: '€',
};

const ESC = 0x1b;
const encodeDefault = new Map<string, number>();
DEFAULT_ALPHABET.forEach((char, septet) => {
  if (septet !== ESC) encodeDefault.set(char, septet);
});
const encodeExtension = new Map<string, number>(
  Object.entries(EXTENSION).map(([septet, char]) => [char, Number(septet)]),
);

export type TextEncoding = 'gsm7' | 'ucs2';

export function fitsGsm7(text: string): boolean {
  return [...text].every((char) => encodeDefault.has(char) || encodeExtension.has(char));
}

export function gsm7Encode(text: string): Buffer {
  const out: number[] = [];
  for (const char of text) {
    const basic = encodeDefault.get(char);
    if (basic !== undefined) out.push(basic);
    else {
      const ext = encodeExtension.get(char);
      if (ext === undefined) throw new Error(`${JSON.stringify(char)} has no GSM 03.38 septet`);
      out.push(ESC, ext);
    }
  }
  return Buffer.from(out);
}

/** Strict decoder: any octet that is not a valid unpacked septet throws (the double must notice bad bytes). */
export function gsm7Decode(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 1) {
    const septet = bytes[i];
    if (septet > 0x7f)
      throw new Error(`octet 0x${septet.toString(16)} at ${i} is not a GSM septet (packed or 8-bit text?)`);
    if (septet === ESC) {
      const next = bytes[i + 1];
      const char = next === undefined ? undefined : EXTENSION[next];
      if (char === undefined)
        throw new Error(
          `ESC at ${i} is followed by ${next === undefined ? 'nothing' : `0x${next.toString(16)}`}, not an extension septet`,
        );
      text += char;
      i += 1;
    } else {
      text += DEFAULT_ALPHABET[septet];
    }
  }
  return text;
}

export function ucs2Encode(text: string): Buffer {
  const out = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i += 1) out.writeUInt16BE(text.charCodeAt(i), i * 2);
  return out;
}

export function ucs2Decode(bytes: Buffer): string {
  if (bytes.length % 2 !== 0) throw new Error(`UCS2 text has an odd length (${bytes.length} octets)`);
  let text = '';
  for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode(bytes.readUInt16BE(i));
  return text;
}

export interface Segmented {
  encoding: TextEncoding;
  dataCoding: 0 | 8;
  parts: Buffer[];
}

/** Encodes and splits like a handset would: 160/153 septets or 70/67 UTF-16 units per part. */
export function segmentText(text: string): Segmented {
  const gsm = fitsGsm7(text);
  const units: Buffer[] = [...text].map((char) => (gsm ? gsm7Encode(char) : ucs2Encode(char)));
  const total = units.reduce((n, u) => n + u.length, 0);
  const [single, multi] = gsm ? [160, 153] : [140, 134];
  const parts: Buffer[] = [];
  if (total <= single) parts.push(Buffer.concat(units));
  else {
    let current: Buffer[] = [];
    let size = 0;
    for (const unit of units) {
      if (size + unit.length > multi) {
        parts.push(Buffer.concat(current));
        current = [];
        size = 0;
      }
      current.push(unit);
      size += unit.length;
    }
    parts.push(Buffer.concat(current));
  }
  return { encoding: gsm ? 'gsm7' : 'ucs2', dataCoding: gsm ? 0 : 8, parts };
}

export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
}

export function udhConcat(ref: number, total: number, seq: number): Buffer {
  return Buffer.from([5, 0, 3, ref & 0xff, total, seq]);
}

/** Separates a UDH from the text; reads 8-bit (IE 0x00) and 16-bit (IE 0x08) concatenation. */
export function readUdh(message: Buffer): { concat: ConcatInfo | null; text: Buffer } {
  const udhl = message[0];
  if (udhl === undefined || udhl + 1 > message.length) throw new Error('UDH length exceeds the message');
  let concat: ConcatInfo | null = null;
  let i = 1;
  while (i + 1 < udhl + 1) {
    const iei = message[i];
    const iedl = message[i + 1];
    if (i + 2 + iedl > udhl + 1) throw new Error(`UDH element 0x${iei.toString(16)} overruns the header`);
    if (iei === 0x00 && iedl === 3)
      concat = { ref: message[i + 2], total: message[i + 3], seq: message[i + 4] };
    if (iei === 0x08 && iedl === 4)
      concat = { ref: message.readUInt16BE(i + 2), total: message[i + 4], seq: message[i + 5] };
    i += 2 + iedl;
  }
  return { concat, text: message.subarray(udhl + 1) };
}
