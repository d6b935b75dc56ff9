/**
 * A media endpoint the platform runs itself, for calls it answers on its own (voicemail, the
 * verification line): it plays prompts, records what the caller says and hears the keys the
 * caller presses (RFC 4733), like the media server behind Kamailio in a real deployment.
 * It speaks plain RTP/AVP PCMU with telephone-event, and sits behind the relay like any callee.
 */
import dgram, { type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

const FRAME_MS = 20;
const SAMPLES_PER_FRAME = 160;
const PCMU = 0;
export const TELEPHONE_EVENT_PAYLOAD_TYPE = 101;
const DTMF_SYMBOLS = '0123456789*#ABCD';

/** ITU-T G.711 μ-law of one 16-bit linear sample. */
export function linearToMulaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(Math.round(sample)), CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = ~(sign | (exponent << 4) | mantissa);
  return magnitude & 0xff;
}

/** A WAV file (RIFF, format 7 = G.711 μ-law, 8 kHz mono) around PCMU bytes: what a speech provider accepts. */
export function mulawWav(audio: Buffer): Buffer {
  const header = Buffer.alloc(58);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(50 + audio.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(18, 16); // fmt chunk size (non-PCM formats carry cbSize)
  header.writeUInt16LE(7, 20); // WAVE_FORMAT_MULAW
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24); // sample rate
  header.writeUInt32LE(8000, 28); // byte rate
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.writeUInt16LE(0, 36); // cbSize
  header.write('fact', 38, 'ascii');
  header.writeUInt32LE(4, 42);
  header.writeUInt32LE(audio.length, 46); // samples
  header.write('data', 50, 'ascii');
  header.writeUInt32LE(audio.length, 54);
  return Buffer.concat([header, audio]);
}

/** An SDP for plain RTP/AVP PCMU with telephone-event at host:port: what the platform offers or answers with. */
export function plainAudioSdp(
  host: string,
  port: number,
  sessionId = String(randomBytes(4).readUInt32BE(0)),
): string {
  return [
    'v=0',
    `o=platform ${sessionId} 1 IN IP4 ${host}`,
    's=platform media',
    `c=IN IP4 ${host}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${PCMU} ${TELEPHONE_EVENT_PAYLOAD_TYPE}`,
    `a=rtpmap:${PCMU} PCMU/8000`,
    `a=rtpmap:${TELEPHONE_EVENT_PAYLOAD_TYPE} telephone-event/8000`,
    `a=fmtp:${TELEPHONE_EVENT_PAYLOAD_TYPE} 0-15`,
    'a=sendrecv',
    'a=ptime:20',
    '',
  ].join('\r\n');
}

/**
 * The SDP of a party whose media address is not known yet (a call the platform places before
 * anyone answered, a caller's late offer): the discard port (9), not port 0. Port 0 rejects the
 * stream (RFC 3264 §6), and rtpengine answers a rejected stream with port 0 itself, so the other
 * party would get nowhere to send; what the relay sends to the discard port before the real
 * address is known goes nowhere.
 */
export function placeholderAudioSdp(host: string): string {
  return plainAudioSdp(host, DISCARD_PORT);
}

const DISCARD_PORT = 9;

