/**
 * Plain audio SDP (RFC 4566 / RFC 3264) as the suite's phones and carrier doubles write it:
 * one audio stream, PCMU plus RFC 4733 telephone events, with a direction attribute.
 */

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: readonly MediaDirection[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export interface RtpMap {
  encoding: string;
  clockRate: number;
  channels?: number;
}

export interface AudioDescription {
  /** o= fields that identify the session and its version (incremented on every change). */
  origin: { username: string; sessionId: string; sessionVersion: number; address: string };
  sessionName: string;
  /** c= address that applies to the audio stream (media level wins over session level). */
  connectionAddress: string;
  /** m=audio port; 0 means the stream was rejected. */
  port: number;
  protocol: string;
  /** Payload types in the order of preference offered on the m= line. */
  payloadTypes: number[];
  rtpmap: Map<number, RtpMap>;
  fmtp: Map<number, string>;
  direction: MediaDirection;
  /** The payload type mapped to telephone-event/8000, if offered. */
  telephoneEventPayloadType: number | null;
  /** Every attribute line as written (media and session level), for evidence and later checks. */
  attributes: string[];
}

export class SdpParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdpParseError';
  }
}

export interface BuildAudioSdpOptions {
  address: string;
  port: number;
  direction?: MediaDirection;
  username?: string;
  sessionId?: string;
  sessionVersion?: number;
  /** Default 101. */
  telephoneEventPayloadType?: number;
}

export function buildAudioSdp(options: BuildAudioSdpOptions): string {
  const telephoneEvent = options.telephoneEventPayloadType ?? 101;
  const sessionId = options.sessionId ?? String(Math.floor(Math.random() * 1e9));
  const version = options.sessionVersion ?? 1;
  const ip = options.address.includes(':') ? 'IP6' : 'IP4';
  return (
    [
      'v=0',
      `o=${options.username ?? '-'} ${sessionId} ${version} IN ${ip} ${options.address}`,
      's=-',
      `c=IN ${ip} ${options.address}`,
      't=0 0',
      `m=audio ${options.port} RTP/AVP 0 ${telephoneEvent}`,
      'a=rtpmap:0 PCMU/8000',
      `a=rtpmap:${telephoneEvent} telephone-event/8000`,
      `a=fmtp:${telephoneEvent} 0-16`,
      'a=ptime:20',
      `a=${options.direction ?? 'sendrecv'}`,
    ].join('\r\n') + '\r\n'
  );
}

