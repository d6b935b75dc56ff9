/**
 * Calls the platform places itself between two parties (third-party call control, RFC 3725
 * flow I): first the outside party over the customer's trunk, then, once they answer, the
 * customer's agent; each leg is offered the relay's own media address, so the two parties hear
 * each other through the relay. Used by the SMS "CALL ME" callback.
 */
import { randomBytes } from 'node:crypto';
import type { PlatformBus } from '../bus';
import type { RelaySide } from '../media-relay';
import { placeholderAudioSdp } from '../media-relay/media-app';
import type { Db } from '../store/store';
import type { DigestAuthenticator } from './auth';
import { writeCdr } from './cdr';
import type { RelayCall, RelayControl } from './relay-call';
import type { SipRequest, SipResponse } from './message';
import * as dialog from './dialog';
import type { Registrar } from './registrar';
import { CallRouting, trunkLegTarget, type LegTarget } from './routing';
import type { SipStack } from './stack';
import type { Flow } from './transport';
import type { CallbackOutcome, CallbackRequest } from '../contracts';

/** What placing calls needs; the B2BUA's CallManagerDeps extend it. */
export interface OriginatorDeps {
  stack: SipStack;
  db: Db;
  bus: PlatformBus;
  relay: RelayControl;
  auth: DigestAuthenticator;
  registrar: Registrar;
  domain: string;
  noAnswerTimeoutMs: number;
  log: (message: string) => void;
}

interface OriginatedLeg extends dialog.DialogLeg {
  /** The INVITE that opened the leg: its CANCEL must carry the same branch and Request-URI. */
  invite: dialog.SentInvite;
  answered: boolean;
  noAnswer: NodeJS.Timeout | null;
}

interface OriginatedCall {
  ref: string;
  request: CallbackRequest;
  trunkId: string;
  relay: RelayCall;
  startedAt: Date;
  answeredAt: Date | null;
  legs: Partial<Record<RelaySide, OriginatedLeg>>;
  ended: boolean;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS';

export class Originator {
  private readonly calls = new Map<string, OriginatedCall>();
  /** Dialog key (Call-ID + our tag) → call and leg. */
  private readonly dialogs = new dialog.DialogTable<OriginatedCall>();
  private readonly routing: CallRouting;

  constructor(private readonly deps: OriginatorDeps) {
    this.routing = new CallRouting(deps.db);
  }

  async callback(request: CallbackRequest): Promise<CallbackOutcome> {
    const trunk = this.routing.findTrunkFor(request.customerId, request.number);
    if (!trunk) return 'no-route';
    const agent = this.deps.auth.findAccount(request.agent);
    if (!agent || agent.customerId !== request.customerId || !this.deps.registrar.lookup(agent.username))
      return 'agent-unavailable';
    const ref = `call_${randomBytes(8).toString('hex')}`;
    const relay = this.deps.relay.allocate(ref);
    // Neither party's SDP is known yet: a placeholder for the agent's side (the discard port: see
    // placeholderAudioSdp) gets the relay port facing the outside party, which is offered to it.
    const offer = await relay.offer('B', this.placeholderSdp()).catch((error: unknown) => {
      this.deps.log(`call ${ref}: callback of ${request.number}: ${(error as Error).message}`);
      void relay.close();
      return undefined;
    });
    if (offer === undefined) return 'no-route';
    const call: OriginatedCall = {
      ref,
      request,
      trunkId: trunk.id,
      relay,
      startedAt: new Date(),
      answeredAt: null,
      legs: {},
      ended: false,
    };
    this.calls.set(ref, call);
    this.deps.log(`call ${ref}: callback of ${request.number} for agent ${request.agent}`);
    this.invite(
      call,
      'A',
      trunkLegTarget(trunk, request.number, { number: request.presented, withheld: false }, this.deps.domain),
      offer,
    );
    return 'calling';
  }

  /** In-dialog requests of originated calls; false when the request belongs to no such dialog. */
  onInDialog(request: SipRequest, flow: Flow): boolean {
    const found = this.dialogs.find(request);
    if (!found) return false;
    const { call, side } = found;
    if (request.method === 'ACK') return true; // we never send a 2xx on these legs
    if (request.method === 'BYE') {
      this.deps.stack.respond(request, flow, 200);
      this.end(
        call,
        { disposition: 'answered', status: 200, hangupBy: side === 'A' ? 'callee' : 'caller' },
        side,
      );
      return true;
    }
    // Re-INVITEs and the rest are not offered on these legs (no hold or transfer of a callback yet).
    this.deps.stack.respond(request, flow, request.method === 'INVITE' ? 488 : 405, {
      headers: [['Allow', ALLOW]],
    });
    return true;
  }

  stopAll(): void {
    for (const call of [...this.calls.values()])
      this.end(call, { disposition: 'answered', status: 200, hangupBy: 'platform' });
  }

  private placeholderSdp(): string {
    return placeholderAudioSdp(this.deps.relay.client.relay.host);
  }

