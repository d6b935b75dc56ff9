import type { PDU } from 'smpp';

/**
 * Suite-side SMPP helpers: framing of a TCP byte stream into PDUs, the raw short_message of a
 * submit_sm/deliver_sm, and the redacted JSON/one-line renderings used in the traffic log.
 */

export const MIN_PDU = 16;
export const MAX_PDU = 16_384;

export type Frame = { ok: true; bytes: Buffer } | { ok: false; commandLength: number; sequence: number };

/** Splits a byte stream into whole PDUs; a length outside 16..16384 is reported and ends the stream. */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private broken = false;

  push(chunk: Buffer): Frame[] {
    if (this.broken) return [];
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= 4) {
      const commandLength = this.pending.readUInt32BE(0);
      if (commandLength < MIN_PDU || commandLength > MAX_PDU) {
        this.broken = true;
        frames.push({
          ok: false,
          commandLength,
          sequence: this.pending.length >= 16 ? this.pending.readUInt32BE(12) : 0,
        });
        return frames;
      }
      if (this.pending.length < commandLength) break;
      frames.push({ ok: true, bytes: Buffer.from(this.pending.subarray(0, commandLength)) });
      this.pending = this.pending.subarray(commandLength);
    }
    return frames;
  }
}

/** Field order of submit_sm and deliver_sm up to short_message (SMPP 3.4 §4.4.1 / §4.6.1). */
const BEFORE_SHORT_MESSAGE: ReadonlyArray<'c' | 1> = [
  'c',
  1,
  1,
  'c',
  1,
  1,
  'c',
  1,
  1,
  1,
  'c',
  'c',
  1,
  1,
  1,
  1,
];

/** The exact short_message octets and the TLV area of a submit_sm / deliver_sm. */
export function shortMessageOf(frame: Buffer): { shortMessage: Buffer; tlvs: Map<number, Buffer> } {
  let at = 16;
  for (const field of BEFORE_SHORT_MESSAGE) {
    if (field === 1) at += 1;
    else {
      const nul = frame.indexOf(0x00, at);
      if (nul === -1) throw new Error(`C-octet string at offset ${at} has no terminating NUL`);
      at = nul + 1;
    }
    if (at > frame.length) throw new Error('PDU ends inside its mandatory parameters');
  }
  const smLength = frame[at];
  if (smLength === undefined || at + 1 + smLength > frame.length)
    throw new Error(`sm_length ${smLength} runs past the PDU end`);
  const shortMessage = frame.subarray(at + 1, at + 1 + smLength);
  const tlvs = new Map<number, Buffer>();
  let offset = at + 1 + smLength;
  while (offset + 4 <= frame.length) {
    const tag = frame.readUInt16BE(offset);
    const len = frame.readUInt16BE(offset + 2);
    if (offset + 4 + len > frame.length) throw new Error(`TLV 0x${tag.toString(16)} runs past the PDU end`);
    tlvs.set(tag, frame.subarray(offset + 4, offset + 4 + len));
    offset += 4 + len;
  }
  return { shortMessage, tlvs };
}

const SECRET_FIELDS = new Set(['password']);

/** The decoded PDU as JSON for evidence: buffers as hex, passwords replaced by '***'. */
export function pduJson(pdu: PDU): string {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pdu)) {
    if (typeof value === 'function') continue;
    plain[key] = SECRET_FIELDS.has(key) && value ? '***' : value;
  }
  return JSON.stringify(
    plain,
    (_key, value: unknown) => {
      if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
        return `<hex ${Buffer.from((value as { data: number[] }).data).toString('hex')}>`;
      }
      return value;
    },
    2,
  );
}

/** Shortens text for one-line summaries. */
export function excerpt(text: string, max = 24): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** One-line summary: `submit_sm +4479… "Hello…"`, `bind_transceiver_resp ESME_RINVPASWD`. */
export function pduSummary(pdu: PDU, statusName: (status: number) => string, text?: string): string {
  const parts = [pdu.command];
  if (pdu.command_status) parts.push(statusName(pdu.command_status));
  if (typeof pdu.system_id === 'string' && pdu.system_id) parts.push(pdu.system_id);
  if (typeof pdu.destination_addr === 'string' && pdu.destination_addr) {
    parts.push(pdu.dest_addr_ton === 1 ? `+${pdu.destination_addr}` : pdu.destination_addr);
  }
  if (typeof pdu.message_id === 'string' && pdu.message_id) parts.push(`id=${pdu.message_id}`);
  if (text !== undefined) parts.push(JSON.stringify(excerpt(text)));
  return parts.join(' ');
}
