/**
 * The sip-edge role (Kamailio's place): UDP and WebSocket listeners, a digest-authenticating
 * registrar, and a B2BUA that routes calls to registered users and customer trunks with media
 * through the relay. Malformed SIP is answered 400 (or dropped when no answer can be
 * addressed); nothing a client sends can stop the edge.
 */
import { QuotaCounters } from '../core/customer-quotas';
import { QuotaExceededError } from '../errors';
import { NgClient, type NgAddress } from './ng-client';
import { RelayControl } from './relay-call';
import type { LiveCallControl } from '../contracts';
import type { CallApplications, CallbackOutcome, CallbackRequest } from '../contracts';
import type { RoleDeps, RunningRole } from '../role';
import { DigestAuthenticator } from './auth';
import { CallManager, type ActiveCall, type EdgePeers } from './calls';
import { DialogStore } from './dialog-store';
import { LocationStore } from './location-store';
import { describe, parseSipMessage, type ParseFailure, type SipRequest } from './message';
import { Registrar, type BindingInfo } from './registrar';
import { trueSource } from './proxy';
import { CallGuard, securityRecorder, SipGuard, type CallRefusal } from './security';
import { SipStack } from './stack';
import { describeFlow, SipTransports, type Flow } from './transport';

export type { ActiveCall, CallDirection, CallState, Disposition, HangupBy } from './calls';
export type { BindingInfo } from './registrar';
export type { CallbackOutcome, CallbackRequest } from '../contracts';

export interface SipEdgeEndpoints {
  udp: { host: string; port: number };
  ws: string;
  domain: string;
}

export interface SipEdge extends RunningRole<SipEdgeEndpoints> {
  /** Calls in progress (ringing or answered). */
  activeCalls(): ActiveCall[];
  /** Ends a call from the platform side; false when the call is not active. */
  hangup(callRef: string): boolean;
  /** Current registrations, optionally for one username. */
  registrations(username?: string): BindingInfo[];
  /** Live call control for the API, scoped to one customer per request. */
  liveCalls: LiveCallControl;
  /** Calls an outside number over the customer's trunk, then connects the customer's agent. */
  callback(request: CallbackRequest): Promise<CallbackOutcome>;
  /**
   * Gives up the edge's addresses without ending any call or registration (a keepalived backup
   * transition): whatever is in progress stays in the store for the node that takes over.
   */
  release(): Promise<void>;
  /** Active-active edge: `peer` is dead and fenced; its calls go on from this node (how many). */
  adoptCallsOf(peer: string): number;
}

/** Without any of these a request cannot be answered (a response must echo them all). */
const REQUIRED_HEADERS = ['via', 'from', 'to', 'call-id', 'cseq'];

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO';
/** Methods the edge knows but does not serve outside a dialog: 405 with Allow, not 501. */
const KNOWN_METHODS = new Set([
  'SUBSCRIBE',
  'NOTIFY',
  'PUBLISH',
  'MESSAGE',
  'REFER',
  'PRACK',
  'UPDATE',
  'INFO',
]);

/** An active-active edge: this node's name and what it knows of its peers (platform/cluster). */
export interface ActiveActiveNode extends EdgePeers {
  node: string;
}

