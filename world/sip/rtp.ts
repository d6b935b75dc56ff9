import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Observed, WaitTimeoutError } from '../observed';
import { peerNames, traffic } from '../traffic-log';

/**
 * RTP as the suite's phones and carrier doubles speak it: PCMU audio in 20 ms frames and
 * RFC 4733 DTMF events, over a UDP socket bound before any SDP is written (relays latch on the
 * port we advertise, so we must send from it).
 */

export const RTP_VERSION = 2;
export const PCMU_PAYLOAD_TYPE = 0;
export const DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE = 101;
export const SAMPLES_PER_FRAME = 160; // 20 ms at 8 kHz
export const FRAME_MS = 20;
const RTP_HEADER_BYTES = 12;

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  /** Only set on decode; encoding never writes CSRCs, extensions or padding. */
  csrcs?: number[];
}

export class RtpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RtpDecodeError';
  }
}

export function encodeRtp(packet: RtpPacket): Buffer {
  if (packet.payloadType < 0 || packet.payloadType > 127)
    throw new RangeError(`RTP payload type ${packet.payloadType} is outside 0..127`);
  const header = Buffer.alloc(RTP_HEADER_BYTES);
  header[0] = RTP_VERSION << 6;
  header[1] = (packet.marker ? 0x80 : 0) | packet.payloadType;
  header.writeUInt16BE(packet.sequenceNumber & 0xffff, 2);
  header.writeUInt32BE(packet.timestamp >>> 0, 4);
  header.writeUInt32BE(packet.ssrc >>> 0, 8);
  return Buffer.concat([header, packet.payload]);
}

/** Decodes one datagram; throws RtpDecodeError naming what is wrong with it. */
export function decodeRtp(datagram: Buffer): RtpPacket {
  if (datagram.length < RTP_HEADER_BYTES)
    throw new RtpDecodeError(`datagram of ${datagram.length} bytes is shorter than an RTP header`);
  const version = datagram[0] >> 6;
  if (version !== RTP_VERSION) throw new RtpDecodeError(`RTP version ${version}, expected 2`);
  const hasPadding = (datagram[0] & 0x20) !== 0;
  const hasExtension = (datagram[0] & 0x10) !== 0;
  const csrcCount = datagram[0] & 0x0f;
  let offset = RTP_HEADER_BYTES + csrcCount * 4;
  if (datagram.length < offset)
    throw new RtpDecodeError(
      `CSRC count ${csrcCount} runs past the end of a ${datagram.length}-byte datagram`,
    );
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i += 1) csrcs.push(datagram.readUInt32BE(RTP_HEADER_BYTES + i * 4));
  if (hasExtension) {
    if (datagram.length < offset + 4)
      throw new RtpDecodeError('header extension runs past the end of the datagram');
    offset += 4 + datagram.readUInt16BE(offset + 2) * 4;
    if (datagram.length < offset)
      throw new RtpDecodeError('header extension length runs past the end of the datagram');
  }
  let end = datagram.length;
  if (hasPadding) {
    const padding = datagram[datagram.length - 1];
    if (padding === 0 || end - padding < offset)
      throw new RtpDecodeError(`invalid padding length ${padding}`);
    end -= padding;
  }
  return {
    marker: (datagram[1] & 0x80) !== 0,
    payloadType: datagram[1] & 0x7f,
    sequenceNumber: datagram.readUInt16BE(2),
    timestamp: datagram.readUInt32BE(4),
    ssrc: datagram.readUInt32BE(8),
    payload: datagram.subarray(offset, end),
    csrcs,
  };
}

// ---- RFC 4733 telephone events -------------------------------------------------------------

export interface DtmfEventPayload {
  /** 0-9, 10 = '*', 11 = '#', 12-15 = 'A'-'D', 16 = flash. */
  event: number;
  end: boolean;
  /** Power level in -dBm0, 0..63. */
  volume: number;
  /** In timestamp units (8 kHz samples) since the event began. */
  duration: number;
}

const DTMF_DIGITS = '0123456789*#ABCD';

export function digitToEvent(digit: string): number {
  const index = DTMF_DIGITS.indexOf(digit.toUpperCase());
  if (digit.length !== 1 || index < 0)
    throw new RangeError(`"${digit}" is not a DTMF digit (0-9, *, #, A-D)`);
  return index;
}

