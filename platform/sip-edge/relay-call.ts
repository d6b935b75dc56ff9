/**
 * A call's media as the sip-edge controls it: every SDP goes to the relay over ng and comes back
 * rewritten, as with Kamailio and rtpengine. The edge names the two parties by tags of its own
 * (side A, the caller's; side B, the callee's). Commands of one call go out one at a time, in
 * order, so the relay sees SDP in the order the edge does.
 */
import { randomBytes } from 'node:crypto';
import { asDict, asList, asText, type BencodeValue } from '../media-relay/bencode';
import type { DirectionStats, RelaySide, RelayStats } from '../media-relay/session';
import { readAudioTarget } from '../media-relay/sdp';
import type { NgClient, NgDict } from './ng-client';

const other = (side: RelaySide): RelaySide => (side === 'A' ? 'B' : 'A');

/** The relay as the edge sees it: a factory of per-call handles. */
export class RelayControl {
  private readonly open = new Set<RelayCall>();

  constructor(
    readonly client: NgClient,
    private readonly log: (message: string) => void,
  ) {}

  /** A handle for a new call; nothing is sent before its first SDP (the relay allocates on offer). */
  allocate(callRef: string): RelayCall {
    const call = new RelayCall(callRef, this.client, this.log, () => this.open.delete(call));
    this.open.add(call);
    return call;
  }

  /**
   * A handle for a call another sip-edge node started (dialog takeover): the same call-id and
   * tags, so query, hold and delete reach the same relay session.
   */
  restore(state: RelayCallState): RelayCall {
    const call = this.allocate(state.callRef);
    call.adopt(state);
    return call;
  }

  /** Calls not yet deleted at the relay. */
  sessions(): RelayCall[] {
    return [...this.open];
  }
}

/** What a successor sip-edge needs to go on controlling a call's media (persist it with the dialog). */
export interface RelayCallState {
  callRef: string;
  tags: Record<RelaySide, string>;
  sdps: Record<RelaySide, string | null>;
  blocked: boolean;
}

export class RelayCall {
  private readonly tags: Record<RelaySide, string>;
  private readonly sdps: Record<RelaySide, string | null> = { A: null, B: null };
  /** Directions of each side's latest SDP put the stream on hold (sendonly, inactive, port 0, …). */
  private readonly held: Record<RelaySide, boolean> = { A: false, B: false };
  private queue: Promise<unknown> = Promise.resolve();
  private blockedFlag = false;
  private latest: RelayStats | null = null;
  private lastMedia: number | null = null;
  private deleted: Promise<RelayStats | null> | null = null;

  constructor(
    readonly callRef: string,
    private readonly client: NgClient,
    private readonly log: (message: string) => void,
    private readonly onDeleted: () => void,
  ) {
    const base = randomBytes(4).toString('hex');
    this.tags = { A: `${base}-a`, B: `${base}-b` };
  }

  get closed(): boolean {
    return this.deleted !== null;
  }

  state(): RelayCallState {
    return {
      callRef: this.callRef,
      tags: { ...this.tags },
      sdps: { ...this.sdps },
      blocked: this.blockedFlag,
    };
  }

  /** Takes over a handle's state (see RelayControl.restore). */
  adopt(state: RelayCallState): void {
    this.tags.A = state.tags.A;
    this.tags.B = state.tags.B;
    for (const side of ['A', 'B'] as const) {
      const sdp = state.sdps[side];
      if (sdp !== null) this.learn(side, sdp);
    }
    this.blockedFlag = state.blocked;
  }

  /** The latest SDP a side sent (as it sent it), null before any. */
  lastSdp(side: RelaySide): string | null {
    return this.sdps[side];
  }

  /** SDP offered by `from`; resolves the SDP to give the other side (pointing at the relay). */
  offer(from: RelaySide, sdp: string): Promise<string> {
    this.learn(from, sdp);
    return this.sdpCommand({
      command: 'offer',
      'from-tag': this.tags[from],
      'to-tag': this.tags[other(from)],
      sdp,
    });
  }

  /** SDP answering the other side's offer, from `from`; resolves the SDP to give the offerer. */
  answer(from: RelaySide, sdp: string): Promise<string> {
    this.learn(from, sdp);
    return this.sdpCommand({
      command: 'answer',
      'from-tag': this.tags[other(from)],
      'to-tag': this.tags[from],
      sdp,
    });
  }

  /**
   * A new party answers on `side` (a transfer, or the platform's own media endpoint): its SDP
   * goes to the relay under the side's tag, as an answer; resolves the SDP for the other side.
   * The tag stays: rtpengine counts per tag (monologue) and keeps the side's ports, so a new
   * tag would leave the side's counts under the old one, out of reach of the final delete. A
   * new address in the SDP makes either relay learn the new party's source afresh.
   */
  replacePeer(side: RelaySide, sdp: string): Promise<string> {
    return this.answer(side, sdp);
  }

  /** Hold from the API: the relay stops (or restarts) media both ways (rtpengine's block media). */
  setBlocked(blocked: boolean): Promise<void> {
    this.blockedFlag = blocked;
    return this.enqueue(async () => {
      await this.client.command({
        command: blocked ? 'block media' : 'unblock media',
        'call-id': this.callRef,
      });
    });
  }

  get blocked(): boolean {
    return this.blockedFlag;
  }

  /** Silence is expected: the API holds the call, or either side's latest SDP does. */
  onHold(): boolean {
    return this.blockedFlag || this.held.A || this.held.B;
  }

  /** When media last arrived from either side, as of the latest query (ms since the epoch). */
  lastMediaAt(): number | null {
    return this.lastMedia;
  }

