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

/**
 * After end() the peer gets this long to close its side; then the socket is destroyed. A peer
 * that keeps a half-closed connection open (and keeps sending) must not hold it, or memory, forever.
 */
export const DEFAULT_CLOSE_GRACE_MS = 1_000;

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
    /**
     * The response if it still arrives within the link's late-response grace period, else null
     * (grace over, or the link closed). Never rejects. A timed-out submit_sm may well have been
     * accepted: whoever resubmits should wait for this first, or the handset gets two copies.
     */
    readonly lateResponse: Promise<PDU | null> = Promise.resolve(null),
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

/** A request whose response timed out, still matched for a grace period. */
interface LateRequest {
  command: string;
  settle: (response: PDU | null) => void;
  timer: NodeJS.Timeout;
}

export interface SmppLinkOptions {
  responseTimeoutMs: number;
  /** How long a response that missed responseTimeoutMs is still matched (0: not at all). */
  lateResponseGraceMs?: number;
  /** See DEFAULT_CLOSE_GRACE_MS. */
  closeGraceMs?: number;
}

export interface SmppLinkEvents {
  /** A decoded request from the peer, with its raw frame. */
  request: [pdu: PDU, frame: Buffer];
  /** The socket closed (reason is the last error, if any). */
  close: [reason: string | null];
}

export class SmppLink extends EventEmitter<SmppLinkEvents> {
  /** Received bytes not yet framed, as chunks: joined once per frame, never re-copied per read. */
  private readonly chunks: Buffer[] = [];
  private bufferedLength = 0;
  private sequence = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly late = new Map<number, LateRequest>();
  private lastError: string | null = null;
  private closed = false;
  private destroyTimer: NodeJS.Timeout | null = null;
  private readonly responseTimeoutMs: number;
  private readonly lateResponseGraceMs: number;
  private readonly closeGraceMs: number;

  constructor(
    private readonly socket: Socket,
    readonly name: string,
    options: SmppLinkOptions,
    private readonly log: (message: string) => void,
  ) {
    super();
    this.responseTimeoutMs = options.responseTimeoutMs;
    this.lateResponseGraceMs = options.lateResponseGraceMs ?? 0;
    this.closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
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

  /** Received bytes waiting to form a complete PDU (bounded by MAX_PDU_LENGTH plus one read). */
  get bufferedBytes(): number {
    return this.bufferedLength;
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
        reject(
          new SmppResponseTimeout(
            command,
            this.responseTimeoutMs,
            this.name,
            this.awaitLateResponse(sequenceNumber, command),
          ),
        );
      }, this.responseTimeoutMs);
      this.pending.set(sequenceNumber, { command, resolve, reject, timer });
    });
  }

  /** Keeps matching a timed-out request's sequence number for the grace period. */
  private awaitLateResponse(sequenceNumber: number, command: string): Promise<PDU | null> {
    if (this.lateResponseGraceMs <= 0 || this.closed) return Promise.resolve(null);
    return new Promise<PDU | null>((settle) => {
      const timer = setTimeout(() => {
        this.late.delete(sequenceNumber);
        settle(null);
      }, this.lateResponseGraceMs);
      this.late.set(sequenceNumber, { command, settle, timer });
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

  /**
   * Ends the connection after pending writes (rejecting pending requests). Whatever the peer sends
   * from now on is discarded, and the socket is destroyed if the peer has not closed its side
   * within the close grace period.
   */
  end(): void {
    this.stopReading();
    this.socket.end();
    if (this.destroyTimer === null && !this.socket.destroyed) {
      this.destroyTimer = setTimeout(() => {
        if (this.socket.destroyed) return;
        this.log(`${this.name}: peer did not close within ${this.closeGraceMs} ms after our end; destroying`);
        this.socket.destroy();
      }, this.closeGraceMs);
    }
  }

  destroy(): void {
    this.stopReading();
    this.socket.destroy();
  }

  private stopReading(): void {
    this.closed = true;
    this.chunks.length = 0;
    this.bufferedLength = 0;
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
    if (this.closed) return; // closing: nothing the peer sends is read (or kept) any more
    this.chunks.push(chunk);
    this.bufferedLength += chunk.length;
    while (this.bufferedLength >= 4 && !this.closed) {
      const length = this.peekUInt32(0);
      if (length < HEADER_LENGTH || length > MAX_PDU_LENGTH) {
        // The stream cannot be resynchronised after a bad length: nack and close.
        const sequence = this.bufferedLength >= HEADER_LENGTH ? this.peekUInt32(12) : 0;
        this.log(`${this.name}: invalid command_length ${length}; generic_nack ESME_RINVCMDLEN and closing`);
        this.genericNack(sequence, STATUS.ESME_RINVCMDLEN);
        this.end();
        return;
      }
      if (this.bufferedLength < length) return;
      this.onFrame(this.take(length));
    }
  }

  /** A big-endian uint32 at offset of the buffered bytes (which may span chunks). */
  private peekUInt32(offset: number): number {
    const first = this.chunks[0];
    if (first.length >= offset + 4) return first.readUInt32BE(offset);
    const bytes = Buffer.alloc(4);
    let copied = 0;
    let skip = offset;
    for (const chunk of this.chunks) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      copied += chunk.copy(bytes, copied, skip, Math.min(chunk.length, skip + 4 - copied));
      skip = 0;
      if (copied === 4) break;
    }
    return bytes.readUInt32BE(0);
  }

  /** Removes and returns the first `length` buffered bytes as a buffer of its own. */
  private take(length: number): Buffer {
    const frame = Buffer.alloc(length);
    let copied = 0;
    while (copied < length) {
      const chunk = this.chunks[0];
      const wanted = length - copied;
      if (chunk.length <= wanted) {
        chunk.copy(frame, copied);
        copied += chunk.length;
        this.chunks.shift();
      } else {
        chunk.copy(frame, copied, 0, wanted);
        this.chunks[0] = chunk.subarray(wanted);
        copied += wanted;
      }
    }
    this.bufferedLength -= length;
    return frame;
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
        const late = this.late.get(sequenceNumber);
        if (late !== undefined) {
          clearTimeout(late.timer);
          this.late.delete(sequenceNumber);
          this.log(`${this.name}: ${pdu.command} seq ${sequenceNumber} arrived after its timeout; handed on`);
          late.settle(pdu);
          return;
        }
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
    this.stopReading();
    if (this.destroyTimer !== null) clearTimeout(this.destroyTimer);
    this.destroyTimer = null;
    for (const [sequence, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SmppLinkClosed(pending.command, this.name));
      this.pending.delete(sequence);
    }
    for (const [sequence, late] of this.late) {
      clearTimeout(late.timer);
      late.settle(null);
      this.late.delete(sequence);
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
