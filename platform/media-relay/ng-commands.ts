/**
 * The ng commands the relay serves, with rtpengine's key names so a real rtpengine can take its
 * place (and our controller can drive a real one). One relay session per ng call-id; its side A
 * is the party whose tag came first, side B the other. The SDP of an "offer" is the from-tag
 * party's, the SDP of an "answer" the to-tag party's (as Kamailio sends them); either way the
 * reply is that SDP rewritten to point at the relay's port facing the other party.
 */
import { asText } from './bencode';
import { ngError, type NgDict } from './ng-protocol';
import type { DirectionStats, RelaySession, RelaySide } from './session';

export interface RelaySessions {
  find(callId: string): RelaySession | undefined;
  /** Opens a session (two relay ports); rejects when the port range is exhausted. */
  open(callId: string): Promise<RelaySession>;
  /** Ends a session for good: sockets closed, persisted state forgotten. */
  remove(session: RelaySession): Promise<void>;
  callIds(): string[];
}

const other = (side: RelaySide): RelaySide => (side === 'A' ? 'B' : 'A');

export async function executeNg(command: NgDict, sessions: RelaySessions): Promise<NgDict> {
  const name = asText(command.command);
  const callId = asText(command['call-id']);
  const fromTag = asText(command['from-tag']);
  const toTag = asText(command['to-tag']);
  const sdp = asText(command.sdp);
  switch (name) {
    case 'ping':
      return { result: 'pong' };
    case 'list':
      return { result: 'ok', calls: sessions.callIds() };
    case 'offer': {
      if (!callId || !fromTag || sdp === undefined) return missing(name, { callId, fromTag, sdp });
      const session = sessions.find(callId) ?? (await sessions.open(callId));
      const side = session.sideOf(fromTag) ?? untaggedSide(session);
      if (!side) return ngError(`offer: from-tag "${fromTag}" is neither party of call ${callId}`);
      session.setTag(side, fromTag);
      if (toTag) session.setTag(other(side), toTag);
      return { result: 'ok', sdp: session.rewriteSdp(sdp, side) };
    }
    case 'answer': {
      if (!callId || !fromTag || !toTag || sdp === undefined)
        return missing(name, { callId, fromTag, toTag, sdp });
      const session = sessions.find(callId);
      if (!session) return ngError('Unknown call-id');
      const offerer = session.sideOf(fromTag);
      if (!offerer) return ngError(`Unknown from-tag "${fromTag}" in call ${callId}`);
      // A to-tag never seen on the answering side is a new party there (a transfer): it latches afresh.
      session.setTag(other(offerer), toTag);
      return { result: 'ok', sdp: session.rewriteSdp(sdp, other(offerer)) };
    }
    case 'delete': {
      // As rtpengine: an unknown call (or tags not in it) is "ok" with a warning, an error only
      // with the "fatal" flag; the counters come back only when the delete names a tag (Kamailio's
      // rtpengine_delete does), a delete of the whole call-id answers just "ok".
      if (!callId) return missing(name, { callId });
      const session = sessions.find(callId);
      const named = [toTag, fromTag].filter((tag): tag is string => tag !== undefined && tag !== '');
      if (!session || (named.length > 0 && !named.some((tag) => session.sideOf(tag))))
        return hasFlag(command, 'fatal') ? ngError(NOT_FOUND) : { result: 'ok', warning: NOT_FOUND };
      const stats = named.length > 0 ? statistics(session) : { result: 'ok' };
      await sessions.remove(session);
      return stats;
    }
    case 'query': {
      if (!callId) return missing(name, { callId });
      const session = sessions.find(callId);
      return session ? statistics(session) : ngError('Unknown call-id');
    }
    case 'block media':
    case 'unblock media': {
      if (!callId) return missing(name, { callId });
      const session = sessions.find(callId);
      if (!session) return ngError('Unknown call-id');
      // The reference relay holds both directions at once (the API's hold): a per-party block is refused.
      if (fromTag) return ngError(`${name}: blocking one party (from-tag) is not supported; omit it`);
      session.setBlocked(name === 'block media');
      return { result: 'ok' };
    }
    default:
      return ngError(`Unrecognized command${name ? ` "${name}"` : ': no "command" key'}`);
  }
}

