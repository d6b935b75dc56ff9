import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import smpp, { type PDU, type PduParams } from 'smpp';

/**
 * One SMPP connection (either direction) on the platform side: framing, decoding, sequence
 * numbers, request/response matching with a timeout, and generic_nack for what cannot be decoded.
 * The framing is ours, not smpp.Session's: Session stops reading for good after one bad PDU and
 * hides the raw bytes, and the SMSC needs both robustness and the exact short_message octets.
 */

export const HEADER_LENGTH = 16;
export const MAX_PDU_LENGTH = 16_384;
const RESPONSE_BIT = 0x80000000;

export const STATUS = smpp.errors;

export function statusName(status: number): string {
  for (const [name, value] of Object.entries(smpp.errors)) if (value === status) return name;
  return `0x${status.toString(16).padStart(8, '0')}`;
}

export class SmppResponseTimeout extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    linkName: string,
  ) {
    super(`no ${command}_resp from ${linkName} within ${timeoutMs} ms (look at the SMSC log for that link)`);
    this.name = 'SmppResponseTimeout';
  }
}

export class SmppLinkClosed extends Error {
  constructor(
    readonly command: string,
    linkName: string,
  ) {
    super(`${linkName} closed before ${command}_resp arrived`);
    this.name = 'SmppLinkClosed';
  }
}