export function eventToDigit(event: number): string {
  if (event === 16) return 'flash';
  const digit = DTMF_DIGITS[event];
  if (digit === undefined) throw new RangeError(`telephone event ${event} is not a DTMF digit`);
  return digit;
}

export function encodeDtmfEvent(event: DtmfEventPayload): Buffer {
  const payload = Buffer.alloc(4);
  payload[0] = event.event;
  payload[1] = (event.end ? 0x80 : 0) | (event.volume & 0x3f);
  payload.writeUInt16BE(Math.min(event.duration, 0xffff), 2);
  return payload;
}

export function decodeDtmfEvent(payload: Buffer): DtmfEventPayload {
  if (payload.length < 4)
    throw new RtpDecodeError(`telephone-event payload of ${payload.length} bytes, expected 4`);
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

// ---- PCMU ------------------------------------------------------------------------------------

/** G.711 mu-law encoding of one 16-bit linear sample. */
export function linearToMulaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let value = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  if (value > CLIP) value = CLIP;
  value += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export const PCMU_SILENCE_FRAME = Buffer.alloc(SAMPLES_PER_FRAME, 0xff);

/** G.711 mu-law decoding of one byte to a 16-bit linear sample. */
export function mulawToLinear(byte: number): number {
  const value = ~byte & 0xff;
  const exponent = (value >> 4) & 0x07;
  const magnitude = ((((value & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return value & 0x80 ? -magnitude : magnitude;
}

/**
 * The pitch of a PCMU frame from its zero crossings (a pure tone crosses zero twice per cycle),
 * or null for silence. Rough (±25 Hz over 20 ms), which is enough to tell prompts apart.
 */
export function estimateToneHz(payload: Buffer): number | null {
  let crossings = 0;
  let loud = false;
  let previous = mulawToLinear(payload[0] ?? 0xff);
  for (let i = 1; i < payload.length; i += 1) {
    const sample = mulawToLinear(payload[i] ?? 0xff);
    if (Math.abs(sample) > 1000) loud = true;
    if ((previous < 0 && sample >= 0) || (previous >= 0 && sample < 0)) crossings += 1;
    previous = sample;
  }
  if (!loud || payload.length < 2) return null;
  const seconds = payload.length / 8000;
  return crossings / 2 / seconds;
}

/**
 * What was heard, loudest first, each pitch by its name when known:
 * `"refused" 45 frames, unknown 800 Hz 3 frames` (or `nothing audible`).
 */
export function describeHeard(
  tonesHeardHz: Record<string, number>,
  nameOf: (hz: number) => string | undefined = () => undefined,
): string {
  const heard = Object.entries(tonesHeardHz)
    .map(([hz, count]) => ({ hz: Number(hz), count }))
    .filter((h) => h.count > 0)
    .sort((a, b) => b.count - a.count);
  if (heard.length === 0) return 'nothing audible';
  return heard
    .map(({ hz, count }) => `${nameOf(hz) ?? `unknown ${hz} Hz`} ${count} frame${count === 1 ? '' : 's'}`)
    .join(', ');
}

/**
 * One 20 ms frame of a sine tone. Frequencies are multiples of 50 Hz so every frame is identical,
 * which makes the pattern recognisable at the receiver (see `toneFramesReceived`).
 */
export function pcmuToneFrame(frequencyHz: number): Buffer {
  if (frequencyHz <= 0 || frequencyHz >= 4000 || frequencyHz % 50 !== 0) {
    throw new RangeError(
      `tone of ${frequencyHz} Hz: use a multiple of 50 Hz below 4000 Hz so each 20 ms frame is identical`,
    );
  }
  const frame = Buffer.alloc(SAMPLES_PER_FRAME);
  for (let n = 0; n < SAMPLES_PER_FRAME; n += 1)
    frame[n] = linearToMulaw(8000 * Math.sin((2 * Math.PI * frequencyHz * n) / 8000));
  return frame;
}

// ---- The session -----------------------------------------------------------------------------

export interface RtpStats {
  localAddress: string;
  remoteAddress: string | null;
  echo: boolean;
  /** All packets sent (audio + events). */
  sent: number;
  audioPacketsSent: number;
  dtmfPacketsSent: number;
  /** All packets received (audio + events). */
  received: number;
  audioPacketsReceived: number;
  dtmfPacketsReceived: number;
  /** Audio frames equal to the one before them from the same source: a steady tone arrived intact. */
  toneFramesReceived: number;
  /** From the sequence-number range of each SSRC seen. */
  expected: number;
  lost: number;
  lossPercent: number;
  /** Largest time between two consecutive arrivals, in milliseconds. */
  maxGapMs: number;
  firstArrivalAt: string | null;
  lastArrivalAt: string | null;
  payloadTypes: number[];
  ssrcs: number;
  sources: string[];
  malformedReceived: number;
  /** Largest lateness of the sender against its 20 ms schedule, in milliseconds. */
  maxSendLatenessMs: number;
  dtmfReceived: string;
  /** Audio frames received per pitch (rounded to 50 Hz): which tones and prompts were heard. */
  tonesHeardHz: Record<string, number>;
}

export interface ReceivedDtmf {
  digit: string;
  /** Epoch milliseconds when the event's first packet arrived. */
  at: number;
  durationMs: number;
}

export interface RtpSessionOptions {
  /** Actor names for the traffic log ("alice-phone", "PSTN"). */
  actor: string;
  peerActor?: string;
  /** Tone frequency of the audio pattern; default 1000 Hz. */
  toneHz?: number;
  /** Send back whatever arrives (the carrier double's "echo" media). */
  echo?: boolean;
  telephoneEventPayloadType?: number;
  bindHost?: string;
}

export interface SendDtmfOptions {
  /** Duration of each digit; default 100 ms. */
  durationMs?: number;
  /** Pause between digits; default 60 ms. */
  gapMs?: number;
}

interface SsrcTrack {
  baseSeq: number;
  maxSeq: number;
  cycles: number;
  received: number;
}

interface PendingDigit {
  event: number;
  digit: string;
  /** Packets carrying the growing duration, the last of which is the first end packet. */
  packets: number;
  /** Ticks without events after the digit, so consecutive equal digits stay distinct. */
  gapTicksAfter: number;
  sent: number;
  startTimestamp?: number;
  done: () => void;
}

const END_PACKET_REPEATS = 3;

export class RtpSession {
  readonly dtmf: Observed<ReceivedDtmf>;
  /** Settles once the socket is bound: the port can be advertised. */
  readonly ready: Promise<void>;

  private readonly socket: Socket;
  private readonly actor: string;
  private readonly toneFrame: Buffer;
  /** The pitch this side speaks with (its voice), unless it echoes what it hears. */
  private readonly ownToneHz: number;
  private readonly ssrc = randomUint32();
  private sequence = randomUint32() & 0xffff;
  private timestamp = randomUint32();
  private telephoneEventPayloadType: number;
  private echoing: boolean;
  private readonly echoTimestampOffset = randomUint32();
  private peerActor: string;
  private remote: { host: string; port: number } | null = null;
  private boundAddress: { host: string; port: number } | null = null;
  private closed = false;
  private closing: Promise<void> | undefined;
  private socketError: Error | null = null;

  // sender clock: tick n is due at clockStart + n * 20 ms
  private audioOn = false;
  private clockTimer: NodeJS.Timeout | null = null;
  private clockStart = 0;
  private clockTick = 0;
  private clockBaseTimestamp = 0;
  private lastTickAt = 0;
  private readonly digitQueue: PendingDigit[] = [];
  private gapTicksLeft = 0;
  private maxSendLatenessMs = 0;

  // counters
  private audioPacketsSent = 0;
  private dtmfPacketsSent = 0;
  private audioPacketsReceived = 0;
  private dtmfPacketsReceived = 0;
  private toneFramesReceived = 0;
  private malformedReceived = 0;
  private maxGapMs = 0;
  private firstArrival: number | null = null;
  private lastArrival: number | null = null;
  private lastArrivalMono = 0;
  private readonly payloadTypes = new Set<number>();
  private readonly sources = new Set<string>();
  private readonly tracks = new Map<number, SsrcTrack>();
  private readonly packetWaiters = new Set<() => void>();
  // RFC 4733 receive side: the event currently being received, keyed by SSRC and timestamp
  private currentEvent: {
    key: string;
    digit: string;
    at: number;
    duration: number;
    reported: boolean;
  } | null = null;

  constructor(options: RtpSessionOptions) {
    this.actor = options.actor;
    this.peerActor = options.peerActor ?? 'remote RTP';
    this.ownToneHz = options.toneHz ?? 1000;
    this.toneFrame = pcmuToneFrame(this.ownToneHz);
    this.echoing = options.echo ?? false;
    this.telephoneEventPayloadType =
      options.telephoneEventPayloadType ?? DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE;
    this.dtmf = new Observed<ReceivedDtmf>(
      (d) => `DTMF '${d.digit}' (${d.durationMs} ms) at ${new Date(d.at).toISOString()}`,
    );
    this.socket = createSocket('udp4');
    this.socket.on('message', (datagram, from) => this.onDatagram(datagram, from));
    this.socket.on('error', (error) => {
      // A socket error must be visible in the evidence, never crash the scenario's process.
      this.socketError = error;
      traffic.record({
        protocol: 'RTP',
        from: this.actor,
        to: this.peerActor,
        summary: `RTP socket error: ${error.message}`,
      });
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, options.bindHost ?? '127.0.0.1', () => {
        this.socket.off('error', reject);
        const address = this.socket.address();
        this.boundAddress = { host: address.address, port: address.port };
        resolve();
      });
    });
  }

  /** Creates a session and waits until its port is bound. */
  static async open(options: RtpSessionOptions): Promise<RtpSession> {
    const session = new RtpSession(options);
    await session.ready;
    return session;
  }

  /** Where this session receives (and sends from); known once `ready` settled, kept after close. */
  get localAddress(): { host: string; port: number } {
    if (!this.boundAddress) throw new Error(`${this.actor}: RTP socket is not bound yet (await ready)`);
    return this.boundAddress;
  }

  get localPort(): number {
    return this.localAddress.port;
  }

  get isSending(): boolean {
    return this.audioOn;
  }

  setRemote(host: string, port: number, peerActor?: string): void {
    // A peer the target named at that address (lab: rtpengine) is who this session really talks to.
    this.peerActor = peerNames.nameOf(host, port) ?? peerActor ?? this.peerActor;
    const changed = this.remote?.host !== host || this.remote?.port !== port;
    this.remote = { host, port };
    if (changed)
      traffic.record({
        protocol: 'RTP',
        from: this.actor,
        to: this.peerActor,
        summary: `RTP remote set to ${host}:${port}`,
      });
  }

  setTelephoneEventPayloadType(payloadType: number): void {
    this.telephoneEventPayloadType = payloadType;
  }

  setEcho(on: boolean): void {
    this.echoing = on;
  }

  startSending(): void {
    if (this.closed) throw new Error(`${this.actor}: cannot start sending RTP on a closed session`);
    if (this.audioOn) return;
    if (!this.remote)
      throw new Error(
        `${this.actor}: cannot start sending RTP before the remote address is known (setRemote)`,
      );
    this.audioOn = true;
    traffic.record({
      protocol: 'RTP',
      from: this.actor,
      to: this.peerActor,
      summary: `RTP PCMU stream started ${this.localAddress.host}:${this.localAddress.port} -> ${this.remote.host}:${this.remote.port} (SSRC ${hex(this.ssrc)})`,
    });
    this.ensureClock();
  }

  stopSending(): void {
    if (!this.audioOn) return;
    this.audioOn = false;
    traffic.record({
      protocol: 'RTP',
      from: this.actor,
      to: this.peerActor,
      summary: `RTP PCMU stream stopped after ${this.audioPacketsSent} audio packets`,
    });
  }

  /**
   * Sends RFC 4733 events on the audio stream's SSRC and sequence space (audio pauses for the
   * event's duration). Resolves when the last end packet of the last digit has been sent.
   */
  sendDtmf(digits: string, options: SendDtmfOptions = {}): Promise<void> {
    if (this.closed)
      return Promise.reject(new Error(`${this.actor}: cannot send DTMF on a closed RTP session`));
    if (!this.remote)
      return Promise.reject(
        new Error(`${this.actor}: cannot send DTMF before the remote RTP address is known`),
      );
    const durationMs = options.durationMs ?? 100;
    const gapTicks = Math.max(1, Math.round((options.gapMs ?? 60) / FRAME_MS));
    const events = [...digits].map((digit) => ({ digit, event: digitToEvent(digit) }));
    if (events.length === 0) return Promise.resolve();
    traffic.record({
      protocol: 'RTP',
      from: this.actor,
      to: this.peerActor,
      summary: `DTMF "${digits}" (RFC 4733, PT ${this.telephoneEventPayloadType}, ${durationMs} ms each)`,
    });
    const packets = Math.max(1, Math.ceil(durationMs / FRAME_MS));
    const finished = events.map(
      ({ digit, event }) =>
        new Promise<void>((done) =>
          this.digitQueue.push({ event, digit, packets, gapTicksAfter: gapTicks, sent: 0, done }),
        ),
    );
    this.ensureClock();
    return Promise.all(finished).then(() => undefined);
  }

  /** Resolves once `count` RTP packets (audio or events) have arrived in total. */
  waitForPackets(count: number, timeoutMs: number): Promise<void> {
    return this.waitForCount(
      () => this.packetsReceived(),
      count,
      timeoutMs,
      (s) =>
        `Timed out after ${timeoutMs} ms waiting for ${count} RTP packets at ${this.actor} (${s.localAddress}). ` +
        `Arrived instead: ${s.received} packets from ${s.sources.join(', ') || 'nobody'}; ` +
        `this side sent ${s.sent} to ${s.remoteAddress ?? 'nowhere (no remote set)'}. ` +
        'Look at: the SDP in the SIP attachment (c=/m= lines) and the RTP statistics.',
    );
  }

  /** The pitch this side sends (its voice), or null when it only echoes what arrives. */
  get toneHz(): number | null {
    return this.echoing ? null : this.ownToneHz;
  }

  /** Audio frames received so far whose pitch is within `toleranceHz` of `hz`. */
  framesHeardAt(hz: number, toleranceHz = 60): number {
    let frames = 0;
    for (const [bucket, count] of this.tonesHeard) if (Math.abs(bucket - hz) <= toleranceHz) frames += count;
    return frames;
  }

  /**
   * Resolves once `frames` audio frames at about `hz` have been heard in total (a prompt, a tone).
   * `nameOf` names a pitch ('"confirmed"', "Bob's voice") so a failure says what was heard
   * instead, not only at which frequencies.
   */
  waitForTone(
    hz: number,
    frames: number,
    timeoutMs: number,
    what = `a ${hz} Hz tone`,
    nameOf: (hz: number) => string | undefined = () => undefined,
  ): Promise<void> {
    return this.waitForCount(
      () => this.framesHeardAt(hz),
      frames,
      timeoutMs,
      (s) =>
        `Timed out after ${timeoutMs} ms waiting for ${this.actor} to hear ${what} (${frames} frames at about ${hz} Hz). ` +
        `Heard instead: ${describeHeard(s.tonesHeardHz, nameOf)}; ${s.received} packets from ${s.sources.join(', ') || 'nobody'}. ` +
        'Look at: the RTP statistics and the platform log.',
    );
  }

  /**
   * Resolves once this side has sent `count` packets in total: a clock that runs at the speaker's
   * pace, for checks such as "while Bob said another half second, Alice heard nothing".
   */
  waitForSent(count: number, timeoutMs: number): Promise<void> {
    return this.waitForCount(
      () => this.audioPacketsSent + this.dtmfPacketsSent,
      count,
      timeoutMs,
      (s) =>
        `Timed out after ${timeoutMs} ms waiting for ${this.actor} to have sent ${count} RTP packets; it sent ${s.sent} ` +
        `to ${s.remoteAddress ?? 'nowhere (no remote set)'}. Look at: the RTP statistics and whether the call was still up.`,
    );
  }

  private waitForCount(
    current: () => number,
    count: number,
    timeoutMs: number,
    timeoutMessage: (stats: RtpStats) => string,
  ): Promise<void> {
    if (current() >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (current() < count) return;
        clearTimeout(timer);
        this.packetWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.packetWaiters.delete(check);
        reject(new WaitTimeoutError(timeoutMessage(this.stats())));
      }, timeoutMs);
      this.packetWaiters.add(check);
    });
  }

  private notifyPacketWaiters(): void {
    for (const waiter of [...this.packetWaiters]) waiter();
  }

  stats(): RtpStats {
    let expected = 0;
    let received = 0;
    for (const track of this.tracks.values()) {
      expected += track.cycles + track.maxSeq - track.baseSeq + 1;
      received += track.received;
    }
    const lost = Math.max(0, expected - received);
    return {
      localAddress: `${this.localAddressOrUnbound()}`,
      remoteAddress: this.remote ? `${this.remote.host}:${this.remote.port}` : null,
      echo: this.echoing,
      sent: this.audioPacketsSent + this.dtmfPacketsSent,
      audioPacketsSent: this.audioPacketsSent,
      dtmfPacketsSent: this.dtmfPacketsSent,
      received: this.packetsReceived(),
      audioPacketsReceived: this.audioPacketsReceived,
      dtmfPacketsReceived: this.dtmfPacketsReceived,
      toneFramesReceived: this.toneFramesReceived,
      expected,
      lost,
      lossPercent: expected === 0 ? 0 : Math.round((lost / expected) * 10_000) / 100,
      maxGapMs: Math.round(this.maxGapMs * 10) / 10,
      firstArrivalAt: this.firstArrival === null ? null : new Date(this.firstArrival).toISOString(),
      lastArrivalAt: this.lastArrival === null ? null : new Date(this.lastArrival).toISOString(),
      payloadTypes: [...this.payloadTypes].sort((a, b) => a - b),
      ssrcs: this.tracks.size,
      sources: [...this.sources],
      malformedReceived: this.malformedReceived,
      maxSendLatenessMs: Math.round(this.maxSendLatenessMs * 10) / 10,
      dtmfReceived: this.dtmf
        .all()
        .map((d) => d.digit)
        .join(''),
      tonesHeardHz: Object.fromEntries([...this.tonesHeard].sort(([a], [b]) => a - b)),
    };
  }

  /** Stops media and closes the socket; every call, the first or a repeated one, resolves once it is closed. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    this.closed = true;
    this.audioOn = false;
    if (this.clockTimer) clearTimeout(this.clockTimer);
    this.clockTimer = null;
    this.flushUnendedEvent();
    for (const digit of this.digitQueue.splice(0)) digit.done();
    const s = this.stats();
    traffic.record({
      protocol: 'RTP',
      from: this.actor,
      to: this.peerActor,
      summary: `RTP session closed: sent ${s.sent}, received ${s.received}/${s.expected} (lost ${s.lost}), max gap ${s.maxGapMs} ms`,
      detail: JSON.stringify(s, null, 2),
    });
    // A socket closed in the middle of its bind never settles `ready`: let the bind finish first.
    const bound = await this.ready.then(
      () => true,
      () => false,
    );
    await new Promise<void>((done) => {
      try {
        this.socket.close(() => done());
      } catch (error) {
        // After a failed bind the socket may no longer be running: nothing left to release.
        if (bound) throw error;
        done();
      }
    });
  }

  /** The last socket error, if any (also recorded in the traffic log). */
  get lastError(): Error | null {
    return this.socketError;
  }

  // ---- sending -------------------------------------------------------------------------------

  private ensureClock(): void {
    if (this.clockTimer || this.closed) return;
    const now = performance.now();
    // RTP time keeps running while idle, so a restarted clock continues where wall time is.
    if (this.lastTickAt > 0) {
      this.timestamp =
        (this.timestamp + Math.round((now - this.lastTickAt) / FRAME_MS) * SAMPLES_PER_FRAME) >>> 0;
    }
    this.clockStart = now;
    this.clockTick = 0;
    this.clockBaseTimestamp = this.timestamp;
    this.scheduleTick();
  }

  private scheduleTick(): void {
    const due = this.clockStart + this.clockTick * FRAME_MS;
    this.clockTimer = setTimeout(() => this.onTick(), Math.max(0, due - performance.now()));
  }

  private onTick(): void {
    this.clockTimer = null;
    if (this.closed) return;
    const now = performance.now();
    // Catch up (a few packets in a burst) if the event loop was late; never drift.
    let burst = 0;
    while (this.clockStart + this.clockTick * FRAME_MS <= now && burst < 5) {
      const lateness = now - (this.clockStart + this.clockTick * FRAME_MS);
      this.maxSendLatenessMs = Math.max(this.maxSendLatenessMs, lateness);
      const tickTimestamp = (this.clockBaseTimestamp + this.clockTick * SAMPLES_PER_FRAME) >>> 0;
      this.timestamp = tickTimestamp;
      this.lastTickAt = this.clockStart + this.clockTick * FRAME_MS;
      this.clockTick += 1;
      burst += 1;
      if (!this.sendOneTick(tickTimestamp)) return; // idle: the clock stops
    }
    if (this.clockStart + this.clockTick * FRAME_MS <= now) {
      // Far behind (process was blocked): resynchronise instead of flooding.
      this.clockBaseTimestamp = (this.clockBaseTimestamp + this.clockTick * SAMPLES_PER_FRAME) >>> 0;
      this.clockStart = now;
      this.clockTick = 0;
    }
    this.scheduleTick();
  }

  /** Sends what is due at this tick; returns false when there is nothing left to send. */
  private sendOneTick(tickTimestamp: number): boolean {
    const digit = this.digitQueue[0];
    if (digit && this.gapTicksLeft === 0) {
      this.sendDigitPacket(digit, tickTimestamp);
      return true;
    }
    if (this.gapTicksLeft > 0) this.gapTicksLeft -= 1;
    if (this.audioOn && !this.echoing) {
      this.transmit({
        marker: this.audioPacketsSent === 0,
        payloadType: PCMU_PAYLOAD_TYPE,
        timestamp: tickTimestamp,
        payload: this.toneFrame,
      });
      this.audioPacketsSent += 1;
      this.notifyPacketWaiters();
      return true;
    }
    return this.gapTicksLeft > 0 || this.digitQueue.length > 0;
  }

  private sendDigitPacket(digit: PendingDigit, tickTimestamp: number): void {
    if (digit.startTimestamp === undefined) digit.startTimestamp = tickTimestamp;
    const index = digit.sent;
    const isEnd = index >= digit.packets - 1;
    const duration = (isEnd ? digit.packets : index + 1) * SAMPLES_PER_FRAME;
    this.transmit({
      marker: index === 0,
      payloadType: this.telephoneEventPayloadType,
      timestamp: digit.startTimestamp,
      payload: encodeDtmfEvent({ event: digit.event, end: isEnd, volume: 10, duration }),
    });
    this.dtmfPacketsSent += 1;
    this.notifyPacketWaiters();
    digit.sent += 1;
    if (digit.sent >= digit.packets - 1 + END_PACKET_REPEATS) {
      this.digitQueue.shift();
      this.gapTicksLeft = digit.gapTicksAfter;
      digit.done();
    }
  }

  private transmit(fields: Omit<RtpPacket, 'sequenceNumber' | 'ssrc'>, to = this.remote): void {
    if (!to || this.closed) return;
    this.sequence = (this.sequence + 1) & 0xffff;
    const datagram = encodeRtp({ ...fields, sequenceNumber: this.sequence, ssrc: this.ssrc });
    this.socket.send(datagram, to.port, to.host, (error) => {
      if (error && !this.closed) {
        this.socketError = error;
        traffic.record({
          protocol: 'RTP',
          from: this.actor,
          to: this.peerActor,
          summary: `RTP send to ${to.host}:${to.port} failed: ${error.message}`,
        });
      }
    });
  }

  // ---- receiving -----------------------------------------------------------------------------

  private onDatagram(datagram: Buffer, from: RemoteInfo): void {
    if (this.closed) return;
    let packet: RtpPacket;
    try {
      packet = decodeRtp(datagram);
    } catch (error) {
      this.malformedReceived += 1;
      if (this.malformedReceived <= 10) {
        traffic.record({
          protocol: 'RTP',
          from: `${from.address}:${from.port}`,
          to: this.actor,
          summary: `malformed RTP ignored: ${(error as Error).message}`,
          detail: datagram.subarray(0, 64).toString('hex'),
        });
      }
      return;
    }
    const mono = performance.now();
    const now = Date.now();
    if (this.firstArrival === null) {
      this.firstArrival = now;
      traffic.record({
        protocol: 'RTP',
        from: this.peerActor,
        to: this.actor,
        summary: `first RTP packet from ${from.address}:${from.port} (PT ${packet.payloadType}, SSRC ${hex(packet.ssrc)})`,
      });
    } else {
      this.maxGapMs = Math.max(this.maxGapMs, mono - this.lastArrivalMono);
    }
    this.lastArrival = now;
    this.lastArrivalMono = mono;
    this.payloadTypes.add(packet.payloadType);
    this.sources.add(`${from.address}:${from.port}`);
    this.track(packet);

    if (packet.payloadType === this.telephoneEventPayloadType) {
      this.dtmfPacketsReceived += 1;
      this.onTelephoneEvent(packet, now);
    } else {
      this.audioPacketsReceived += 1;
      if (packet.payloadType === PCMU_PAYLOAD_TYPE) {
        const hz = estimateToneHz(packet.payload);
        if (hz !== null) {
          const bucket = Math.round(hz / 50) * 50;
          this.tonesHeard.set(bucket, (this.tonesHeard.get(bucket) ?? 0) + 1);
        }
      }
      // A steady tone repeats exactly every 20 ms: equal consecutive frames show audio arrived intact.
      const previous = this.lastAudioPayload.get(packet.ssrc);
      if (
        packet.payloadType === PCMU_PAYLOAD_TYPE &&
        previous !== undefined &&
        previous.equals(packet.payload) &&
        !packet.payload.equals(PCMU_SILENCE_FRAME)
      ) {
        this.toneFramesReceived += 1;
      }
      this.lastAudioPayload.set(packet.ssrc, Buffer.from(packet.payload));
    }
    if (this.echoing) {
      const target = this.remote ?? { host: from.address, port: from.port };
      this.transmit(
        {
          marker: packet.marker,
          payloadType: packet.payloadType,
          timestamp: (packet.timestamp + this.echoTimestampOffset) >>> 0,
          payload: Buffer.from(packet.payload),
        },
        target,
      );
      if (packet.payloadType === this.telephoneEventPayloadType) this.dtmfPacketsSent += 1;
      else this.audioPacketsSent += 1;
    }
    this.notifyPacketWaiters();
  }

  private readonly lastAudioPayload = new Map<number, Buffer>();
  /** Received audio frames per estimated pitch bucket (50 Hz). */
  private readonly tonesHeard = new Map<number, number>();

  private track(packet: RtpPacket): void {
    const track = this.tracks.get(packet.ssrc);
    if (!track) {
      this.tracks.set(packet.ssrc, {
        baseSeq: packet.sequenceNumber,
        maxSeq: packet.sequenceNumber,
        cycles: 0,
        received: 1,
      });
      return;
    }
    track.received += 1;
    const delta = (packet.sequenceNumber - track.maxSeq + 0x10000) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (packet.sequenceNumber < track.maxSeq) track.cycles += 0x10000;
      track.maxSeq = packet.sequenceNumber;
    }
  }

  private onTelephoneEvent(packet: RtpPacket, now: number): void {
    let event: DtmfEventPayload;
    let digit: string;
    try {
      event = decodeDtmfEvent(packet.payload);
      digit = eventToDigit(event.event);
    } catch (error) {
      this.malformedReceived += 1;
      traffic.record({
        protocol: 'RTP',
        from: this.peerActor,
        to: this.actor,
        summary: `unusable telephone-event ignored: ${(error as Error).message}`,
      });
      return;
    }
    const key = `${packet.ssrc}:${packet.timestamp}`;
    if (this.currentEvent?.key !== key) {
      this.flushUnendedEvent();
      this.currentEvent = { key, digit, at: now, duration: event.duration, reported: false };
    }
    const current = this.currentEvent;
    if (!current) return;
    current.duration = Math.max(current.duration, event.duration);
    if (event.end && !current.reported) {
      current.reported = true;
      this.reportDtmf(current);
    }
  }

  /** An event whose end packets were all lost is still reported when the next one starts. */
  private flushUnendedEvent(): void {
    const current = this.currentEvent;
    if (current && !current.reported) {
      current.reported = true;
      this.reportDtmf(current);
    }
  }

  private reportDtmf(event: { digit: string; at: number; duration: number }): void {
    const received: ReceivedDtmf = {
      digit: event.digit,
      at: event.at,
      durationMs: Math.round(event.duration / 8),
    };
    traffic.record({
      protocol: 'RTP',
      from: this.peerActor,
      to: this.actor,
      summary: `DTMF '${received.digit}' received (${received.durationMs} ms)`,
    });
    this.dtmf.add(received);
  }

  private packetsReceived(): number {
    return this.audioPacketsReceived + this.dtmfPacketsReceived;
  }

  private localAddressOrUnbound(): string {
    return this.boundAddress ? `${this.boundAddress.host}:${this.boundAddress.port}` : 'unbound';
  }
}

function randomUint32(): number {
  return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
