/**
 * Just enough SDP (RFC 4566) for a media relay: where a side wants its audio, which payload
 * type carries RFC 4733 events, and rewriting addresses so both sides send media to the relay.
 */

export interface SdpMediaTarget {
  /** Connection address for the audio stream (media-level c= wins over session-level). */
  address: string;
  port: number;
  /** Payload type mapped to telephone-event, when offered. */
  telephoneEventPayloadType?: number;
  /** sendrecv | sendonly | recvonly | inactive (RFC 3264 hold signalling). */
  direction: string;
}

function splitLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line !== '');
}

/** Reads the first audio stream's target; undefined when the SDP has no usable audio m= line. */
export function readAudioTarget(sdp: string): SdpMediaTarget | undefined {
  let sessionAddress: string | undefined;
  let mediaAddress: string | undefined;
  let sessionDirection = 'sendrecv';
  let mediaDirection: string | undefined;
  let port: number | undefined;
  let telephoneEvent: number | undefined;
  let section: 'session' | 'audio' | 'other' = 'session';
  for (const line of splitLines(sdp)) {
    if (line.startsWith('m=')) {
      if (section === 'audio') break; // only the first audio stream is relayed
      const match = /^m=audio (\d+)(?:\/\d+)? /.exec(line);
      if (match) {
        section = 'audio';
        port = Number(match[1]);
      } else section = 'other';
      continue;
    }
    if (section === 'other') continue;
    const connection = /^c=IN IP[46] ([^\s/]+)/.exec(line);
    if (connection) {
      if (section === 'session') sessionAddress = connection[1];
      else mediaAddress = connection[1];
      continue;
    }
    const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/.exec(line);
    if (direction?.[1]) {
      if (section === 'session') sessionDirection = direction[1];
      else mediaDirection = direction[1];
      continue;
    }
    const rtpmap = /^a=rtpmap:(\d+) telephone-event\//i.exec(line);
    if (rtpmap && section === 'audio') telephoneEvent = Number(rtpmap[1]);
  }
  const address = mediaAddress ?? sessionAddress;
  if (port === undefined || address === undefined) return undefined;
  return {
    address,
    port,
    telephoneEventPayloadType: telephoneEvent,
    direction: mediaDirection ?? sessionDirection,
  };
}

/**
 * Rewrites an SDP so the receiver sends its audio to `relayAddress:relayPort`: origin and
 * connection addresses replaced, the first audio port replaced (unless 0: rejected), other streams disabled (port 0:
 * only audio is relayed), a=rtcp removed (RTCP would otherwise bypass the relay). A held
 * stream's 0.0.0.0 connection address (RFC 2543 hold) is kept so the hold stays visible.
 */
export function rewriteSdpAddresses(sdp: string, relayAddress: string, relayPort: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  let audioSeen = false;
  let section: 'session' | 'audio' | 'other' = 'session';
  for (const line of splitLines(sdp)) {
    if (line.startsWith('m=')) {
      const match = /^m=(\S+) (\d+)((?:\/\d+)? .*)$/.exec(line);
      if (match && match[1] === 'audio' && !audioSeen) {
        audioSeen = true;
        section = 'audio';
        // A rejected stream (port 0) stays rejected, as rtpengine answers it: no relay port.
        out.push(`m=audio ${match[2] === '0' ? 0 : relayPort}${match[3]}`);
      } else {
        section = 'other';
        out.push(match ? `m=${match[1]} 0${match[3]}` : line);
      }
      continue;
    }
    if (line.startsWith('o=')) {
      const fields = line.split(' ');
      if (fields.length >= 6) fields[5] = relayAddress;
      out.push(fields.join(' '));
      continue;
    }
    const connection = /^c=IN (IP[46]) (\S+)$/.exec(line);
    if (connection && section !== 'other') {
      out.push(connection[2] === '0.0.0.0' ? line : `c=IN IP4 ${relayAddress}`);
      continue;
    }
    if (line.startsWith('a=rtcp:') && section === 'audio') continue;
    out.push(line);
  }
  return out.join(eol) + eol;
}