/** Parses the first audio stream of an SDP body; throws SdpParseError naming what is missing. */
export function parseAudioSdp(text: string): AudioDescription {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines[0] !== 'v=0')
    throw new SdpParseError(`SDP must start with "v=0", starts with "${lines[0] ?? ''}"`);
  let origin: AudioDescription['origin'] | undefined;
  let sessionName = '';
  let sessionConnection: string | undefined;
  let sessionDirection: MediaDirection | undefined;
  const sessionAttributes: string[] = [];
  let audio:
    | {
        port: number;
        protocol: string;
        payloadTypes: number[];
        connection?: string;
        direction?: MediaDirection;
        attributes: string[];
      }
    | undefined;
  let inOtherMedia = false;

  for (const line of lines) {
    const type = line[0];
    const value = line.slice(2);
    if (line[1] !== '=') throw new SdpParseError(`malformed SDP line "${line}"`);
    if (type === 'm') {
      if (audio) {
        inOtherMedia = true; // only the first audio stream matters here
        continue;
      }
      const match = /^(\w+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(value);
      if (!match) throw new SdpParseError(`malformed media line "${line}"`);
      if (match[1] !== 'audio') {
        inOtherMedia = true;
        continue;
      }
      inOtherMedia = false;
      const port = Number(match[2]);
      if (port > 65535) throw new SdpParseError(`media port ${port} is out of range in "${line}"`);
      const formats = match[4].trim().split(' ').filter(Boolean);
      const payloadTypes = formats.map(Number);
      if (payloadTypes.some((pt) => !Number.isInteger(pt) || pt < 0 || pt > 127)) {
        throw new SdpParseError(`media formats must be RTP payload types 0..127 in "${line}"`);
      }
      audio = { port, protocol: match[3], payloadTypes, attributes: [] };
      continue;
    }
    if (inOtherMedia) continue;
    switch (type) {
      case 'o': {
        const parts = value.split(' ');
        if (parts.length !== 6) throw new SdpParseError(`malformed origin line "${line}"`);
        origin = {
          username: parts[0],
          sessionId: parts[1],
          sessionVersion: Number(parts[2]),
          address: parts[5],
        };
        break;
      }
      case 's':
        sessionName = value;
        break;
      case 'c': {
        const match = /^IN IP[46] ([^\s/]+)/.exec(value);
        if (!match) throw new SdpParseError(`malformed connection line "${line}"`);
        if (audio) audio.connection = match[1];
        else sessionConnection = match[1];
        break;
      }
      case 'a': {
        const direction = DIRECTIONS.find((d) => d === value);
        if (audio) {
          audio.attributes.push(value);
          if (direction) audio.direction = direction;
        } else {
          sessionAttributes.push(value);
          if (direction) sessionDirection = direction;
        }
        break;
      }
      default:
        break;
    }
  }
  if (!origin) throw new SdpParseError('SDP has no origin (o=) line');
  if (!audio) throw new SdpParseError('SDP has no audio stream (m=audio line)');
  const connectionAddress = audio.connection ?? sessionConnection;
  if (!connectionAddress)
    throw new SdpParseError('SDP gives no connection address (c=) for the audio stream');

  const rtpmap = new Map<number, RtpMap>();
  const fmtp = new Map<number, string>();
  for (const attribute of audio.attributes) {
    const map = /^rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(attribute);
    if (map) {
      rtpmap.set(Number(map[1]), {
        encoding: map[2],
        clockRate: Number(map[3]),
        ...(map[4] ? { channels: Number(map[4]) } : {}),
      });
      continue;
    }
    const format = /^fmtp:(\d+) (.*)$/.exec(attribute);
    if (format) fmtp.set(Number(format[1]), format[2]);
  }
  // Static payload type 0 needs no rtpmap (RFC 3551).
  if (audio.payloadTypes.includes(0) && !rtpmap.has(0)) rtpmap.set(0, { encoding: 'PCMU', clockRate: 8000 });
  const telephoneEvent = audio.payloadTypes.find(
    (pt) => rtpmap.get(pt)?.encoding.toLowerCase() === 'telephone-event',
  );

  return {
    origin,
    sessionName,
    connectionAddress,
    port: audio.port,
    protocol: audio.protocol,
    payloadTypes: audio.payloadTypes,
    rtpmap,
    fmtp,
    direction: audio.direction ?? sessionDirection ?? 'sendrecv',
    telephoneEventPayloadType: telephoneEvent ?? null,
    attributes: [...sessionAttributes, ...audio.attributes],
  };
}

/** The direction an answerer uses for a given offered direction (RFC 3264 §6.1). */
export function answerDirection(
  offered: MediaDirection,
  wanted: MediaDirection = 'sendrecv',
): MediaDirection {
  const canSend = offered === 'sendrecv' || offered === 'recvonly';
  const canReceive = offered === 'sendrecv' || offered === 'sendonly';
  const send = canSend && (wanted === 'sendrecv' || wanted === 'sendonly');
  const receive = canReceive && (wanted === 'sendrecv' || wanted === 'recvonly');
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  if (receive) return 'recvonly';
  return 'inactive';
}

/** Whether media flows from us to them given our direction and theirs. */
export function mayEmit(local: MediaDirection, remote: MediaDirection): boolean {
  return (local === 'sendrecv' || local === 'sendonly') && (remote === 'sendrecv' || remote === 'recvonly');
}

/** Whether the description offers PCMU, the only codec the suite's endpoints speak. */
export function offersPcmu(description: AudioDescription): boolean {
  return description.payloadTypes.some(
    (pt) => pt === 0 || description.rtpmap.get(pt)?.encoding.toUpperCase() === 'PCMU',
  );
}