interface PendingRequest {
  command: string;
  resolve: (response: PDU) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface SmppLinkEvents {
  /** A decoded request from the peer, with its raw frame. */
  request: [pdu: PDU, frame: Buffer];
  /** The socket closed (reason is the last error, if any). */
  close: [reason: string | null];
}

export class SmppLink extends EventEmitter<SmppLinkEvents> {
  private buffered: Buffer = Buffer.alloc(0);
  private sequence = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private lastError: string | null = null;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    readonly name: string,
    private readonly responseTimeoutMs: number,
    private readonly log: (message: string) => void,
  ) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      this.lastError = error.message;
      this.log(`${name}: socket error: ${error.message}`);
    });
    socket.on('close', () => this.onClose());
  }

  get isOpen(): boolean {
    return !this.closed && this.socket.writable;
  }

  /** Sends a request and resolves with its response (any command_status); rejects on timeout or close. */
  request(command: string, params: PduParams = {}): Promise<PDU> {
    if (!this.isOpen) return Promise.reject(new SmppLinkClosed(command, this.name));
    this.sequence = this.sequence >= 0x7fffffff ? 1 : this.sequence + 1;
    const sequenceNumber = this.sequence;
    let pdu: PDU;
    try {
      pdu = new smpp.PDU(command, { ...params, sequence_number: sequenceNumber });
      this.write(pdu);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<PDU>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(sequenceNumber);
        reject(new SmppResponseTimeout(command, this.responseTimeoutMs, this.name));
      }, this.responseTimeoutMs);
      this.pending.set(sequenceNumber, { command, resolve, reject, timer });
    });
  }

  /** Answers a request: `<command>_resp` (or generic_nack for what has no response type). */
  respond(
    request: PDU | { command: string; sequence_number: number },
    status: number,
    params: PduParams = {},
  ): void {
    const responseCommand = `${request.command}_resp`;
    const known = responseCommand in smpp.commands;
    const pdu = new smpp.PDU(known ? responseCommand : 'generic_nack', {
      ...params,
      sequence_number: request.sequence_number,
      command_status: known ? status : status || STATUS.ESME_RINVCMDID,
    });
    this.write(pdu);
  }

  genericNack(sequenceNumber: number, status: number): void {
    this.write(new smpp.PDU('generic_nack', { sequence_number: sequenceNumber, command_status: status }));
  }

  /** Ends the connection after pending writes (rejecting pending requests). */
  end(): void {
    this.closed = true;
    this.socket.end();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Resolves once the socket has closed, destroying it if it does not end within timeoutMs. */
  async closeGracefully(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.end();
    });
  }

  private write(pdu: PDU): void {
    const bytes = pdu.toBuffer();
    this.log(`${this.name} ← ${describePdu(pdu)}`);
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4 && !this.closed) {
      const length = this.buffered.readUInt32BE(0);
      if (length < HEADER_LENGTH || length > MAX_PDU_LENGTH) {
        // The stream cannot be resynchronised after a bad length: nack and close.
        const sequence = this.buffered.length >= HEADER_LENGTH ? this.buffered.readUInt32BE(12) : 0;
        this.log(`${this.name}: invalid command_length ${length}; generic_nack ESME_RINVCMDLEN and closing`);
        this.genericNack(sequence, STATUS.ESME_RINVCMDLEN);
        this.buffered = Buffer.alloc(0);
        this.end();
        return;
      }
      if (this.buffered.length < length) return;
      const frame = this.buffered.subarray(0, length);
      this.buffered = this.buffered.subarray(length);
      this.onFrame(Buffer.from(frame));
    }
  }

  private onFrame(frame: Buffer): void {
    const commandId = frame.readUInt32BE(4);
    const sequenceNumber = frame.readUInt32BE(12);
    let pdu: PDU;
    try {
      pdu = new smpp.PDU(frame);
    } catch (error) {
      this.log(
        `${this.name}: undecodable PDU 0x${commandId.toString(16)} seq ${sequenceNumber}: ${String(error)}; generic_nack ESME_RINVCMDLEN`,
      );
      if ((commandId & RESPONSE_BIT) === 0) this.genericNack(sequenceNumber, STATUS.ESME_RINVCMDLEN);
      return;
    }
    this.log(`${this.name} → ${describePdu(pdu)}`);
    if (pdu.command === 'unknown') {
      if ((commandId & RESPONSE_BIT) === 0) this.genericNack(sequenceNumber, STATUS.ESME_RINVCMDID);
      return;
    }
    if (pdu.isResponse()) {
      const pending = this.pending.get(sequenceNumber);
      if (pending === undefined) {
        this.log(`${this.name}: ${pdu.command} seq ${sequenceNumber} matches no request; ignored`);
        return;
      }
      clearTimeout(pending.timer);
      this.pending.delete(sequenceNumber);
      pending.resolve(pdu);
      return;
    }
    try {
      this.emit('request', pdu, frame);
    } catch (error) {
      // A handler bug must not kill the connection: answer with a system error instead.
      this.log(
        `${this.name}: handler for ${pdu.command} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      this.safeRespond(pdu, STATUS.ESME_RSYSERR);
    }
  }

  private safeRespond(pdu: PDU, status: number): void {
    try {
      this.respond(pdu, status);
    } catch (error) {
      this.log(`${this.name}: could not answer ${pdu.command}: ${String(error)}`);
    }
  }

  private onClose(): void {
    this.closed = true;
    for (const [sequence, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SmppLinkClosed(pending.command, this.name));
      this.pending.delete(sequence);
    }
    this.emit('close', this.lastError);
  }
}

/** One line for logs: command, status, sequence and the interesting fields, passwords hidden. */
export function describePdu(pdu: PDU): string {
  const fields: string[] = [];
  for (const key of [
    'system_id',
    'source_addr',
    'destination_addr',
    'esm_class',
    'data_coding',
    'message_id',
    'receipted_message_id',
  ]) {
    const value = pdu[key];
    if (value !== undefined && value !== '' && value !== null) fields.push(`${key}=${String(value)}`);
  }
  const status = pdu.command_status ? ` ${statusName(pdu.command_status)}` : '';
  return `${pdu.command}${status} seq=${pdu.sequence_number}${fields.length ? ' ' + fields.join(' ') : ''}`;
}

/**
 * The raw short_message octets of a submit_sm or deliver_sm frame (both share the layout), read
 * by walking the mandatory parameters: the library's decoded copy is already re-encoded text.
 */
export function rawShortMessage(frame: Buffer): Buffer {
  const { start, end } = shortMessageBounds(frame);
  return frame.subarray(start, end);
}

function shortMessageBounds(frame: Buffer): { start: number; end: number } {
  let offset = HEADER_LENGTH;
  const skipCString = (): void => {
    const end = frame.indexOf(0, offset);
    if (end < 0) throw new Error('unterminated C-octet string');
    offset = end + 1;
  };
  const skipBytes = (count: number): void => {
    offset += count;
    if (offset > frame.length) throw new Error('PDU body ends early');
  };
  skipCString(); // service_type
  skipBytes(2); // source_addr_ton, source_addr_npi
  skipCString(); // source_addr
  skipBytes(2); // dest_addr_ton, dest_addr_npi
  skipCString(); // destination_addr
  skipBytes(3); // esm_class, protocol_id, priority_flag
  skipCString(); // schedule_delivery_time
  skipCString(); // validity_period
  skipBytes(4); // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
  skipBytes(1); // sm_length
  const smLength = frame[offset - 1];
  if (offset + smLength > frame.length) throw new Error(`sm_length ${smLength} exceeds the PDU`);
  return { start: offset, end: offset + smLength };
}

/** The raw value of a TLV of a submit_sm / deliver_sm frame (TLVs follow short_message), or null. */
export function rawTlv(frame: Buffer, tag: number): Buffer | null {
  let offset: number;
  try {
    offset = shortMessageBounds(frame).end;
  } catch {
    return null; // the body is malformed; the caller has already rejected it via rawShortMessage
  }
  while (offset + 4 <= frame.length) {
    const id = frame.readUInt16BE(offset);
    const length = frame.readUInt16BE(offset + 2);
    if (offset + 4 + length > frame.length) return null;
    if (id === tag) return frame.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
  }
  return null;
}
