/**
 * One relayed call: two UDP sockets, side A facing the caller and side B facing the callee.
 * Media arriving on A's socket goes out of B's socket to the callee, and vice versa, so each
 * party only ever sees the relay (what RTPEngine does for Kamailio).
 */
import type { Socket, RemoteInfo } from 'node:dgram';
import { readAudioTarget, rewriteSdpAddresses } from './sdp';

export type RelaySide = 'A' | 'B';

export interface DirectionStats {
  /** Datagrams that arrived from this party (RTP audio and RFC 4733 events alike), relayed or not, as rtpengine counts. */
  packets: number;
  /** UDP payload bytes of those packets (RTP header included). */
  bytes: number;
  firstPacketAt: string | null;
  lastPacketAt: string | null;
  /** RFC 4733 events seen (counted once per event, on its first end packet). */
  dtmfEvents: number;
  /** The digits of those events, in order ("0"-"9", "*", "#", "A"-"D"). */
  dtmfDigits: string;
  /** Datagrams not relayed: no destination known yet for them. */
  dropped: number;
  /** Datagrams held back because the call was on hold (media blocked by the platform). */
  blocked: number;
}

export interface SideInfo {
  /** The relay's own port facing this side. */
  relayPort: number;
  /** Where the relay sends this side's media ("ip:port"), null until known. */
  peer: string | null;
  /** True once a packet confirmed this side's address (rtpengine's "confirmed"; see onPacket). */
  latched: boolean;
  /** Media direction from this side's latest SDP (sendrecv, sendonly, inactive, ...). */
  direction: string | null;
}

export interface RelayStats {
  callRef: string;
  sideA: SideInfo;
  sideB: SideInfo;
  aToB: DirectionStats;
  bToA: DirectionStats;
}

/** What a relay that takes over needs of a session (rtpengine keeps the same in Redis). */
export interface PersistedSession {
  callRef: string;
  blocked: boolean;
  sides: Record<RelaySide, PersistedSide>;
  /** Counts so far, this relay's and its predecessors'. */
  counters: Record<RelaySide, DirectionStats>;
  lastMediaMs: number | null;
  lastDtmfTimestamp: Record<RelaySide, number | null>;
  /** Date.now() of the session's latest signalling (absent in older rows: the learning is over). */
  lastSignalMs?: number;
}

export type PersistedSide = Omit<SideState, 'socket'>;

interface SideState {
  socket: Socket;
  /** The ng tag of the party on this side (the SIP From/To tag the controller names it by). */
  tag: string | null;
  port: number;
  /** Where media is sent: the SDP's address until the first packet latches the real source. */
  peer: { address: string; port: number } | null;
  /** The address of the latest SDP, so a re-INVITE that repeats it does not undo the latch. */
  announced: { address: string; port: number } | null;
  latched: boolean;
  direction: string | null;
  /** The latest SDP from this side holds or mutes the stream: silence is expected. */
  held: boolean;
  telephoneEventPayloadType?: number;
  /** The latest SDP this side sent (as it sent it), to offer its media to a new party on transfer. */
  sdp: string | null;
}

const DTMF_SYMBOLS = '0123456789*#ABCD';

/**
 * rtpengine's default ("delayed") endpoint learning: for this long after the call's latest
 * signalling a side's address follows whoever sends to its port; after it, the next packet's
 * source is confirmed and kept until signalling names a new address.
 */
export const ENDPOINT_LEARNING_MS = 3000;

function emptyDirection(): DirectionStats {
  return {
    packets: 0,
    bytes: 0,
    firstPacketAt: null,
    lastPacketAt: null,
    dtmfEvents: 0,
    dtmfDigits: '',
    dropped: 0,
    blocked: 0,
  };
}

function addDirections(base: DirectionStats, own: DirectionStats): DirectionStats {
  return {
    packets: base.packets + own.packets,
    bytes: base.bytes + own.bytes,
    firstPacketAt: base.firstPacketAt ?? own.firstPacketAt,
    lastPacketAt: own.lastPacketAt ?? base.lastPacketAt,
    dtmfEvents: base.dtmfEvents + own.dtmfEvents,
    dtmfDigits: base.dtmfDigits + own.dtmfDigits,
    dropped: base.dropped + own.dropped,
    blocked: base.blocked + own.blocked,
  };
}

export class RelaySession {
  private readonly sides: Record<RelaySide, SideState>;
  /** What this relay counted itself. */
  private readonly counters: Record<RelaySide, DirectionStats> = { A: emptyDirection(), B: emptyDirection() };
  /** What earlier relays of this session counted (restored from the store); stats are the sum. */
  private readonly previous: Record<RelaySide, DirectionStats> = { A: emptyDirection(), B: emptyDirection() };
  /** RTP timestamp of the last counted DTMF event per sending side (end packets are sent 3×). */
  private readonly lastDtmfTimestamp: Record<RelaySide, number | null> = { A: null, B: null };
  /** Called when state a successor needs changed (SDP, tags, latch, block): the owner persists it. */
  onChange: (session: RelaySession) => void = () => undefined;
  private closedFlag = false;
  /** Media blocked both ways by the platform (hold from the API): rtpengine's "block media". */
  private blockedFlag = false;
  /** Date.now() of the last packet accepted from either side (the inactivity timeout's clock). */
  private lastMediaMs: number | null = null;
  /** Date.now() of the latest offer/answer/transfer: the endpoint learning window starts anew. */
  private lastSignalMs = Date.now();