export async function startSipEdge(
  deps: RoleDeps,
  relay: NgAddress,
  apps: CallApplications,
  activeActive?: ActiveActiveNode,
): Promise<SipEdge> {
  const { config } = deps;
  const log = (message: string): void => deps.log('sip-edge', message);
  // Media is controlled only over rtpengine's ng protocol, whichever relay answers at this address.
  const ng = await NgClient.open(relay, log, { localHost: config.host });
  const domain = config.sip.domain;
  // The transports start first (their ports are needed by everything else) and deliver here.
  let handle: (data: Buffer, flow: Flow) => void = () => undefined;
  let onConnectionClosed: (flow: Flow) => void = () => undefined;

  const transports = await SipTransports.start(config.host, config.sip.udpPort, config.sip.wsPort, {
    onMessage: (data, flow) => handle(data, flow),
    onWsClosed: (flow) => onConnectionClosed(flow),
    log,
  }).catch(async (error: unknown) => {
    await ng.close();
    throw error;
  });
  const stack = new SipStack(transports, log, {
    t1Ms: config.sip.t1Ms,
    t2Ms: config.sip.t2Ms,
    t4Ms: config.sip.t4Ms,
  });
  const fraud = config.security.sipFraud;
  const guard = new SipGuard(fraud);
  const callGuard = new CallGuard(fraud);
  // Counted in the store: active-active edge nodes share each customer's call-attempt window.
  const quotas = new QuotaCounters(deps.db, config.security.limits, Date.now, log);
  const recorder = securityRecorder(deps.db, deps.bus, log);
  const trustedProxies = config.sip.trustedProxies ?? [];
  const auth = new DigestAuthenticator(
    deps.db,
    domain,
    config.sip.nonceTtlMs,
    config.sip.nonceSecret,
    (failure) => {
      recorder.failed(failure);
      const ban = guard.authFailed(failure);
      if (ban) recorder.banned(ban, fraud.banMs);
    },
    (denial) => recorder.denied(denial),
  );
  const localHosts = [...new Set([domain, config.host])];
  const registrar = new Registrar(
    stack,
    auth,
    localHosts,
    {
      defaultSeconds: config.sip.defaultExpiresSeconds,
      minSeconds: config.sip.minExpiresSeconds,
      maxSeconds: config.sip.maxExpiresSeconds,
    },
    log,
    new LocationStore(deps.db, log),
    activeActive !== undefined,
  );
  onConnectionClosed = (flow) => registrar.dropFlow(flow);
  const calls = new CallManager({
    stack,
    db: deps.db,
    bus: deps.bus,
    relay: new RelayControl(ng, log),
    auth,
    registrar,
    domain,
    localHosts,
    trustedProxies,
    noAnswerTimeoutMs: config.sip.noAnswerTimeoutMs,
    inactivityTimeoutMs: config.media.inactivityTimeoutMs,
    heldInactivityTimeoutMs: config.media.heldInactivityTimeoutMs,
    voice: config.voice,
    apps,
    dialogStore: new DialogStore(deps.db, log, activeActive?.node),
    peers: activeActive,
    log,
    screenCall: (account, callee, inProgress, source) => {
      const tier = deps.db.prepare('SELECT tier FROM customers WHERE id = ?').get(account.customerId) as
        { tier: string } | undefined;
      const refusal =
        callAttemptRefusal(quotas, account.customerId) ??
        callGuard.check(account.username, tier?.tier ?? 'standard', callee, inProgress);
      if (refusal) recorder.callRefused(account, callee, source, refusal);
      return refusal;
    },
  });

  const onRequest = (request: SipRequest, flow: Flow): void => {
    if (request.method === 'ACK') {
      // The ACK of a stateless final (auth challenge/failure) has nothing to end.
      if (stack.isStatelessAck(request)) return;
      // An ACK of a non-2xx final only ends its INVITE transaction (and Timer G).
      if (!stack.receiveAck(request)) calls.onInDialog(request, flow);
      return;
    }
    if (!stack.beginServerTransaction(request, flow)) return;
    const maxForwards = request.headers.find((h) => h.name === 'max-forwards')?.value;
    if (
      maxForwards !== undefined &&
      Number(maxForwards) === 0 &&
      request.method !== 'REGISTER' &&
      request.method !== 'OPTIONS'
    ) {
      stack.respond(request, flow, 483);
      return;
    }
    const required = request.headers.filter((h) => h.name === 'require').map((h) => h.value);
    if (required.length > 0 && request.method !== 'CANCEL') {
      stack.respond(request, flow, 420, { headers: [['Unsupported', required.join(', ')]] });
      return;
    }
    if (request.method === 'CANCEL') return calls.onCancel(request, flow);
    if (request.toTag !== undefined) return calls.onInDialog(request, flow);
    switch (request.method) {
      case 'REGISTER':
        return registrar.handleRegister(request, flow, trueSource(request, flow, trustedProxies).address);
      case 'INVITE':
        calls.onInitialInvite(request, flow).catch((error: unknown) => {
          log(`INVITE handling failed: ${(error as Error).stack ?? String(error)}`);
        });
        return;
      case 'OPTIONS':
        return stack.respond(request, flow, 200, {
          headers: [
            ['Allow', ALLOW],
            ['Accept', 'application/sdp'],
          ],
        });
      case 'BYE':
        return stack.respond(request, flow, 481);
      default:
        if (KNOWN_METHODS.has(request.method))
          return stack.respond(request, flow, 405, { headers: [['Allow', ALLOW]] });
        return stack.respond(request, flow, 501, { headers: [['Allow', ALLOW]] });
    }
  };

  const onMalformed = (failure: ParseFailure, flow: Flow, data: Buffer): void => {
    const summary = `malformed SIP from ${describeFlow(flow)}: ${failure.reason}`;
    // Like Kamailio's core (receive_msg: "required headers not found"), a request without Via,
    // From, To, Call-ID or CSeq is dropped: no response to it could be matched by its sender.
    const present = new Set(failure.headers.map((h) => h.name));
    if (
      failure.requestMethod === undefined ||
      failure.requestMethod === 'ACK' ||
      !REQUIRED_HEADERS.every((name) => present.has(name))
    ) {
      log(
        `${summary}; dropped (no response can be addressed): ${JSON.stringify(data.subarray(0, 120).toString('latin1'))}`,
      );
      return;
    }
    log(`${summary}; answering 400`);
    stack.respondMalformed(failure, flow, failure.reason);
  };

  handle = (data, flow) => {
    const parsed = parseSipMessage(data);
    if (!parsed.ok) return onMalformed(parsed, flow, data);
    const message = parsed.message;
    log(`${message.kind === 'request' ? '→' : '←'} ${describe(message)} ${describeFlow(flow)}`);
    if (message.kind === 'response') return stack.receiveResponse(message, flow);
    // Like Kamailio's request_route opening with the ipban htable and secfilter: dropped unanswered.
    const dropped = guard.screen(
      trueSource(message, flow, trustedProxies).address,
      message.headers.find((h) => h.name === 'user-agent')?.value,
    );
    if (dropped) {
      log(
        `dropped ${describe(message)} ${describeFlow(flow)}: ${dropped.kind === 'banned' ? `address banned until ${new Date(dropped.until).toISOString()}` : `scanner User-Agent ${JSON.stringify(dropped.userAgent.slice(0, 60))}`}`,
      );
      return;
    }
    try {
      onRequest(message, flow);
    } catch (error) {
      log(`error handling ${describe(message)}: ${(error as Error).stack ?? String(error)}`);
      if (message.method !== 'ACK') stack.respond(message, flow, 500);
    }
  };
  // After `handle` is wired: what the restore sends may be answered at once. A node of an
  // active-active edge restores nothing at start: its peers carry their calls until they die.
  if (!activeActive) calls.restore();

  log(
    `listening on udp:${config.host}:${transports.udpPort} and ${transports.wsUrl} for domain ${domain}; media relay ng at ${ng.relayName}`,
  );
  return {
    endpoints: { udp: { host: config.host, port: transports.udpPort }, ws: transports.wsUrl, domain },
    activeCalls: () => calls.activeCalls(),
    hangup: (callRef) => calls.hangup(callRef),
    registrations: (username) => registrar.bindings(username),
    callback: (request) => calls.originator.callback(request),
    liveCalls: {
      list: (customerId) => calls.liveCalls(customerId),
      hangup: (customerId, callRef) => calls.hangupOwned(customerId, callRef),
      setHeld: (customerId, callRef, held) => calls.setHeld(customerId, callRef, held),
      transfer: (customerId, callRef, target) => calls.transfer(customerId, callRef, target),
    },
    adoptCallsOf: (peer) => calls.adoptFrom(peer),
    async release(): Promise<void> {
      onConnectionClosed = () => undefined; // closing the WebSockets must not rewrite the store
      calls.release();
      stack.stop();
      await transports.stop();
      await ng.close();
    },
    async stop(): Promise<void> {
      await calls.stopAll();
      stack.stop();
      await transports.stop();
      await ng.close();
    },
  };
}

/**
 * The customer's call-attempt rate, counted first (Kamailio's pike/ratelimit sit at the top of the
 * request route): beyond it an INVITE is answered 503 with Retry-After, as those setups answer.
 * Only initial INVITEs reach here: a call in progress is never cut off by the limit.
 */
function callAttemptRefusal(quotas: QuotaCounters, customerId: string): CallRefusal | undefined {
  try {
    quotas.take(customerId, 'call-attempts');
    return undefined;
  } catch (error) {
    if (!(error instanceof QuotaExceededError)) throw error;
    return {
      status: 503,
      reason: 'Service Unavailable',
      warning: `call attempt rate exceeded: ${error.limit} per ${error.windowMs / 1_000} s for this customer; retry in ${error.retryAfterSeconds} s`,
      kind: 'call-rate',
      retryAfterSeconds: error.retryAfterSeconds,
      detail: { limit: error.limit, windowMs: error.windowMs, retryAfterSeconds: error.retryAfterSeconds },
    };
  }
}