  /** The relay's counters as of the latest query or the final delete; null before either. */
  stats(): RelayStats | null {
    return this.latest;
  }

  /** Asks the relay for the call's counters and last media time (ng query). */
  refresh(): Promise<RelayStats | null> {
    if (this.deleted) return this.deleted;
    return this.enqueue(async () => {
      this.read(await this.client.command({ command: 'query', 'call-id': this.callRef }));
      return this.latest;
    });
  }

  /**
   * Ends the call at the relay once, after anything still queued, as Kamailio's rtpengine_delete
   * does: ng delete naming both tags, whose reply carries the final counters (rtpengine answers
   * a delete without tags with no statistics). Should the relay not find the tags (its reply
   * then carries a "warning"), a delete of the whole call-id follows so nothing is left behind.
   * Resolves the final counters, or null when the relay never had the call or cannot be reached
   * (logged).
   */
  close(): Promise<RelayStats | null> {
    if (!this.deleted && this.sdps.A === null && this.sdps.B === null) {
      // No SDP was ever sent: the relay never had this call, there is nothing to delete or count.
      this.deleted = Promise.resolve(null);
      this.onDeleted();
    }
    this.deleted ??= this.enqueue(async () => {
      try {
        const reply = await this.client.command({
          command: 'delete',
          'call-id': this.callRef,
          'from-tag': this.tags.A,
          'to-tag': this.tags.B,
        });
        if (asDict(reply.tags)) this.read(reply);
        if (reply.warning !== undefined) {
          this.log(
            `call ${this.callRef}: delete at the relay: ${asText(reply.warning) ?? ''}; deleting the call-id`,
          );
          await this.client.command({ command: 'delete', 'call-id': this.callRef });
        }
      } catch (error) {
        this.log(
          `call ${this.callRef}: ${(error as Error).message}; the record keeps the counts of the last query`,
        );
      }
      this.onDeleted();
      return this.latest;
    });
    return this.deleted;
  }

  private learn(side: RelaySide, sdp: string): void {
    this.sdps[side] = sdp;
    const target = readAudioTarget(sdp);
    if (target)
      this.held[side] = target.direction !== 'sendrecv' || target.port === 0 || target.address === '0.0.0.0';
  }

  /**
   * Every offer and answer asks for rtpengine's "port latching": without it rtpengine gives the
   * other party new relay ports whenever a party's SDP names a new address (a transfer target,
   * the platform's own media endpoint, a callback's second leg), and the party that is not
   * re-INVITEd would then hear the call from a port its SDP never named. Our relay always keeps
   * a session's ports.
   */
  private sdpCommand(body: NgDict): Promise<string> {
    if (this.deleted)
      return Promise.reject(new Error(`call ${this.callRef}: the relay session is already deleted`));
    return this.enqueue(async () => {
      const reply = await this.client.command({ ...body, 'call-id': this.callRef, flags: ['port latching'] });
      const sdp = asText(reply.sdp);
      if (sdp === undefined)
        throw new Error(
          `ng "${asText(body.command) ?? ''}" to relay ${this.client.relayName}: the reply has no "sdp"`,
        );
      return sdp;
    });
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Reads rtpengine's statistics shape back into the edge's per-direction counters. */
  private read(reply: NgDict): void {
    const tags = asDict(reply.tags);
    const stream = (side: RelaySide): { [key: string]: BencodeValue } | undefined =>
      asDict(asList(asDict(asList(asDict(tags?.[this.tags[side]])?.medias)?.[0])?.streams)?.[0]);
    const a = stream('A');
    const b = stream('B');
    this.latest = {
      callRef: this.callRef,
      sideA: sideInfo(a),
      sideB: sideInfo(b),
      aToB: direction(a),
      bToA: direction(b),
    };
    // rtpengine stamps "last packet" in whole seconds (and at signalling, before any packet):
    // the end of that second is the latest media may have come, so silence is never overstated
    // and a call is ended at most a second late, never early.
    const lastPackets = [a, b]
      .map((stream) => stream?.['last packet'])
      .filter((value): value is number => typeof value === 'number');
    if (lastPackets.length > 0) this.lastMedia = (Math.max(...lastPackets) + 1) * 1000;
  }
}

function num(value: BencodeValue | undefined): number {
  return typeof value === 'number' ? value : 0;
}

function direction(stream: { [key: string]: BencodeValue } | undefined): DirectionStats {
  const stats = asDict(stream?.stats);
  return {
    packets: num(stats?.packets),
    bytes: num(stats?.bytes),
    firstPacketAt: asText(stream?.['first packet at']) ?? null,
    lastPacketAt:
      asText(stream?.['last packet at']) ??
      (typeof stream?.['last packet'] === 'number'
        ? new Date(stream['last packet'] * 1000).toISOString()
        : null),
    dtmfEvents: num(stream?.['dtmf events']),
    dtmfDigits: asText(stream?.['dtmf digits']) ?? '',
    dropped: num(stream?.dropped),
    blocked: num(stream?.blocked),
  };
}

function sideInfo(stream: { [key: string]: BencodeValue } | undefined): RelayStats['sideA'] {
  const endpoint = asDict(stream?.endpoint);
  const address = asText(endpoint?.address);
  const flags = asList(stream?.flags)?.map((flag) => asText(flag)) ?? [];
  return {
    relayPort: num(stream?.['local port']),
    peer: address !== undefined ? `${address}:${num(endpoint?.port)}` : null,
    latched: flags.includes('confirmed'),
    direction: asText(stream?.direction) ?? null,
  };
}

/** The relay port an SDP the relay rewrote points at (where the receiving party must send). */
export function relayPortIn(sdp: string): number | undefined {
  return readAudioTarget(sdp)?.port;
}
