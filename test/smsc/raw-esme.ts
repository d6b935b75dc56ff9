import { connect, type Socket } from 'node:net';
import smpp, { type PDU } from 'smpp';
import { Observed } from '../../world/observed';
import { FrameSplitter } from '../../world/smpp/pdu-frames';

/**
 * A bare SMPP client over a plain socket, for what a well-behaved ESME never does: keep sending
 * after the SMSC ended the connection, stay silent instead of binding, ignore a deliver_sm.
 * Nothing is answered automatically; every PDU received lands in `pdus`.
 */
export class RawEsme {
  readonly pdus = new Observed<PDU>(
    (p) => `${p.command} status ${p.command_status} seq ${p.sequence_number}`,
  );
  /** Resolves when the socket is fully closed (by either side). */
  readonly closed: Promise<void>;
  /** True once the SMSC ended its side (FIN received). */
  peerEnded = false;
  private sequence = 0;
  private readonly frames = new FrameSplitter();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.frames.push(chunk)) if (frame.ok) this.pdus.add(new smpp.PDU(frame.bytes));
    });
    socket.on('end', () => {
      this.peerEnded = true;
    });
    socket.on('error', () => undefined); // a reset after the SMSC destroyed the socket is expected here
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** allowHalfOpen: keep our side open (and writable) after the SMSC ends its side. */
  static connect(target: { host: string; port: number }, allowHalfOpen = false): Promise<RawEsme> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port, allowHalfOpen });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawEsme(socket));
      });
    });
  }

  /** Sends a request; returns its sequence number. */
  send(command: string, params: Record<string, unknown> = {}): number {
    this.sequence += 1;
    this.socket.write(new smpp.PDU(command, { ...params, sequence_number: this.sequence }).toBuffer());
    return this.sequence;
  }

  async request(command: string, params: Record<string, unknown> = {}, timeoutMs = 1_000): Promise<PDU> {
    const sequence = this.send(command, params);
    return this.pdus.waitFor((p) => p.isResponse() && p.sequence_number === sequence, {
      awaited: `the response to ${command} (seq ${sequence})`,
      timeoutMs,
    });
  }

  respond(request: PDU, status = 0): void {
    this.socket.write(request.response({ command_status: status, message_id: '' }).toBuffer());
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** Resolves true if the promise settles within timeoutMs, false otherwise. */
export async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