  constructor(
    readonly callRef: string,
    readonly host: string,
    socketA: Socket,
    socketB: Socket,
    private readonly onClosed: (session: RelaySession) => void,
    private readonly log: (message: string) => void,
    restored?: PersistedSession,
  ) {
    this.sides = {
      A: {
        socket: socketA,
        tag: null,
        port: socketA.address().port,
        peer: null,
        announced: null,
        latched: false,
        direction: null,
        held: false,
        sdp: null,
      },
      B: {
        socket: socketB,
        tag: null,
        port: socketB.address().port,
        peer: null,
        announced: null,
        latched: false,
        direction: null,
        held: false,
        sdp: null,
      },
    };
    if (restored) this.restore(restored);
    socketA.on('message', (packet, source) => this.onPacket('A', packet, source));
    socketB.on('message', (packet, source) => this.onPacket('B', packet, source));
  }

  /** Takes over a persisted session on sockets bound to its ports: peers, latches and counts resume. */
  private restore(saved: PersistedSession): void {
    for (const side of ['A', 'B'] as const) {
      const { socket } = this.sides[side];
      this.sides[side] = { ...saved.sides[side], socket, port: socket.address().port };
      this.previous[side] = { ...saved.counters[side] };
      this.lastDtmfTimestamp[side] = saved.lastDtmfTimestamp[side];
    }
    this.blockedFlag = saved.blocked;
    this.lastMediaMs = saved.lastMediaMs;
    this.lastSignalMs = saved.lastSignalMs ?? 0;
  }

  /** Everything a successor relay needs, counters included. */
  snapshot(): PersistedSession {
    const side = (name: RelaySide): PersistedSide => {
      const { socket: _socket, ...rest } = this.sides[name];
      return {
        ...rest,
        peer: rest.peer && { ...rest.peer },
        announced: rest.announced && { ...rest.announced },
      };
    };
    const totals = this.totals();
    return {
      callRef: this.callRef,
      blocked: this.blockedFlag,
      sides: { A: side('A'), B: side('B') },
      counters: { A: totals.A, B: totals.B },
      lastMediaMs: this.lastMediaMs,
      lastDtmfTimestamp: { ...this.lastDtmfTimestamp },
      lastSignalMs: this.lastSignalMs,
    };
  }

  private totals(): Record<RelaySide, DirectionStats> {
    return {
      A: addDirections(this.previous.A, this.counters.A),
      B: addDirections(this.previous.B, this.counters.B),
    };
  }

  /** The ng tag of the party on a side, null before one was named. */
  tag(side: RelaySide): string | null {
    return this.sides[side].tag;
  }

  /** The side a tag names, undefined for a tag not (yet) in this session. */
  sideOf(tag: string): RelaySide | undefined {
    if (this.sides.A.tag === tag) return 'A';
    if (this.sides.B.tag === tag) return 'B';
    return undefined;
  }