  /** Opens leg `side` offering `sdp`: the relay's address facing that side, where the other side's media comes from. */
  private invite(call: OriginatedCall, side: RelaySide, target: LegTarget, sdp: string): void {
    const leg: OriginatedLeg = {
      ...dialog.openLeg(side, target, this.deps.stack, this.deps.domain),
      invite: { branch: '', uri: target.uri, cseq: 1 },
      answered: false,
      noAnswer: null,
    };
    call.legs[side] = leg;
    this.dialogs.add(leg, call);
    const { branch, sent } = dialog.sendInvite(
      this.deps.stack,
      leg,
      {
        maxForwards: 70,
        allow: ALLOW,
        extraHeaders: target.extraHeaders,
        body: sdp,
        contentType: 'application/sdp',
      },
      {
        onResponse: (response) => this.onResponse(call, leg, response),
        onTimeout: () => this.end(call, { disposition: 'failed', status: 408, hangupBy: 'platform' }),
      },
    );
    leg.invite.branch = branch;
    if (!sent) return this.end(call, { disposition: 'failed', status: 480, hangupBy: 'platform' });
    leg.noAnswer = setTimeout(() => {
      if (leg.answered || call.ended) return;
      this.deps.log(`call ${call.ref}: leg ${side} unanswered after ${this.deps.noAnswerTimeoutMs} ms`);
      this.end(call, { disposition: 'no-answer', status: 480, hangupBy: 'platform' });
    }, this.deps.noAnswerTimeoutMs);
  }

  private onResponse(call: OriginatedCall, leg: OriginatedLeg, response: SipResponse): void {
    if (response.status < 200) {
      dialog.learnRemote(leg, response);
      return;
    }
    if (response.status >= 300) {
      if (leg.noAnswer) clearTimeout(leg.noAnswer);
      const disposition = response.status === 486 || response.status === 600 ? 'busy' : 'failed';
      return this.end(call, { disposition, status: response.status, hangupBy: 'callee' }, leg.side);
    }
    if (leg.answered) return;
    leg.answered = true;
    if (leg.noAnswer) clearTimeout(leg.noAnswer);
    dialog.learnRemote(leg, response);
    dialog.sendInDialog(this.deps.stack, leg, 'ACK', leg.localCseq);
    if (call.ended) {
      this.sendBye(call, leg); // answered after the callback was given up
      return;
    }
    // The party's answer tells the relay where it wants media; the reply is what the agent is offered.
    const answered = call.relay.answer(
      leg.side,
      response.body.length > 0 ? response.body.toString('utf8') : this.placeholderSdp(),
    );
    if (leg.side === 'A') {
      const agent = this.deps.auth.findAccount(call.request.agent);
      const binding = agent ? this.deps.registrar.lookup(agent.username) : undefined;
      if (!binding) return this.end(call, { disposition: 'failed', status: 480, hangupBy: 'platform' });
      const target: LegTarget = {
        flow: binding.flow,
        uri: binding.contact,
        route: binding.path,
        from: `"Callback" <sip:${call.request.number}@${this.deps.domain}>`,
        to: `<sip:${call.request.agent}@${this.deps.domain}>`,
        extraHeaders: [],
      };
      answered.then(
        (sdp) => {
          if (!call.ended) this.invite(call, 'B', target, sdp);
        },
        (error: unknown) => {
          this.deps.log(`call ${call.ref}: ${(error as Error).message}`);
          this.end(call, { disposition: 'failed', status: 503, hangupBy: 'platform' });
        },
      );
      return;
    }
    answered.catch((error: unknown) => this.deps.log(`call ${call.ref}: ${(error as Error).message}`));
    call.answeredAt = new Date();
    this.deps.log(`call ${call.ref}: ${call.request.number} and agent ${call.request.agent} connected`);
  }

  /**
   * Ends the callback once: BYE to every answered leg (but `from`, which ended itself), CANCEL to
   * a ringing one; the CDR names the outside party as callee and the customer's number as caller.
   */
  private end(
    call: OriginatedCall,
    outcome: { disposition: string; status: number; hangupBy: string },
    from?: RelaySide,
  ): void {
    if (call.ended) return;
    call.ended = true;
    for (const leg of Object.values(call.legs)) {
      if (leg.noAnswer) clearTimeout(leg.noAnswer);
      if (leg.side === from) continue;
      if (leg.answered) this.sendBye(call, leg);
      else dialog.sendCancel(this.deps.stack, leg, leg.invite);
    }
    void writeCdr(this.deps.db, this.deps.bus, this.deps.log, {
      callRef: call.ref,
      customerId: call.request.customerId,
      sipCallId: call.legs.A?.callId ?? call.ref,
      caller: call.request.presented,
      callee: call.request.number,
      trunkId: call.trunkId,
      direction: 'outbound',
      startedAt: call.startedAt,
      answeredAt: call.answeredAt,
      endedAt: new Date(),
      // Connected means both parties answered; one party alone was not a conversation.
      disposition: call.answeredAt
        ? 'answered'
        : outcome.disposition === 'answered'
          ? 'failed'
          : outcome.disposition,
      sipStatus: call.answeredAt ? 200 : outcome.status === 200 ? 480 : outcome.status,
      hangupBy: outcome.hangupBy,
      forwardedTo: null,
      transferredTo: null,
      relay: call.relay,
    });
    this.calls.delete(call.ref);
    setTimeout(() => {
      for (const leg of Object.values(call.legs)) this.dialogs.remove(leg);
    }, 32_000).unref();
    call.relay
      .close()
      .catch((error: unknown) => this.deps.log(`call ${call.ref}: closing relay: ${String(error)}`));
  }

  private sendBye(call: OriginatedCall, leg: OriginatedLeg): void {
    dialog.sendBye(this.deps.stack, leg, (message) => this.deps.log(`call ${call.ref}: ${message}`));
  }
}
