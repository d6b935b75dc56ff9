/**
 * Back-to-back user agent: every call is two independent dialogs. Leg A faces the caller (the
 * edge is its UAS), leg B faces the callee (the edge is its UAC, with a Call-ID of its own).
 * Media always goes through the relay; every call attempt ends in exactly one CDR.
 */
import { randomBytes } from 'node:crypto';
import type { CallApplications, LiveCallResource } from '../contracts';
import type { RelaySide, RelayStats } from '../media-relay';
import { MediaApp, placeholderAudioSdp } from '../media-relay/media-app';
import { relayPortIn, type RelayCall, type RelayCallState } from './relay-call';
import type { PlatformConfig } from '../config';
import type { SipAccount } from './auth';
import { headerValue, randomToken, type SipRequest, type SipResponse } from './message';
import {
  DialogTable,
  contactUri,
  learnRemote,
  openLeg,
  sendBye,
  sendCancel,
  sendInDialog,
  sendInvite,
  type DialogLeg,
  type SentInvite,
} from './dialog';
import { routeSetAsUas, trueSource, type ProxyAddress } from './proxy';
import { CallRouting, toE164, trunkLegTarget, type LegTarget, type TrunkRow } from './routing';
import { writeCdr } from './cdr';
import { Originator, type OriginatorDeps } from './originate';
import type { ClientTransactionHandlers } from './stack';
import { describeFlow, sameFlow, type Flow } from './transport';

export type CallDirection = 'internal' | 'outbound' | 'inbound';
export type CallState = 'routing' | 'calling' | 'early' | 'answered' | 'ended';
export type Disposition = 'answered' | 'no-answer' | 'busy' | 'failed' | 'cancelled';
export type HangupBy = 'caller' | 'callee' | 'platform';

export interface ActiveCall {
  callRef: string;
  /** Call-ID of the customer-side leg (the CDR's sip_call_id). */
  sipCallId: string;
  customerId: string;
  direction: CallDirection;
  caller: string;
  callee: string;
  trunkId: string | null;
  state: CallState;
  startedAt: string;
  answeredAt: string | null;
  media: RelayStats | null;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO';
/** In-dialog methods relayed to the other leg as they are (SDP rewritten). */
const RELAYED_IN_DIALOG = new Set(['INVITE', 'UPDATE', 'INFO', 'OPTIONS']);

type Leg = DialogLeg;

/** An in-dialog request relayed from one leg to the other, waiting for its response (and ACK). */
interface RelayedRequest {
  origin: { request: SipRequest; flow: Flow; side: RelaySide };
  forwardedCseq: number;
}

export type TransferOutcome = 'transferred' | 'no-such-call' | 'no-route';

interface CallEnd {
  disposition: Disposition;
  status: number;
  hangupBy: HangupBy | null;
}

export interface Call {
  ref: string;
  /** Call-ID of the customer-side leg as it arrived: the CDR's key, even after a transfer replaced leg A. */
  sipCallId: string;
  state: CallState;
  direction: CallDirection;
  customerId: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  /** The account's forwarding target this call was sent to instead of the account. */
  forwardedTo: string | null;
  /** The number or user a live call was blind-transferred to (API call control). */
  transferredTo: string | null;
  /** The account the call is for, once routing found one. */
  account: SipAccount | null;
  /** The platform's own media endpoint when the platform answered the call itself. */
  app: MediaApp | null;
  /** Voicemail: the mailbox, and when recording started (null while the greeting plays). */
  voicemail: { mailbox: string; recordingSince: number | null; limit: NodeJS.Timeout | null } | null;
  startedAt: Date;
  answeredAt: Date | null;
  a: Leg;
  /** The initial INVITE from the caller, answered by the edge. */
  inviteA: SipRequest;
  b: Leg | null;
  /** Branch and CSeq of the INVITE sent to the callee (CANCEL needs them). */
  inviteB: SentInvite | null;
  /** The 2xx the callee sent, to ACK again when it is retransmitted. */
  ackBSent: boolean;
  relay: RelayCall | null;
  noAnswerTimer: NodeJS.Timeout | null;
  /** The RTP inactivity check of an answered call (see watchMedia). */
  mediaTimer: NodeJS.Timeout | null;
  /** Relayed in-dialog requests, by the branch the edge used on the other leg. */
  relayed: Map<string, RelayedRequest>;
  /** CSeq of a relayed re-INVITE's 2xx, so the originator's ACK can be forwarded with the right CSeq. */
  pendingAck: { fromSide: RelaySide; originCseq: number; forwardedCseq: number } | null;
  ended: boolean;
}

export type DialogPhase = 'setup' | 'confirmed' | 'local';

/** A call the store gave back: ready for the CallManager's tables, or only partly reachable. */
export interface RestoredCall {
  phase: DialogPhase;
  call: Call;
  /** Legs whose flow could not come back (WebSocket): the call must end now. */
  unreachable: Array<'A' | 'B'>;
}

/** Replication of calls for a node that takes over (implemented by dialog-store.ts). */
export interface CallReplication {
  save(call: Call): void;
  forget(callRef: string): void;
  /** What a predecessor left; `relayFor` gives the media handle for a stored ng identity. */
  load(relayFor: (state: RelayCallState) => Call['relay']): RestoredCall[];
  /** Active-active edge: the calls a dead peer carried, now this node's. */
  claim(peer: string, relayFor: (state: RelayCallState) => Call['relay']): RestoredCall[];
  /** Active-active edge: the other node carrying the call with this leg Call-ID, if any. */
  ownerOf(callId: string): string | undefined;
}

/**
 * An active-active edge (several sip nodes at their own addresses behind a dispatcher): what this
 * node knows of its peers. Undefined for the edge's single active node (keepalived-like takeover).
 */
export interface EdgePeers {
  /** True once the peer is known dead and fenced: its calls may be claimed. */
  isDead(node: string): boolean;
}

export interface CallManagerDeps extends OriginatorDeps {
  localHosts: string[];
  /** config.sip.trustedProxies: proxies whose Via says who really sent a request (trunks). */
  trustedProxies: readonly ProxyAddress[];
  /** config.media.inactivityTimeoutMs: an answered call without media this long ends (0: never). */
  inactivityTimeoutMs: number;
  /** config.media.heldInactivityTimeoutMs: the same for a call on hold (0: never). */
  heldInactivityTimeoutMs: number;
  /** Voicemail and verification-line settings (prompts, durations). */
  voice: PlatformConfig['voice'];
  /** The services behind the calls the platform answers itself. */
  apps: CallApplications;
  /** Where calls are replicated for a node that takes over (dialog-store.ts). */
  dialogStore: CallReplication;
  /** Set in an active-active edge only. */
  peers?: EdgePeers;
  /**
   * Asked before a call an account places is routed (toll fraud, simultaneous-call cap): a
   * refusal is answered as given. `inProgress`: the account's calls not yet ended.
   */
  screenCall?: (
    account: SipAccount,
    callee: string,
    inProgress: number,
    source: string,
  ) => CallScreening | undefined;
}

/** A call refused before routing: the answer to send. */
export interface CallScreening {
  status: number;
  reason: string;
  warning: string;
  /** Sent as Retry-After: when the caller may try again. */
  retryAfterSeconds?: number;
}

export class CallManager {
  private readonly calls = new Map<string, Call>();
  /** Dialog key (Call-ID + the edge's tag) → the call and which leg. */
  private readonly dialogs = new DialogTable<Call>();
  /** Branch of the caller's INVITE → call, to match CANCEL. */
  private readonly byInviteBranch = new Map<string, Call>();
  private readonly routing: CallRouting;
  /** The node gave up the edge's address (release): its successor owns every call now. */
  private released = false;