  /**
   * Names the party on a side. A new tag where another was means a new party (a transfer): its
   * latch and announced address are forgotten so its first packet latches afresh.
   */
  setTag(side: RelaySide, tag: string): void {
    const state = this.sides[side];
    if (state.tag === tag) return;
    if (state.tag !== null) {
      state.announced = null;
      state.latched = false;
    }
    state.tag = tag;
    this.onChange(this);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The latest SDP a side sent, null before any. */
  lastSdp(side: RelaySide): string | null {
    return this.sides[side].sdp;
  }

  /** The relay port a side sends its media to. */
  port(side: RelaySide): number {
    return this.sides[side].port;
  }

  /**
   * Learns where a side wants to receive media from its SDP. A changed address (re-INVITE)
   * drops the latch so the next packet from that side latches again. Returns false when the SDP
   * has no audio stream.
   */
  setPeerFromSdp(side: RelaySide, sdp: string): boolean {
    const target = readAudioTarget(sdp);
    if (!target) return false;
    const state = this.sides[side];
    state.sdp = sdp;
    state.direction = target.direction;
    state.held = target.direction !== 'sendrecv' || target.port === 0 || target.address === '0.0.0.0';
    state.telephoneEventPayloadType = target.telephoneEventPayloadType;
    // A port of 0 rejects the stream; 0.0.0.0 is the old way to hold: keep the current peer.
    if (target.port === 0 || target.address === '0.0.0.0') return true;
    const previous = state.announced;
    if (previous && previous.address === target.address && previous.port === target.port) return true;
    state.announced = { address: target.address, port: target.port };
    state.peer = { address: target.address, port: target.port };
    state.latched = false;
    return true;
  }

  /**
   * The SDP to send to the other side, for an SDP that came from `fromSide`: addresses point
   * at the relay's socket facing the other side. Also learns `fromSide`'s media address.
   */
  rewriteSdp(sdp: string, fromSide: RelaySide): string {
    this.lastSignalMs = Date.now();
    this.setPeerFromSdp(fromSide, sdp);
    this.onChange(this);
    const otherSide: RelaySide = fromSide === 'A' ? 'B' : 'A';
    return rewriteSdpAddresses(sdp, this.host, this.sides[otherSide].port);
  }

  stats(): RelayStats {
    const info = (side: RelaySide): SideInfo => {
      const state = this.sides[side];
      return {
        relayPort: state.port,
        peer: state.peer ? `${state.peer.address}:${state.peer.port}` : null,
        latched: state.latched,
        direction: state.direction,
      };
    };
    return {
      callRef: this.callRef,
      sideA: info('A'),
      sideB: info('B'),
      aToB: this.totals().A,
      bToA: this.totals().B,
    };
  }

  /** When media last arrived from either side (ms since the epoch), null when none ever did. */
  lastMediaAt(): number | null {
    return this.lastMediaMs;
  }

  /**
   * True when either side's latest SDP puts the stream on hold (sendonly, recvonly, inactive,
   * port 0 or the old 0.0.0.0 form): the call may then be silent for long (rtpengine's
   * --silent-timeout rather than --timeout).
   */
  onHold(): boolean {
    return this.blockedFlag || this.sides.A.held || this.sides.B.held;
  }

  /** Stops (true) or restarts (false) relaying in both directions; packets still latch and count as blocked. */
  setBlocked(blocked: boolean): void {
    this.blockedFlag = blocked;
    this.onChange(this);
  }

  get blocked(): boolean {
    return this.blockedFlag;
  }

  /**
   * Points a side at a new peer (a transfer replaced the party there): its SDP gives the address,
   * and the latch is dropped so the new party's first packet fixes it.
   */
  replacePeer(side: RelaySide, sdp: string): boolean {
    this.lastSignalMs = Date.now();
    this.sides[side].announced = null;
    const usable = this.setPeerFromSdp(side, sdp);
    this.onChange(this);
    return usable;
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    await Promise.all([closeSocket(this.sides.A.socket), closeSocket(this.sides.B.socket)]);
    this.onClosed(this);
  }

  private onPacket(from: RelaySide, packet: Buffer, source: RemoteInfo): void {
    if (this.closedFlag) return;
    const sender = this.sides[from];
    const counters = this.counters[from];
    // rtpengine's endpoint learning (without its "strict source" flag): until confirmed, the
    // side's address follows the latest source, and is confirmed by the first packet after the
    // learning window; once confirmed, packets from other sources are still relayed and counted,
    // but media for this side keeps going to the confirmed address.
    if (!sender.latched) {
      const known = sender.peer?.address === source.address && sender.peer.port === source.port;
      if (!known) sender.peer = { address: source.address, port: source.port };
      if (Date.now() > this.lastSignalMs + ENDPOINT_LEARNING_MS) sender.latched = true;
      if (!known || sender.latched) this.onChange(this);
    }
    this.lastMediaMs = Date.now();
    // As rtpengine: everything that arrives from a party counts as its packets, relayed or not
    // (held by block media, or with nowhere to go yet); blocked and dropped say how many were not.
    const now = new Date().toISOString();
    counters.packets += 1;
    counters.bytes += packet.length;
    counters.firstPacketAt ??= now;
    counters.lastPacketAt = now;
    const receiver = this.sides[from === 'A' ? 'B' : 'A'];
    if (this.blockedFlag) {
      counters.blocked += 1;
      return;
    }
    if (!receiver.peer) {
      counters.dropped += 1;
      return;
    }
    this.countDtmf(from, packet);
    receiver.socket.send(packet, receiver.peer.port, receiver.peer.address, (error) => {
      if (error)
        this.log(`relay ${this.callRef}: send ${from}→${from === 'A' ? 'B' : 'A'} failed: ${error.message}`);
    });
  }

  private countDtmf(from: RelaySide, packet: Buffer): void {
    if (packet.length < 16 || packet[0] === undefined || packet[0] >> 6 !== 2) return;
    const payloadType = (packet[1] ?? 0) & 0x7f;
    const known = [this.sides.A.telephoneEventPayloadType, this.sides.B.telephoneEventPayloadType];
    if (!known.includes(payloadType)) return;
    const csrcCount = packet[0] & 0x0f;
    let offset = 12 + csrcCount * 4;
    if (packet[0] & 0x10) {
      if (packet.length < offset + 4) return;
      offset += 4 + packet.readUInt16BE(offset + 2) * 4;
    }
    if (packet.length < offset + 4) return;
    const event = packet[offset] ?? 255;
    const endOfEvent = ((packet[offset + 1] ?? 0) & 0x80) !== 0;
    const timestamp = packet.readUInt32BE(4);
    if (!endOfEvent || this.lastDtmfTimestamp[from] === timestamp) return;
    this.lastDtmfTimestamp[from] = timestamp;
    const counters = this.counters[from];
    counters.dtmfEvents += 1;
    counters.dtmfDigits += DTMF_SYMBOLS[event] ?? '?';
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed: nothing left to release
    }
  });
}