/** rtpengine's words for a delete that finds nothing to delete. */
const NOT_FOUND = "Call-ID not found or tags didn't match";

function hasFlag(command: NgDict, flag: string): boolean {
  const flags = command.flags;
  return Array.isArray(flags) && flags.some((item) => asText(item) === flag);
}

function untaggedSide(session: RelaySession): RelaySide | undefined {
  if (session.tag('A') === null) return 'A';
  if (session.tag('B') === null) return 'B';
  return undefined;
}

function missing(command: string, given: Record<string, string | undefined>): NgDict {
  const keys: Record<string, string> = {
    callId: 'call-id',
    fromTag: 'from-tag',
    toTag: 'to-tag',
    sdp: 'sdp',
  };
  const absent = Object.entries(given)
    .filter(([, value]) => value === undefined || value === '')
    .map(([key]) => `"${keys[key] ?? key}"`);
  return ngError(`${command}: missing ${absent.join(', ')}`);
}

/**
 * rtpengine's statistics shape (query and delete): per tag, its media streams with "local port",
 * the latched "endpoint", "last packet" (s) and "stats" of what arrived from that party; plus
 * "totals". Keys outside rtpengine's set carry this relay's extra counters (DTMF, drops, hold).
 */
function statistics(session: RelaySession): NgDict {
  const stats = session.stats();
  const tags: NgDict = {};
  const stream = (side: RelaySide): NgDict => {
    const info = side === 'A' ? stats.sideA : stats.sideB;
    const from: DirectionStats = side === 'A' ? stats.aToB : stats.bToA;
    const [address, port] = info.peer ? splitHostPort(info.peer) : [undefined, undefined];
    const dict: NgDict = {
      'local port': info.relayPort,
      flags: info.latched ? ['RTP', 'filled', 'confirmed'] : ['RTP'],
      stats: { packets: from.packets, bytes: from.bytes, errors: 0 },
      'dtmf events': from.dtmfEvents,
      'dtmf digits': from.dtmfDigits,
      dropped: from.dropped,
      blocked: from.blocked,
    };
    if (address !== undefined && port !== undefined) dict.endpoint = { family: 'IPv4', address, port };
    if (from.lastPacketAt) {
      dict['last packet'] = Math.floor(Date.parse(from.lastPacketAt) / 1000);
      dict['last packet at'] = from.lastPacketAt;
    }
    if (from.firstPacketAt) dict['first packet at'] = from.firstPacketAt;
    if (info.direction) dict.direction = info.direction;
    return dict;
  };
  for (const side of ['A', 'B'] as const) {
    const tag = session.tag(side) ?? '';
    const peerTag = session.tag(other(side));
    tags[tag] = {
      tag,
      ...(peerTag ? { 'in dialogue with': peerTag } : {}),
      medias: [{ index: 1, type: 'audio', protocol: 'RTP/AVP', streams: [stream(side)] }],
    };
  }
  const lastMedia = session.lastMediaAt();
  return {
    result: 'ok',
    tags,
    totals: {
      RTP: {
        packets: stats.aToB.packets + stats.bToA.packets,
        bytes: stats.aToB.bytes + stats.bToA.bytes,
        errors: 0,
      },
      RTCP: { packets: 0, bytes: 0, errors: 0 },
    },
    ...(lastMedia !== null ? { 'last media ms': lastMedia } : {}),
    ...(session.blocked ? { blocked: 1 } : {}),
  };
}

function splitHostPort(peer: string): [string, number] {
  const colon = peer.lastIndexOf(':');
  return [peer.slice(0, colon), Number(peer.slice(colon + 1))];
}