  /** Calls the platform places itself (SMS callbacks). */
  readonly originator: Originator;

  constructor(private readonly deps: CallManagerDeps) {
    this.routing = new CallRouting(deps.db);
    this.originator = new Originator(deps);
  }

  activeCalls(): ActiveCall[] {
    return [...this.calls.values()].map((call) => ({
      callRef: call.ref,
      sipCallId: call.sipCallId,
      customerId: call.customerId,
      direction: call.direction,
      caller: call.caller,
      callee: call.callee,
      trunkId: call.trunkId,
      state: call.state,
      startedAt: call.startedAt.toISOString(),
      answeredAt: call.answeredAt?.toISOString() ?? null,
      media: call.relay?.stats() ?? null,
    }));
  }

  /** Ends a call from the platform side (API live call control). False when no such active call. */
  hangup(callRef: string): boolean {
    const call = this.calls.get(callRef);
    if (!call || call.ended) return false;
    if (call.state === 'answered') {
      this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () => {
        this.sendBye(call, call.a);
        if (call.b) this.sendBye(call, call.b);
      });
    } else {
      this.cancelCallee(call);
      this.finish(call, { disposition: 'failed', status: 480, hangupBy: 'platform' }, () =>
        this.deps.stack.respond(call.inviteA, call.a.flow, 480, {
          toTag: call.a.localTag,
          headers: [['Reason', 'SIP;cause=480;text="Call terminated by the platform"']],
        }),
      );
    }
    return true;
  }

  /** A customer's live call by its API id, undefined when it is someone else's or over. */
  private owned(customerId: string, callRef: string): Call | undefined {
    const call = this.calls.get(callRef);
    return call && call.customerId === customerId && !call.ended ? call : undefined;
  }

  /** API call control: the customer's calls in progress. */
  liveCalls(customerId: string): LiveCallResource[] {
    return [...this.calls.values()].filter((c) => c.customerId === customerId && !c.ended).map(liveView);
  }

  hangupOwned(customerId: string, callRef: string): boolean {
    return this.owned(customerId, callRef) !== undefined && this.hangup(callRef);
  }

  /** Hold (true) or resume (false): the relay stops or restarts media both ways (rtpengine's block media). */
  setHeld(customerId: string, callRef: string, held: boolean): LiveCallResource | undefined {
    const call = this.owned(customerId, callRef);
    if (!call || call.state !== 'answered' || !call.relay) return undefined;
    call.relay
      .setBlocked(held)
      .catch((error: unknown) =>
        this.deps.log(`call ${call.ref}: ${held ? 'hold' : 'resume'}: ${String(error)}`),
      );
    this.deps.log(`call ${call.ref}: ${held ? 'on hold' : 'resumed'} through the API`);
    this.persist(call);
    this.watchMedia(call); // a held call may be silent for longer
    return liveView(call);
  }