export class MediaApp {
  /** Keys pressed by the caller, in order. */
  private readonly digitListeners = new Set<(digit: string) => void>();
  private remote: { host: string; port: number } | null = null;
  private sequence = randomBytes(2).readUInt16BE(0);
  private timestamp = randomBytes(4).readUInt32BE(0);
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private sampleIndex = 0;
  private recording: Buffer[] | null = null;
  private lastDtmfTimestamp: number | null = null;
  private playTimer: NodeJS.Timeout | null = null;
  private stopPlaying: (() => void) | null = null;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    socket.on('message', (packet) => this.onPacket(packet));
  }

  static open(host: string, log: (message: string) => void): Promise<MediaApp> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        socket.on('error', (error) => log(`media app socket: ${error.message}`));
        resolve(new MediaApp(socket, host, socket.address().port));
      });
    });
  }

  /** The SDP this endpoint answers or offers with. */
  sdp(): string {
    return plainAudioSdp(this.host, this.port, String(this.ssrc));
  }

  /** Where this endpoint sends its audio (the relay's port facing it). */
  setRemote(host: string, port: number): void {
    this.remote = { host, port };
  }

  /**
   * Plays a prompt: `durationMs` of a `frequencyHz` tone, each frame sent on its 20 ms slot
   * counted from the start (no drift). Resolves when the prompt is over, or at once when closed.
   */
  play(frequencyHz: number, durationMs: number): Promise<void> {
    this.stopPlaying?.();
    const frames = Math.max(1, Math.round(durationMs / FRAME_MS));
    const started = Date.now();
    return new Promise<void>((resolve) => {
      let sent = 0;
      const finish = (): void => {
        if (this.playTimer) clearTimeout(this.playTimer);
        this.playTimer = null;
        this.stopPlaying = null;
        resolve();
      };
      this.stopPlaying = finish;
      const tick = (): void => {
        if (this.closed) return finish();
        this.sendFrame(this.toneFrame(frequencyHz), sent === 0);
        sent += 1;
        if (sent >= frames) return finish();
        this.playTimer = setTimeout(tick, Math.max(0, started + sent * FRAME_MS - Date.now()));
      };
      tick();
    });
  }

  /** Starts keeping the caller's audio (PCMU payloads, in arrival order). */
  startRecording(): void {
    this.recording = [];
  }

  /** Stops recording and returns the audio recorded (PCMU bytes, 8000 per second). */
  stopRecording(): Buffer {
    const audio = Buffer.concat(this.recording ?? []);
    this.recording = null;
    return audio;
  }

  onDigit(listener: (digit: string) => void): () => void {
    this.digitListeners.add(listener);
    return () => this.digitListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPlaying?.();
    this.digitListeners.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private toneFrame(frequencyHz: number): Buffer {
    const frame = Buffer.alloc(SAMPLES_PER_FRAME);
    for (let i = 0; i < SAMPLES_PER_FRAME; i += 1) {
      const t = (this.sampleIndex + i) / 8000;
      frame[i] = linearToMulaw(8000 * Math.sin(2 * Math.PI * frequencyHz * t));
    }
    this.sampleIndex += SAMPLES_PER_FRAME;
    return frame;
  }

  private sendFrame(payload: Buffer, marker: boolean): void {
    if (!this.remote || this.closed) return;
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME) >>> 0;
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | PCMU;
    header.writeUInt16BE(this.sequence, 2);
    header.writeUInt32BE(this.timestamp, 4);
    header.writeUInt32BE(this.ssrc, 8);
    this.socket.send(Buffer.concat([header, payload]), this.remote.port, this.remote.host);
  }

  private onPacket(packet: Buffer): void {
    if (this.closed || packet.length < 12 || packet[0] >> 6 !== 2) return;
    const csrcCount = packet[0] & 0x0f;
    let offset = 12 + csrcCount * 4;
    if (packet[0] & 0x10) {
      if (packet.length < offset + 4) return;
      offset += 4 + packet.readUInt16BE(offset + 2) * 4;
    }
    if (packet.length < offset) return;
    const payloadType = packet[1] & 0x7f;
    const payload = packet.subarray(offset);
    if (payloadType === PCMU) {
      this.recording?.push(Buffer.from(payload));
      return;
    }
    if (payloadType !== TELEPHONE_EVENT_PAYLOAD_TYPE || payload.length < 4) return;
    const endOfEvent = (payload[1] & 0x80) !== 0;
    const eventTimestamp = packet.readUInt32BE(4);
    // The end packet is sent three times: one key press counts once.
    if (!endOfEvent || this.lastDtmfTimestamp === eventTimestamp) return;
    this.lastDtmfTimestamp = eventTimestamp;
    const digit = DTMF_SYMBOLS[payload[0]] ?? '?';
    for (const listener of [...this.digitListeners]) listener(digit);
  }
}