  /**
   * Blind transfer through the API: the customer's own party (the caller of an outbound call,
   * the callee otherwise) gets a BYE, and the other party's media is offered to the target on a
   * new leg from the same relay port, so the kept party needs no re-INVITE. If the target does not
   * answer, the kept party is released too.
   */
  async transfer(customerId: string, callRef: string, target: string): Promise<TransferOutcome> {
    const call = this.owned(customerId, callRef);
    const relay = call?.relay;
    if (!call || call.state !== 'answered' || !call.b || !relay) return 'no-such-call';
    const released: RelaySide = call.direction === 'outbound' ? 'A' : 'B';
    const kept: RelaySide = released === 'A' ? 'B' : 'A';
    const keptSdp = relay.lastSdp(kept);
    const destination = this.transferTarget(call, target, kept === 'A' ? call.caller : call.callee);
    if (!destination || keptSdp === null) return 'no-route';
    // The kept party's media, offered anew from the relay port facing the released side. Before
    // anyone is released: a relay that cannot be reached leaves the call as it was.
    const offer = await relay.offer(kept, keptSdp);
    if (call.ended) return 'no-such-call';

    const oldLeg = released === 'A' ? call.a : call.b;
    this.dialogs.remove(oldLeg);
    this.sendBye(call, oldLeg);
    const leg = openLeg(released, destination, this.deps.stack, this.deps.domain);
    if (released === 'A') call.a = leg;
    else call.b = leg;
    this.dialogs.add(leg, call);
    call.transferredTo = target;
    this.deps.log(`call ${call.ref}: blind transfer of leg ${kept}'s party to ${target}`);
    let answered = false;
    const fail = (why: string): void => {
      if (call.ended || answered) return;
      this.deps.log(`call ${call.ref}: transfer to ${target} failed (${why}); releasing leg ${kept}`);
      this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () =>
        this.sendBye(call, kept === 'A' ? call.a : (call.b ?? call.a)),
      );
    };
    const { branch } = sendInvite(
      this.deps.stack,
      leg,
      {
        maxForwards: 70,
        allow: ALLOW,
        extraHeaders: destination.extraHeaders,
        body: offer,
        contentType: 'application/sdp',
      },
      {
        onResponse: (response) => {
          if (response.status < 200) {
            if (response.toTag !== undefined) learnRemote(leg, response);
            return;
          }
          if (response.status >= 300) return fail(`${response.status} ${response.reason}`);
          if (answered) return;
          if (call.ended) {
            // The target answered after the call was given up: confirm its dialog, then end it.
            learnRemote(leg, response);
            this.sendInDialog(call, leg, 'ACK', { cseq: 1 });
            this.sendBye(call, leg);
            return;
          }
          answered = true;
          this.clearNoAnswer(call);
          learnRemote(leg, response);
          if (response.body.length > 0)
            relay
              .replacePeer(released, response.body.toString('utf8'))
              .catch((error: unknown) =>
                this.deps.log(`call ${call.ref}: transfer answer: ${String(error)}`),
              );
          this.sendInDialog(call, leg, 'ACK', { cseq: 1 });
          this.persist(call);
          this.watchMedia(call);
        },
        onTimeout: () => fail('no answer to the INVITE'),
      },
    );
    call.noAnswerTimer = setTimeout(() => {
      if (answered || call.ended) return;
      sendCancel(this.deps.stack, leg, { branch, uri: destination.uri, cseq: 1 }); // the INVITE's own Request-URI
      fail(`no answer within ${this.deps.noAnswerTimeoutMs} ms (config.sip.noAnswerTimeoutMs)`);
    }, this.deps.noAnswerTimeoutMs);
    return 'transferred';
  }

  /** A transfer target: one of the customer's registered users, else a number over its trunks. */
  private transferTarget(call: Call, target: string, presented: string): LegTarget | undefined {
    const account = this.routing.findAccountByTarget(target);
    if (account && account.customerId === call.customerId) {
      const binding = this.deps.registrar.lookup(account.username);
      if (!binding) return undefined;
      return {
        flow: binding.flow,
        uri: binding.contact,
        route: binding.path,
        from: `<sip:${presented}@${this.deps.domain}>`,
        to: `<sip:${account.username}@${this.deps.domain}>`,
        extraHeaders: [],
      };
    }
    const number = toE164(target);
    const trunk = this.routing.findTrunkFor(call.customerId, number);
    const known = /^\+\d+$/.test(presented);
    return trunk
      ? trunkLegTarget(trunk, number, { number: presented, withheld: !known }, this.deps.domain)
      : undefined;
  }

  /** Every call ends (platform stop): BYE/CANCEL both sides, CDRs written. */
  async stopAll(): Promise<void> {
    for (const call of [...this.calls.values()]) this.hangup(call.ref);
    this.originator.stopAll();
    await Promise.all(this.deps.relay.sessions().map((s) => s.close()));
  }

  /** An INVITE without To tag. Its server transaction is already registered. */
  async onInitialInvite(request: SipRequest, flow: Flow): Promise<void> {
    const { stack } = this.deps;
    // Behind a trusted proxy (Kamailio) the carrier is the hop below it, not the proxy.
    const source = trueSource(request, flow, this.deps.trustedProxies);
    const trunks = source.transport === 'UDP' ? this.routing.trunksAt(source.address, source.port) : [];
    let caller: { account: SipAccount } | { trunks: TrunkRow[] };
    if (trunks.length > 0) caller = { trunks };
    else {
      const outcome = this.deps.auth.authenticate(request, 'proxy', request.from.uri.user, source.address);
      if (!outcome.ok) {
        this.deps.log(
          `INVITE ${request.uri.toString()} from ${describeFlow(flow)}: ${outcome.status} (${outcome.detail})`,
        );
        // Stateless (no Timer G, no transaction): see SipStack.respondStateless.
        stack.respondStateless(request, flow, outcome.status, {
          reason: outcome.reason,
          headers: outcome.headers,
        });
        return;
      }
      caller = { account: outcome.account };
    }
    if (!this.deps.localHosts.includes(request.uri.host)) {
      stack.respond(request, flow, 403, { reason: 'Not relaying' });
      return;
    }
    const target = request.uri.user ?? request.to.uri.user ?? '';
    // sip.js has already decoded %-escapes here ("%0D%0A" is a real CRLF): nothing but a plain
    // number or username may reach a URI, header, CDR or log line the edge writes.
    const dialed = validDialTarget(target);
    if (dialed === undefined) {
      const status = target === '' ? 484 : 404;
      this.deps.log(
        `INVITE from ${describeFlow(flow)}: ${status} (dialed target ${JSON.stringify(target.slice(0, 80))} is neither a number nor a username)`,
      );
      stack.respond(request, flow, status, { toTag: randomToken(8) });
      return;
    }
    if ('account' in caller && this.deps.screenCall) {
      const { number } = caller.account;
      const inProgress = [...this.calls.values()].filter(
        (c) => !c.ended && c.direction !== 'inbound' && c.caller === number,
      ).length;
      const refusal = this.deps.screenCall(caller.account, toE164(dialed), inProgress, source.address);
      if (refusal) {
        this.deps.log(
          `INVITE from ${describeFlow(flow)} to ${dialed}: ${refusal.status} (${refusal.warning})`,
        );
        stack.respond(request, flow, refusal.status, {
          reason: refusal.reason,
          toTag: randomToken(8),
          headers: [
            ['Warning', `399 ${this.deps.domain} "${refusal.warning}"`],
            ...(refusal.retryAfterSeconds === undefined
              ? []
              : [
                  ['Retry-After', String(refusal.retryAfterSeconds)] as [string, string],
                  // RFC 3326: says the 503 is the platform's limit, not a failing node, to a
                  // dispatcher in front (lab/kamailio.cfg relays it instead of trying another node).
                  ['Reason', `SIP;cause=${refusal.status};text="${refusal.reason}: rate limit"`] as [
                    string,
                    string,
                  ],
                ]),
          ],
        });
        return;
      }
    }
    const localTag = randomToken(8);
    stack.respond(request, flow, 100);
    const call = this.newCall(request, flow, localTag, caller, dialed);
    this.calls.set(call.ref, call);
    this.dialogs.add(call.a, call);
    const branch = request.vias[0]?.branch;
    if (branch !== undefined) this.byInviteBranch.set(branch, call);
    this.persist(call);

    try {
      await this.route(call, caller, dialed);
    } catch (error) {
      this.deps.log(`call ${call.ref}: routing failed: ${(error as Error).stack ?? String(error)}`);
      if (!call.ended) this.rejectCaller(call, 500, 'failed');
    }
  }

  /** CANCEL of a caller's INVITE (matched by branch, RFC 3261 §9.2). */
  onCancel(request: SipRequest, flow: Flow): void {
    const branch = request.vias[0]?.branch;
    const call = branch === undefined ? undefined : this.byInviteBranch.get(branch);
    if (!call) {
      this.deps.stack.respond(request, flow, 481);
      return;
    }
    this.deps.stack.respond(request, flow, 200);
    if (call.ended || call.state === 'answered') return; // too late: the call was answered or is over
    this.cancelCallee(call);
    this.finish(call, { disposition: 'cancelled', status: 487, hangupBy: 'caller' }, () =>
      this.deps.stack.respond(call.inviteA, call.a.flow, 487, { toTag: call.a.localTag }),
    );
  }

  /** ACK, BYE and every other request with a To tag. */
  onInDialog(request: SipRequest, flow: Flow): void {
    if (this.originator.onInDialog(request, flow)) return;
    const found = this.dialogs.find(request);
    if (request.method === 'ACK') {
      // The ACK of a non-2xx final sent before any dialog existed (a 404, a 484) only completes
      // that INVITE transaction: nothing to do, and nothing unknown about it. (Stateless auth
      // challenges' ACKs never get here: see SipStack.isStatelessAck.)
      const ackOfFailure = (this.deps.stack.inviteFinalStatus(request.vias[0]?.branch) ?? 0) >= 300;
      if (found) this.onAck(found.call, found.side, request);
      else if (!ackOfFailure)
        this.deps.log(
          `ACK for unknown dialog (Call-ID ${request.callId}) from ${describeFlow(flow)} dropped`,
        );
      return;
    }
    if (!found) {
      if (this.peerCarries(request, flow)) return;
      this.deps.stack.respond(request, flow, 481);
      return;
    }
    const { call, side } = found;
    if (request.method === 'BYE') this.onBye(call, side, request, flow);
    else if (RELAYED_IN_DIALOG.has(request.method)) this.relayInDialog(call, side, request, flow);
    else this.deps.stack.respond(request, flow, 405, { headers: [['Allow', ALLOW]] });
  }

  private newCall(
    request: SipRequest,
    flow: Flow,
    localTag: string,
    caller: { account: SipAccount } | { trunks: TrunkRow[] },
    dialed: string,
  ): Call {
    const isInbound = 'trunks' in caller;
    const contact = this.deps.stack.transports.contactFor(flow);
    return {
      ref: `call_${randomBytes(8).toString('hex')}`,
      sipCallId: request.callId,
      state: 'routing',
      direction: isInbound ? 'inbound' : 'internal',
      customerId: isInbound ? (caller.trunks[0]?.customerId ?? '') : caller.account.customerId,
      // A carrier's From user is presented to our user: only a plain number or name, never raw text.
      caller: isInbound
        ? toE164(validDialTarget(request.from.uri.user ?? '') ?? 'anonymous')
        : caller.account.number,
      callee: toE164(dialed),
      trunkId: null,
      forwardedTo: null,
      transferredTo: null,
      account: null,
      app: null,
      voicemail: null,
      startedAt: new Date(),
      answeredAt: null,
      a: {
        side: 'A',
        flow,
        callId: request.callId,
        localTag,
        localHeader: `${headerValue(request.headers, 'to') ?? ''};tag=${localTag}`,
        remoteHeader: headerValue(request.headers, 'from') ?? '',
        remoteTarget: contactUri(request) ?? request.from.uri.toString(),
        localCseq: Math.floor(Math.random() * 10_000) + 1,
        contact,
        routeSet: routeSetAsUas(request),
        inviteRoute: [],
      },
      inviteA: request,
      b: null,
      inviteB: null,
      ackBSent: false,
      relay: null,
      noAnswerTimer: null,
      mediaTimer: null,
      relayed: new Map(),
      pendingAck: null,
      ended: false,
    };
  }

  private async route(
    call: Call,
    caller: { account: SipAccount } | { trunks: TrunkRow[] },
    dialed: string,
  ): Promise<void> {
    if ('trunks' in caller) {
      const number = toE164(dialed);
      const owner = this.routing.numberOwner(number);
      const trunk = caller.trunks.find((t) => t.customerId === owner);
      if (!owner || !trunk)
        return this.rejectCaller(call, 404, 'failed', `number ${number} is not served behind this trunk`);
      call.customerId = owner;
      call.trunkId = trunk.id;
      call.callee = number;
      if (this.routing.numberService(number) === 'verification') return this.verificationLine(call, number);
      const account = this.routing.accountForNumber(number);
      if (!account) return this.rejectCaller(call, 404, 'failed', `number ${number} has no SIP account`);
      return this.callAccount(call, account);
    }
    const target = this.routing.findAccountByTarget(dialed);
    if (target) return this.callAccount(call, target);
    const number = toE164(dialed);
    const trunk = this.routing.findTrunkFor(caller.account.customerId, number);
    if (!trunk)
      return this.rejectCaller(call, 404, 'failed', `no registered user or trunk route for "${dialed}"`);
    call.direction = 'outbound';
    call.trunkId = trunk.id;
    await this.inviteOverTrunk(call, trunk, dialed, {
      number: toE164(caller.account.callerId ?? trunk.callerId ?? caller.account.number),
      withheld: trunk.callerIdPresentation === 'withheld',
    });
  }

  /** Sends leg B to the outside network over a trunk (see trunkLegTarget for the presentation). */
  private async inviteOverTrunk(
    call: Call,
    trunk: TrunkRow,
    dialed: string,
    presented: { number: string; withheld: boolean },
    extraHeaders: Array<[string, string]> = [],
  ): Promise<void> {
    await this.inviteCallee(call, trunkLegTarget(trunk, dialed, presented, this.deps.domain, extraHeaders));
  }

  private async callAccount(call: Call, account: SipAccount): Promise<void> {
    call.callee = account.number;
    call.account = account;
    if (account.forwardTo !== null) return this.forward(call, account, account.forwardTo);
    const binding = this.deps.registrar.lookup(account.username);
    if (!binding) {
      if (account.voicemail) return this.voicemail(call, account);
      return this.rejectCaller(call, 480, 'no-answer', `${account.username} is not registered`);
    }
    const display = call.direction === 'inbound' ? '' : `"${escapeQuoted(this.callerDisplay(call))}" `;
    await this.inviteCallee(call, {
      flow: binding.flow,
      uri: binding.contact,
      route: binding.path,
      from: `${display}<sip:${call.caller}@${this.deps.domain}>`,
      to: `<sip:${account.username}@${this.deps.domain}>`,
      extraHeaders: [],
    });
  }

  /**
   * The account forwards its calls: leg B goes over the customer's trunk to the forwarding target,
   * presenting the original caller (the called number travels in Diversion, RFC 5806).
   */
  private async forward(call: Call, account: SipAccount, target: string): Promise<void> {
    const trunk = this.routing.findTrunkFor(account.customerId, target);
    if (!trunk)
      return this.rejectCaller(
        call,
        404,
        'failed',
        `no trunk route to ${account.username}'s forwarding target`,
      );
    call.forwardedTo = target;
    call.trunkId ??= trunk.id;
    const callerKnown = /^\+\d+$/.test(call.caller);
    await this.inviteOverTrunk(
      call,
      trunk,
      target,
      { number: callerKnown ? call.caller : account.number, withheld: !callerKnown },
      [['Diversion', `<sip:${account.number}@${this.deps.domain}>;reason=unconditional`]],
    );
  }

  private callerDisplay(call: Call): string {
    const display = call.inviteA.from.displayName;
    return typeof display === 'string' && display !== '' ? display : call.caller;
  }

  private async inviteCallee(call: Call, target: LegTarget): Promise<void> {
    const relay = this.deps.relay.allocate(call.ref);
    call.relay = relay;
    const offer =
      call.inviteA.body.length > 0 ? await relay.offer('A', call.inviteA.body.toString('utf8')) : undefined;
    if (call.ended) return; // the caller cancelled while the relay was being asked (finish deletes it)
    const b = openLeg('B', target, this.deps.stack, this.deps.domain);
    call.b = b;
    this.dialogs.add(b, call);
    const maxForwards = Number(headerValue(call.inviteA.headers, 'max-forwards') ?? '70');
    const { branch, sent } = sendInvite(
      this.deps.stack,
      b,
      {
        maxForwards: Math.max(0, Math.min(70, maxForwards - 1)),
        allow: ALLOW,
        extraHeaders: target.extraHeaders,
        body: offer,
        contentType: headerValue(call.inviteA.headers, 'content-type'),
      },
      {
        onResponse: (response) => this.onCalleeInviteResponse(call, response),
        onTimeout: () => this.onCalleeSilent(call),
      },
    );
    call.inviteB = { branch, uri: target.uri, cseq: b.localCseq };
    call.state = 'calling';
    this.persist(call);
    if (!sent) {
      this.rejectCaller(call, 480, 'failed', `callee connection ${describeFlow(target.flow)} is gone`);
      return;
    }
    call.noAnswerTimer = setTimeout(() => this.onNoAnswer(call), this.deps.noAnswerTimeoutMs);
  }

  private onNoAnswer(call: Call): void {
    call.noAnswerTimer = null;
    if (call.ended || call.state === 'answered') return;
    this.deps.log(
      `call ${call.ref}: no answer after ${this.deps.noAnswerTimeoutMs} ms (config.sip.noAnswerTimeoutMs)`,
    );
    this.cancelCallee(call);
    if (call.account?.voicemail) {
      this.abandonCallee(call);
      this.voicemail(call, call.account).catch((error: unknown) => {
        this.deps.log(`call ${call.ref}: voicemail failed: ${(error as Error).stack ?? String(error)}`);
        if (!call.ended) this.rejectCaller(call, 500, 'failed');
      });
      return;
    }
    this.finish(call, { disposition: 'no-answer', status: 480, hangupBy: 'platform' }, () =>
      this.deps.stack.respond(call.inviteA, call.a.flow, 480, {
        toTag: call.a.localTag,
        reason: 'No Answer',
      }),
    );
  }

  /**
   * The proxy in front says the callee's flow is gone (430 Flow Failed, RFC 5626 §5.3: the
   * phone's WebSocket closed): the binding is forgotten, as when the edge sees its own WebSocket
   * close, and the call goes on as to a user who is not registered.
   */
  private onCalleeFlowFailed(call: Call, account: SipAccount, contact: string): void {
    this.clearNoAnswer(call);
    this.deps.registrar.dropContact(account.username, contact);
    this.abandonCallee(call);
    if (account.voicemail) {
      this.voicemail(call, account).catch((error: unknown) => {
        this.deps.log(`call ${call.ref}: voicemail failed: ${(error as Error).stack ?? String(error)}`);
        if (!call.ended) this.rejectCaller(call, 500, 'failed');
      });
      return;
    }
    this.rejectCaller(call, 480, 'no-answer', `${account.username} is not registered (its flow failed: 430)`);
  }

  /** The callee's leg is given up (cancelled): whatever it still answers no longer concerns the call. */
  private abandonCallee(call: Call): void {
    if (call.b) this.dialogs.remove(call.b);
    call.b = null;
    call.inviteB = null;
  }

  /**
   * The platform answers the call itself, with a media endpoint of its own behind the relay's
   * side B: the caller's audio reaches it through the relay, and its prompts reach the caller.
   */
  private async answerLocally(call: Call): Promise<MediaApp> {
    const relay = call.relay ?? this.deps.relay.allocate(call.ref);
    call.relay = relay;
    const host = this.deps.relay.client.relay.host;
    const app = await MediaApp.open(host, this.deps.log);
    call.app = app;
    // The caller's offer, as the relay passes it on: it names the relay port facing the platform.
    // Without the caller's SDP (a late offer) only the relay's port facing the platform matters yet.
    const callerSdp =
      call.inviteA.body.length > 0 ? call.inviteA.body.toString('utf8') : placeholderAudioSdp(host);
    const offer = await relay.offer('A', callerSdp);
    const answer = await relay.replacePeer('B', app.sdp());
    if (call.ended) {
      await app.close();
      throw new Error('the caller hung up before the platform could answer');
    }
    const relayPort = relayPortIn(offer);
    if (relayPort === undefined)
      throw new Error(`the relay's offer has no audio port: ${JSON.stringify(offer)}`);
    app.setRemote(host, relayPort);
    call.state = 'answered';
    call.answeredAt = new Date();
    this.persist(call);
    this.watchMedia(call);
    this.deps.stack.respond(call.inviteA, call.a.flow, 200, {
      toTag: call.a.localTag,
      headers: [
        ['Contact', `<${call.a.contact}>`],
        ['Allow', ALLOW],
      ],
      body: answer,
      contentType: 'application/sdp',
      onNoAck: () => this.onNeverAcknowledged(call, 'A'),
    });
    return app;
  }

  /** Ends an answered call from the platform's side: record written, BYE to whoever is on it. */
  private endByPlatform(call: Call): void {
    if (call.ended) return;
    this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () => {
      this.sendBye(call, call.a);
      if (call.b) this.sendBye(call, call.b);
    });
  }

  /**
   * Voicemail: the greeting plays, then the caller's message is recorded until they hang up (or
   * the longest message allowed has passed). The recording is handed over when the call ends.
   */
  private async voicemail(call: Call, account: SipAccount): Promise<void> {
    const { voice } = this.deps;
    call.voicemail = { mailbox: account.number, recordingSince: null, limit: null };
    this.deps.log(`call ${call.ref}: to voicemail of ${account.number}`);
    const app = await this.answerLocally(call);
    await app.play(voice.promptHz.greeting, voice.voicemailGreetingMs);
    if (call.ended) return;
    app.startRecording();
    call.voicemail.recordingSince = Date.now();
    call.voicemail.limit = setTimeout(() => this.endByPlatform(call), voice.voicemailMaxMessageMs);
    call.voicemail.limit.unref();
  }

  /**
   * The verification line: the platform answers, texts the caller a one-time code and asks for
   * it; the keys pressed are checked. Right: "confirmed", then the platform hangs up. Wrong:
   * "try again". Expired, or too many wrong codes: "refused", then the platform hangs up.
   */
  private async verificationLine(call: Call, line: string): Promise<void> {
    const { voice } = this.deps;
    const app = await this.answerLocally(call);
    const started = this.deps.apps.startVerification({
      customerId: call.customerId,
      line,
      phone: call.caller,
    });
    if (!started) {
      this.deps.log(
        `call ${call.ref}: verification line ${line}: caller ${call.caller} cannot be texted a code`,
      );
      await app.play(voice.promptHz.refused, voice.promptMs);
      return this.endByPlatform(call);
    }
    let keys = '';
    let checking = false;
    app.onDigit((digit) => {
      if (checking || call.ended) return;
      keys += digit;
      if (keys.length < started.codeLength) return;
      const entered = keys;
      keys = '';
      checking = true;
      const outcome = this.deps.apps.checkCode(started.id, entered);
      this.deps.log(`call ${call.ref}: verification ${started.id}: ${outcome}`);
      const prompt =
        outcome === 'verified'
          ? voice.promptHz.confirmed
          : outcome === 'wrong'
            ? voice.promptHz.tryAgain
            : voice.promptHz.refused;
      void app.play(prompt, voice.promptMs).then(() => {
        checking = false;
        if (outcome !== 'wrong') this.endByPlatform(call);
      });
    });
    await app.play(voice.promptHz.enterCode, voice.promptMs);
  }

  /** Timer B: the callee never answered the INVITE at all (a dead trunk or phone). */
  private onCalleeSilent(call: Call): void {
    if (call.ended) return;
    const timeoutMs = this.deps.stack.transactionTimeoutMs;
    const detail = `no response from the callee to the INVITE within 64·T1 = ${timeoutMs} ms`;
    this.deps.log(`call ${call.ref}: 408 (${detail}; config.sip.t1Ms)`);
    this.cancelCallee(call); // sent only if a late provisional still comes (RFC 3261 §9.1)
    this.finish(call, { disposition: 'failed', status: 408, hangupBy: 'platform' }, () =>
      this.deps.stack.respond(call.inviteA, call.a.flow, 408, {
        toTag: call.a.localTag,
        headers: [['Warning', `399 ${this.deps.domain} "${escapeQuoted(detail)}"`]],
      }),
    );
  }

  /**
   * A 2xx the edge sent for an INVITE was never ACKed (RFC 3261 §13.3.1.4): the dialog cannot be
   * trusted, the session ends with BYE on both legs.
   */
  private onNeverAcknowledged(call: Call, leg: RelaySide): void {
    if (call.ended) return;
    this.deps.log(`call ${call.ref}: the 2xx to leg ${leg}'s INVITE was never ACKed; ending the call`);
    this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () => {
      if (call.b && !call.ackBSent) this.sendAckToCallee(call, undefined); // B's 2xx still needs its ACK
      this.sendBye(call, call.a);
      if (call.b) this.sendBye(call, call.b);
    });
  }

  private onCalleeInviteResponse(call: Call, response: SipResponse): void {
    const b = call.b;
    if (!b) return;
    const { stack } = this.deps;
    if (response.status === 100) return;
    if (response.status >= 200 && response.status < 300) {
      if (call.ended || call.state === 'answered') {
        // A 2xx that crossed our CANCEL or came after the call ended: ACK, then BYE. (Retransmitted
        // 2xx responses never get here: the stack ACKs them again itself.)
        if (call.ended && !call.ackBSent) {
          learnRemote(b, response);
          this.sendAckToCallee(call, undefined);
          this.sendBye(call, b);
        }
        return;
      }
      learnRemote(b, response);
      this.clearNoAnswer(call);
      call.state = 'answered';
      call.answeredAt = new Date();
      this.persist(call);
      this.watchMedia(call);
      this.calleeSdpForCaller(call, response, (answer) =>
        stack.respond(call.inviteA, call.a.flow, response.status, {
          reason: response.reason,
          toTag: call.a.localTag,
          headers: [
            ['Contact', `<${call.a.contact}>`],
            ['Allow', ALLOW],
          ],
          body: answer,
          contentType: headerValue(response.headers, 'content-type'),
          onNoAck: () => this.onNeverAcknowledged(call, 'A'),
        }),
      );
      return;
    }
    if (call.ended) return; // the final for our CANCEL (487) or a late reply: the stack has ACKed it
    if (response.status < 200) {
      if (response.toTag !== undefined) learnRemote(b, response);
      call.state = 'early';
      this.calleeSdpForCaller(call, response, (sdp) =>
        stack.respond(call.inviteA, call.a.flow, response.status, {
          reason: response.reason,
          toTag: call.a.localTag,
          headers: [['Contact', `<${call.a.contact}>`]],
          body: sdp,
          contentType: headerValue(response.headers, 'content-type'),
        }),
      );
      return;
    }
    if (response.status === 430 && call.account && call.forwardedTo === null && call.inviteB) {
      this.onCalleeFlowFailed(call, call.account, call.inviteB.uri);
      return;
    }
    // A redirect would point the caller past the platform: report it as unavailable instead.
    const status = response.status < 400 ? 480 : response.status;
    // The callee's 503 is not the edge's: passed on as 503 it would tell a proxy in front
    // (Kamailio's dispatcher) that this edge is out of service. RFC 3261 §16.7 step 6: 500.
    const toCaller = status === 503 ? 500 : status;
    this.finish(call, { disposition: dispositionFor(status), status, hangupBy: 'callee' }, () =>
      stack.respond(call.inviteA, call.a.flow, toCaller, {
        reason: toCaller === response.status ? response.reason : undefined,
        toTag: call.a.localTag,
      }),
    );
  }

  private onAck(call: Call, side: RelaySide, request: SipRequest): void {
    // An ACK for a non-2xx final shares the INVITE's branch: it ends that transaction, nothing to relay.
    const finalStatus = this.deps.stack.inviteFinalStatus(request.vias[0]?.branch);
    if (finalStatus !== undefined && finalStatus >= 300) return;
    if (side === 'A' && request.cseq.seq === call.inviteA.cseq.seq) {
      if (!call.ackBSent && call.state === 'answered') this.sendAckToCallee(call, request);
      return;
    }
    const pending = call.pendingAck;
    if (pending && pending.fromSide === side && pending.originCseq === request.cseq.seq) {
      call.pendingAck = null;
      const other = side === 'A' ? call.b : call.a;
      if (other)
        this.sendInDialog(call, other, 'ACK', { cseq: pending.forwardedCseq, sdpFrom: side, request });
    }
  }

  /** The callee's SDP as the caller must see it (pointing at the relay, not at the callee), then `send`. */
  private calleeSdpForCaller(
    call: Call,
    response: SipResponse,
    send: (sdp: string | undefined) => void,
  ): void {
    // The caller's INVITE without SDP (a late offer) makes the callee's SDP the offer.
    const kind = call.inviteA.body.length > 0 ? 'answer' : 'offer';
    this.viaRelay(call, 'B', kind, response, (sdp) => {
      if (!call.ended) send(sdp);
    });
  }

  /**
   * Hands the SDP `side` sent in `message` to the relay as an offer or an answer and calls `send`
   * with the SDP for the other side; a message without SDP is sent at once, in order. When the
   * relay cannot be reached the call ends (logged with the relay's address and the command).
   */
  private viaRelay(
    call: Call,
    side: RelaySide,
    kind: 'offer' | 'answer',
    message: SipRequest | SipResponse,
    send: (sdp: string | undefined) => void,
  ): void {
    const isSdp = (headerValue(message.headers, 'content-type') ?? 'application/sdp').startsWith(
      'application/sdp',
    );
    if (message.body.length === 0 || !call.relay || !isSdp) return send(undefined);
    call.relay[kind](side, message.body.toString('utf8')).then(send, (error: unknown) => {
      this.deps.log(`call ${call.ref}: ${(error as Error).message}; ending the call`);
      if (call.ended) return;
      if (call.state === 'answered') return this.endByPlatform(call);
      this.cancelCallee(call);
      this.rejectCaller(call, 503, 'failed', 'the media relay did not answer');
    });
  }

  private sendAckToCallee(call: Call, ackFromCaller: SipRequest | undefined): void {
    if (!call.b || !call.inviteB) return;
    call.ackBSent = true;
    this.sendInDialog(call, call.b, 'ACK', { cseq: call.inviteB.cseq, sdpFrom: 'A', request: ackFromCaller });
  }

  private onBye(call: Call, side: RelaySide, request: SipRequest, flow: Flow): void {
    if (call.ended) {
      this.deps.stack.respond(request, flow, 200); // the other side's BYE crossed ours
      return;
    }
    if (call.state !== 'answered') {
      // BYE in an early dialog (RFC 3261 §15): the caller gives up like a CANCEL.
      this.deps.stack.respond(request, flow, 200);
      if (side === 'A') {
        this.cancelCallee(call);
        this.finish(call, { disposition: 'cancelled', status: 487, hangupBy: 'caller' }, () =>
          this.deps.stack.respond(call.inviteA, call.a.flow, 487, { toTag: call.a.localTag }),
        );
      }
      return;
    }
    // The CDR is committed before the BYE is answered: whoever reads it after the hangup sees it.
    this.finish(
      call,
      { disposition: 'answered', status: 200, hangupBy: side === 'A' ? 'caller' : 'callee' },
      () => {
        this.deps.stack.respond(request, flow, 200);
        const other = side === 'A' ? call.b : call.a;
        if (other) this.sendBye(call, other);
      },
    );
  }

  private relayInDialog(call: Call, side: RelaySide, request: SipRequest, flow: Flow): void {
    const other = side === 'A' ? call.b : call.a;
    if (call.ended || !other || call.state !== 'answered') {
      this.deps.stack.respond(request, flow, request.method === 'INVITE' ? 491 : 481);
      return;
    }
    const forwardedCseq = ++other.localCseq;
    let branch = '';
    this.sendInDialog(
      call,
      other,
      request.method,
      { cseq: forwardedCseq, sdpFrom: side, request },
      {
        onResponse: (response) => this.onRelayedResponse(call, branch, response),
        onTimeout: () => {
          if (!call.relayed.delete(branch)) return;
          this.deps.stack.respond(request, flow, 408, {
            reason: `No Response From Leg ${other.side}`,
          });
        },
      },
      (sent) => {
        branch = sent.branch;
        call.relayed.set(branch, { origin: { request, flow, side }, forwardedCseq });
      },
    );
    if (request.body.length > 0) this.watchMedia(call); // a hold or resume changes the limit
    this.persist(call); // the leg's CSeq moved on
  }

  private onRelayedResponse(call: Call, branch: string, response: SipResponse): void {
    const relayed = call.relayed.get(branch);
    if (!relayed || response.status === 100) return;
    const { origin } = relayed;
    if (response.status >= 200) call.relayed.delete(branch);
    const answeringSide: RelaySide = origin.side === 'A' ? 'B' : 'A';
    const originLeg = origin.side === 'A' ? call.a : call.b;
    if (origin.request.method === 'INVITE' && response.status >= 200 && response.status < 300) {
      call.pendingAck = {
        fromSide: origin.side,
        originCseq: origin.request.cseq.seq,
        forwardedCseq: relayed.forwardedCseq,
      };
    }
    const isSuccessToInvite =
      origin.request.method === 'INVITE' && response.status >= 200 && response.status < 300;
    // A request without SDP makes the response's SDP the offer.
    const kind = origin.request.body.length > 0 ? 'answer' : 'offer';
    this.viaRelay(call, answeringSide, kind, response, (body) => {
      if (body !== undefined) this.watchMedia(call); // the answer to a hold or resume
      this.deps.stack.respond(origin.request, origin.flow, response.status, {
        reason: response.reason,
        onNoAck: isSuccessToInvite ? () => this.onNeverAcknowledged(call, origin.side) : undefined,
        headers:
          originLeg && response.status < 300 && origin.request.method === 'INVITE'
            ? [['Contact', `<${originLeg.contact}>`]]
            : [],
        body,
        contentType: headerValue(response.headers, 'content-type'),
      });
    });
  }

  private sendInDialog(
    call: Call,
    leg: Leg,
    method: string,
    options: { cseq?: number; sdpFrom?: RelaySide; request?: SipRequest },
    handlers: ClientTransactionHandlers = {},
    onSent: (sent: { branch: string; sent: boolean }) => void = () => undefined,
  ): void {
    const cseq = options.cseq ?? ++leg.localCseq;
    const source = options.request;
    const contentType = source ? headerValue(source.headers, 'content-type') : undefined;
    const send = (body: string | undefined): void =>
      onSent(sendInDialog(this.deps.stack, leg, method, cseq, { body, contentType }, handlers));
    if (!source || !options.sdpFrom) return send(undefined);
    // SDP in an ACK answers the 2xx's offer; in any other request it is a new offer.
    this.viaRelay(call, options.sdpFrom, method === 'ACK' ? 'answer' : 'offer', source, send);
  }

  private sendBye(call: Call, leg: Leg): void {
    sendBye(this.deps.stack, leg, (message) => this.deps.log(`call ${call.ref}: ${message}`));
  }

  private cancelCallee(call: Call): void {
    if (call.b && call.inviteB) sendCancel(this.deps.stack, call.b, call.inviteB);
  }

  /** The edge rejects the call itself (no route, callee not registered, internal error). */
  private rejectCaller(call: Call, status: number, disposition: Disposition, detail?: string): void {
    if (detail) this.deps.log(`call ${call.ref}: ${status} (${detail})`);
    this.finish(call, { disposition, status, hangupBy: status >= 500 ? 'platform' : null }, () =>
      this.deps.stack.respond(call.inviteA, call.a.flow, status, {
        toTag: call.a.localTag,
        headers: detail ? [['Warning', `399 ${this.deps.domain} "${escapeQuoted(detail)}"`]] : [],
      }),
    );
  }

  /**
   * The RTP inactivity timeout (rtpengine's --timeout / --silent-timeout): an answered call whose
   * relay has received no media from either side for the limit has lost both endpoints (a crash,
   * a dead network) and would otherwise never end. One timer per call, armed for the earliest
   * moment the limit could be reached and re-checked then (no per-packet timer work). A call on
   * hold gets the longer limit; a re-INVITE/UPDATE with SDP re-arms with the new state. The last
   * media time comes from the relay (ng query): the call ends only on a fresh answer.
   */
  private watchMedia(call: Call, fresh = false): void {
    if (call.mediaTimer) clearTimeout(call.mediaTimer);
    call.mediaTimer = null;
    const relay = call.relay;
    if (this.released) return; // the successor watches the call now
    if (call.ended || call.state !== 'answered' || !relay || !call.answeredAt) return;
    const held = relay.onHold();
    const limitMs = held ? this.deps.heldInactivityTimeoutMs : this.deps.inactivityTimeoutMs;
    if (limitMs <= 0) return;
    const since = Math.max(call.answeredAt.getTime(), relay.lastMediaAt() ?? 0);
    const idleMs = Date.now() - since;
    if (idleMs < limitMs) {
      call.mediaTimer = setTimeout(() => this.watchMedia(call), limitMs - idleMs);
      call.mediaTimer.unref();
      return;
    }
    if (!fresh) {
      relay.refresh().then(
        () => this.watchMedia(call, true),
        (error: unknown) => {
          // The relay cannot say: its silence is no evidence the parties are gone. Ask again later.
          this.deps.log(`call ${call.ref}: media check: ${(error as Error).message}`);
          call.mediaTimer = setTimeout(() => this.watchMedia(call), limitMs);
          call.mediaTimer.unref();
        },
      );
      return;
    }
    const setting = held ? 'config.media.heldInactivityTimeoutMs' : 'config.media.inactivityTimeoutMs';
    this.deps.log(
      `call ${call.ref}: no RTP from either side for ${idleMs} ms${held ? ' (on hold)' : ''} (${setting} = ${limitMs}); ending the call`,
    );
    this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () => {
      if (call.b && !call.ackBSent) this.sendAckToCallee(call, undefined); // B's 2xx still needs its ACK
      this.sendBye(call, call.a);
      if (call.b) this.sendBye(call, call.b);
    });
  }

  private clearNoAnswer(call: Call): void {
    if (call.noAnswerTimer) clearTimeout(call.noAnswerTimer);
    call.noAnswerTimer = null;
  }

  /**
   * Ends the call exactly once: timers stopped, the relay session deleted and the CDR written
   * with its final counters, call.completed emitted; then `announce` tells the parties (so the
   * record is committed before anyone hears the call is over). Nothing when already ended.
   */
  private finish(call: Call, end: CallEnd, announce: () => void = () => undefined): void {
    if (call.ended) return;
    if (this.released) return; // the node that took over ends the call
    call.ended = true;
    call.state = 'ended';
    this.clearNoAnswer(call);
    if (call.mediaTimer) clearTimeout(call.mediaTimer);
    call.mediaTimer = null;
    const written = writeCdr(this.deps.db, this.deps.bus, this.deps.log, {
      callRef: call.ref,
      customerId: call.customerId,
      sipCallId: call.sipCallId,
      caller: call.caller,
      callee: call.callee,
      trunkId: call.trunkId,
      direction: call.direction,
      startedAt: call.startedAt,
      answeredAt: call.answeredAt,
      endedAt: new Date(),
      disposition: end.disposition,
      sipStatus: end.status,
      hangupBy: end.hangupBy,
      forwardedTo: call.forwardedTo,
      transferredTo: call.transferredTo,
      relay: call.relay,
    });
    written.then(
      () => {
        // Only once the record is in: a successor finding the row (and no record) ends the call itself.
        this.deps.dialogStore.forget(call.ref);
        announce();
      },
      (error: unknown) => this.deps.log(`call ${call.ref}: ending: ${String(error)}`),
    );
    this.handOverVoicemail(call);
    if (call.app) {
      const app = call.app;
      app
        .close()
        .catch((error: unknown) => this.deps.log(`call ${call.ref}: closing media app: ${String(error)}`));
    }
    this.calls.delete(call.ref);
    const branch = call.inviteA.vias[0]?.branch;
    if (branch !== undefined) this.byInviteBranch.delete(branch);
    // Dialog entries stay briefly so a crossing BYE or a late ACK still finds the call.
    setTimeout(() => {
      this.dialogs.remove(call.a);
      if (call.b) this.dialogs.remove(call.b);
    }, 32_000).unref();
    if (call.relay) {
      const relay = call.relay;
      relay
        .close()
        .catch((error: unknown) => this.deps.log(`call ${call.ref}: closing relay failed: ${String(error)}`));
    }
  }

  /** A voicemail call ended: the recorded message goes to the services (nothing when none was recorded). */
  private handOverVoicemail(call: Call): void {
    const voicemail = call.voicemail;
    if (!voicemail || !call.app) return;
    if (voicemail.limit) clearTimeout(voicemail.limit);
    if (voicemail.recordingSince === null) return; // hung up during the greeting: no message
    const audio = call.app.stopRecording();
    try {
      this.deps.apps.voicemailLeft({
        customerId: call.customerId,
        mailbox: voicemail.mailbox,
        caller: call.caller,
        sipCallId: call.sipCallId,
        durationMs: Math.round(audio.length / 8),
        audio,
      });
    } catch (error) {
      this.deps.log(
        `call ${call.ref}: storing the voicemail failed: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }

  /** The call's state goes to the store for a successor (never from a node that gave the address up). */
  private persist(call: Call): void {
    if (!this.released && !call.ended) this.deps.dialogStore.save(call);
  }

  /**
   * Active-active edge: a request of a dialog this node does not know. When a peer carries it
   * (Kamailio re-dispatched it here because the peer stopped answering), it is handled once that
   * peer's calls are this node's: at once when the peer is known dead, else dropped unanswered so
   * the sender's retransmission (UDP Timer E, or Kamailio's) finds the call adopted. Returns
   * false when no peer carries such a call (the caller answers 481).
   */
  private peerCarries(request: SipRequest, flow: Flow): boolean {
    const peers = this.deps.peers;
    if (!peers) return false;
    const owner = this.deps.dialogStore.ownerOf(request.callId);
    if (owner === undefined) return false;
    if (!peers.isDead(owner)) {
      this.deps.log(
        `${request.method} for call ${request.callId} carried by node ${owner}, not known dead yet: left for a retransmission`,
      );
      this.deps.stack.forgetServerTransaction(request);
      return true;
    }
    this.adoptFrom(owner);
    const found = this.dialogs.find(request);
    if (!found) return false;
    if (request.method === 'ACK') this.onAck(found.call, found.side, request);
    else if (request.method === 'BYE') this.onBye(found.call, found.side, request, flow);
    else if (RELAYED_IN_DIALOG.has(request.method)) this.relayInDialog(found.call, found.side, request, flow);
    else this.deps.stack.respond(request, flow, 405, { headers: [['Allow', ALLOW]] });
    return true;
  }

  /** Active-active edge: `peer` is dead and fenced; the calls it carried go on from this node. */
  adoptFrom(peer: string): number {
    const claimed = this.deps.dialogStore.claim(peer, (state) => this.deps.relay.restore(state));
    if (claimed.length > 0) this.deps.log(`${claimed.length} call(s) of dead node ${peer} adopted`);
    this.adopt(claimed);
    return claimed.length;
  }

  /**
   * Takes over the calls a previous node of the edge left in the store (see dialog-store.ts):
   * established calls go on; calls being set up end with 503 to the caller and a CANCEL to the
   * callee; calls the platform answered itself, or with a leg over a lost WebSocket, end with BYE.
   */
  restore(): void {
    this.adopt(this.deps.dialogStore.load((state) => this.deps.relay.restore(state)));
  }

  private adopt(restored: RestoredCall[]): void {
    for (const { phase, call, unreachable } of restored) {
      this.calls.set(call.ref, call);
      this.dialogs.add(call.a, call);
      if (call.b) this.dialogs.add(call.b, call);
      const lost = unreachable.length > 0 ? `; leg ${unreachable.join('+')} was on a lost WebSocket` : '';
      this.deps.log(`call ${call.ref}: taken over from the store (${phase}${lost})`);
      const reachable = (leg: Leg | null): leg is Leg => leg !== null && !unreachable.includes(leg.side);
      // The callee's INVITE is this node's now: its late answers are ACKed (and a 2xx of an ended call BYEd).
      if (reachable(call.b) && call.inviteB && (phase === 'setup' || !call.ackBSent))
        this.deps.stack.adoptInvite(
          call.b.flow,
          { ...call.inviteB, from: call.b.localHeader, callId: call.b.callId },
          { onResponse: (response) => this.onCalleeInviteResponse(call, response) },
        );
      if (phase === 'setup') {
        if (reachable(call.b)) this.cancelCallee(call);
        if (reachable(call.a)) this.deps.stack.beginServerTransaction(call.inviteA, call.a.flow); // Timer G until the ACK
        this.finish(call, { disposition: 'failed', status: 503, hangupBy: 'platform' }, () => {
          if (!reachable(call.a)) return;
          this.deps.stack.respond(call.inviteA, call.a.flow, 503, {
            toTag: call.a.localTag,
            headers: [
              ['Retry-After', '1'],
              ['Warning', `399 ${this.deps.domain} "call setup interrupted by a sip-edge failover"`],
            ],
          });
        });
      } else if (phase === 'local' || unreachable.length > 0) {
        this.finish(call, { disposition: 'answered', status: 200, hangupBy: 'platform' }, () => {
          if (reachable(call.b) && !call.ackBSent) this.sendAckToCallee(call, undefined);
          for (const leg of [call.a, call.b].filter(reachable)) this.sendBye(call, leg);
        });
      } else this.watchMedia(call);
    }
  }

  /**
   * The node gives up the edge's address without ending anything (a keepalived backup
   * transition; in tests, what a crash leaves): timers stop, nothing more is written or sent.
   */
  release(): void {
    this.released = true;
    for (const call of this.calls.values()) {
      this.clearNoAnswer(call);
      if (call.mediaTimer) clearTimeout(call.mediaTimer);
      if (call.voicemail?.limit) clearTimeout(call.voicemail.limit);
      call.app?.close().catch(() => undefined); // its media died with the node
    }
  }

  /** Flows of every leg, for diagnostics. */
  legsOn(flow: Flow): string[] {
    return [...this.calls.values()]
      .filter((c) => sameFlow(c.a.flow, flow) || (c.b !== null && sameFlow(c.b.flow, flow)))
      .map((c) => c.ref);
  }
}

function liveView(call: Call): LiveCallResource {
  return {
    id: call.ref,
    sipCallId: call.sipCallId,
    direction: call.direction,
    caller: call.caller,
    callee: call.callee,
    trunkId: call.trunkId,
    state: call.state === 'answered' ? 'answered' : 'ringing',
    held: call.relay?.blocked ?? false,
    startedAt: call.startedAt.toISOString(),
    answeredAt: call.answeredAt?.toISOString() ?? null,
  };
}

function dispositionFor(status: number): Disposition {
  if (status >= 200 && status < 300) return 'answered';
  if (status === 486 || status === 600) return 'busy';
  if (status === 480 || status === 408 || status === 487) return 'no-answer';
  return 'failed';
}

function escapeQuoted(text: string): string {
  // Control characters (a decoded CR/LF above all) never belong in a quoted string the edge writes.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\x00-\x1f\x7f]/g, '').replace(/["\\]/g, (c) => `\\${c}`);
}

/** A dialable number: digits with an optional "+", and the keypad's "*" and "#" (short codes). */
const DIALED_NUMBER = /^\+?[0-9*#]{1,32}$/;
/** A SIP username as the API provisions it (contracts/platform-api.yaml). */
const DIALED_USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The dialed target when it is a number or a username token; undefined for anything else
 * (empty, control characters, URI or header syntax), which the edge refuses to route.
 */
export function validDialTarget(target: string): string | undefined {
  return DIALED_NUMBER.test(target) || DIALED_USERNAME.test(target) ? target : undefined;
}
