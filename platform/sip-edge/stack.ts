/**
 * The edge's SIP transaction layer (RFC 3261 §17) with UDP retransmission; see SipStack.
 */ import {
  headerValue,
  parseVia,
  randomToken,
  reasonPhrase,
  serialize,
  type ParseFailure,
  type SipRequest,
  type SipResponse,
} from './message';
import { describeFlow, type Flow, type SipTransports } from './transport';

/**
 * RFC 3261 timers. T1 is the round-trip estimate every UDP retransmission interval starts at,
 * T2 caps the interval of non-INVITE requests and INVITE responses, T4 is how long the network
 * may hold a message (Timer K). Every transaction timeout is 64·T1.
 */
export interface SipTimers {
  t1Ms: number;
  t2Ms: number;
  t4Ms: number;
}

const SERVER_HEADER = 'phase2-reference-edge';
/** An INVITE transaction still without a final after this long is forgotten (a leak guard only). */
const PENDING_INVITE_LIMIT_MS = 3_600_000;
/** Expired transactions are swept at most this often (a full scan of the maps). */
const PRUNE_INTERVAL_MS = 1_000;

/**
 * Sends a message again after `first` ms, then at intervals `next(previous)` gives, until
 * stopped (RFC 3261 Timers A, E, G and the UAS 2xx retransmission).
 */
class Retransmitter {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (attempt: number) => void,
    private interval: number,
    private readonly next: (previous: number) => number,
  ) {
    this.arm(2);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(attempt: number): void {
    this.timer = setTimeout(() => {
      this.send(attempt);
      this.interval = this.next(this.interval);
      this.arm(attempt + 1);
    }, this.interval);
    // Platform stop clears every timer; unref keeps a forgotten one from holding a test process.
    this.timer.unref();
  }
}

function after(ms: number, action: () => void): NodeJS.Timeout {
  const timer = setTimeout(action, ms);
  timer.unref();
  return timer;
}

interface ServerTransaction {
  createdAt: number;
  /** When the transaction may be forgotten: 64·T1 after its final response (Timers H/J). */
  expiresAt: number;
  method: string;
  flow: Flow;
  lastResponse?: { data: Buffer; destination: Flow; status: number };
  /** Timer G: a non-2xx final to an INVITE over UDP, until the ACK. */
  retransmission?: Retransmitter;
  /** Timer H: gives up waiting for that ACK. */
  ackTimeout?: NodeJS.Timeout;
}

/** A 2xx the edge sent to an INVITE, waiting for its ACK (RFC 3261 §13.3.1.4; the ACK is its own transaction). */
interface UnacknowledgedSuccess {
  retransmission?: Retransmitter;
  ackTimeout: NodeJS.Timeout;
}

interface ClientTransaction {
  expiresAt: number;
  method: string;
  uri: string;
  flow: Flow;
  handlers: ClientTransactionHandlers;
  /** What an ACK for a non-2xx final needs (INVITE only). */
  invite?: { uri: string; via: string; from: string; callId: string; cseq: number; route: string[] };
  /** Call-ID|CSeq, to find the ACK of the 2xx again. */
  dialogCseq: string;
  responded: boolean;
  finalStatus?: number;
  /** Timer B/F fired: finalStatus is the synthetic 408, a late real final is still passed on. */
  timedOut: boolean;
  retransmission?: Retransmitter;
  /** Timer B (INVITE, until the first response) or F (non-INVITE, until the final). */
  timeout?: NodeJS.Timeout;
  /** A CANCEL waiting for the INVITE's first provisional (RFC 3261 §9.1). */
  deferredCancel?: () => void;
}

export interface ClientTransactionHandlers {
  /** Every response, provisionals included; retransmitted finals are handled by the stack. */
  onResponse?: (response: SipResponse) => void;
  /** Timer B/F: no (final) response in 64·T1. Treat as 408 Request Timeout (RFC 3261 §8.1.3.1). */
  onTimeout?: () => void;
}

export interface ResponseOptions {
  reason?: string;
  /** Added to To when the request had no tag (dialog-creating or stateless final responses). */
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: string;
  contentType?: string;
  /** A 2xx to an INVITE whose ACK did not arrive within 64·T1: the session should end with BYE. */
  onNoAck?: () => void;
}

export interface OutgoingRequest {
  method: string;
  uri: string;
  /** Everything but Via, Content-Length and Content-Type. */
  headers: Array<[string, string]>;
  body?: string;
  contentType?: string;
  /** Reuse a branch (CANCEL must carry its INVITE's branch); otherwise a new one. */
  branch?: string;
}

/**
 * The edge's transaction layer (RFC 3261 §17). Server transactions absorb retransmitted
 * requests (same branch → the last response again, never a second call). Over UDP the stack
 * retransmits what it sends until answered: requests (Timers A/E), non-2xx finals to INVITE
 * until the ACK (Timer G) and 2xx finals to INVITE until the ACK (§13.3.1.4). Timers B/F turn
 * silence into a 408 for the caller of sendRequest. WebSocket is reliable: nothing is
 * retransmitted there, but the timeouts still apply. Client transactions ACK non-2xx INVITE
 * finals themselves and ACK a retransmitted 2xx again with the ACK the dialog layer sent.
 */
export class SipStack {
  private readonly serverTransactions = new Map<string, ServerTransaction>();
  private readonly clientTransactions = new Map<string, ClientTransaction>();
  /** 2xx responses to INVITEs waiting for their ACK, by Call-ID|CSeq. */
  private readonly unacknowledged = new Map<string, UnacknowledgedSuccess>();
  /** ACKs the edge sent for 2xx responses, by Call-ID|CSeq, resent for every retransmitted 2xx. */
  private readonly sentAcks = new Map<string, { data: Buffer; flow: Flow; expiresAt: number }>();
  private lastPrune = 0;
  private stopped = false;
  /** To tag of every stateless final (Kamailio's sl module likewise uses one tag prefix per instance). */
  private readonly statelessTag = `sl${randomToken(6)}`;

  constructor(
    readonly transports: SipTransports,
    private readonly log: (message: string) => void,
    private readonly timers: SipTimers,
  ) {}

  /** 64·T1: the lifetime of every transaction timeout (Timers B, F, H, J and the 2xx wait). */
  get transactionTimeoutMs(): number {
    return 64 * this.timers.t1Ms;
  }

  /**
   * Registers the server transaction of a request. Returns false for a retransmission: the
   * last response (if any) has been sent again and the caller must not process it.
   */
  beginServerTransaction(request: SipRequest, flow: Flow): boolean {
    const key = serverKey(request);
    this.prune();
    const existing = this.serverTransactions.get(key);
    if (existing) {
      if (existing.lastResponse)
        this.transports.send(existing.lastResponse.destination, existing.lastResponse.data);
      this.log(
        `absorbed retransmitted ${request.method} (branch ${request.vias[0]?.branch}) from ${describeFlow(flow)}`,
      );
      return false;
    }
    const now = Date.now();
    this.serverTransactions.set(key, {
      createdAt: now,
      expiresAt: now + (request.method === 'INVITE' ? PENDING_INVITE_LIMIT_MS : this.transactionTimeoutMs),
      method: request.method,
      flow,
    });
    return true;
  }

  /**
   * Matches an ACK to what the edge is retransmitting. True when it acknowledged a non-2xx
   * final (it belongs to the INVITE server transaction: nothing for the dialog layer); a 2xx
   * ACK stops the 2xx retransmission and returns false, the dialog layer still needs it.
   */
  receiveAck(request: SipRequest): boolean {
    const branch = request.vias[0]?.branch;
    const invite = branch === undefined ? undefined : this.serverTransactions.get(`${branch}|INVITE`);
    if (invite?.lastResponse && invite.lastResponse.status >= 300) {
      stopServerTimers(invite);
      return true;
    }
    const key = `${request.callId}|${request.cseq.seq}`;
    const waiting = this.unacknowledged.get(key);
    if (waiting) {
      waiting.retransmission?.stop();
      clearTimeout(waiting.ackTimeout);
      this.unacknowledged.delete(key);
    }
    return false;
  }

  /** The final status sent for the INVITE server transaction a non-2xx ACK belongs to, if any. */
  inviteFinalStatus(branch: string | undefined): number | undefined {
    if (branch === undefined) return undefined;
    return this.serverTransactions.get(`${branch}|INVITE`)?.lastResponse?.status;
  }

  /**
   * Answers without keeping any state, as Kamailio's sl_send_reply does for auth challenges:
   * the request's server transaction is forgotten, nothing is retransmitted (no Timer G) and a
   * retransmitted request is simply answered again. This keeps an unauthenticated sender from
   * costing memory or turning the edge into a reflector (one spoofed INVITE → ~10 × 407 over
   * Timer G). The To tag is the edge's stateless tag, so the ACK of such an INVITE final is
   * recognised (isStatelessAck) and absorbed without state either.
   */
  respondStateless(request: SipRequest, flow: Flow, status: number, options: ResponseOptions = {}): void {
    this.serverTransactions.delete(serverKey(request));
    const { data, destination, what } = this.buildResponse(request, flow, status, {
      ...options,
      toTag: this.statelessTag,
    });
    this.log(`→ ${what} (stateless) ${describeFlow(destination)}`);
    this.transports.send(destination, data);
  }

  /**
   * Forgets a request's server transaction without answering: its retransmission is then handled
   * as new (an active-active edge node leaves a peer's request for later; see CallManager).
   */
  forgetServerTransaction(request: SipRequest): void {
    this.serverTransactions.delete(serverKey(request));
  }

  /** True for the ACK of a final the edge sent statelessly: nothing to do, nothing to log. */
  isStatelessAck(request: SipRequest): boolean {
    return request.method === 'ACK' && request.toTag === this.statelessTag;
  }

  /** Sends a response to `request` (RFC 3261 §18.2.2 / RFC 3581 addressing for UDP). */
  respond(request: SipRequest, flow: Flow, status: number, options: ResponseOptions = {}): void {
    const { data, destination, what } = this.buildResponse(request, flow, status, options);
    const transaction = this.serverTransactions.get(serverKey(request));
    if (transaction) {
      transaction.lastResponse = { data, destination, status };
      if (status >= 200) {
        stopServerTimers(transaction);
        transaction.expiresAt = Date.now() + this.transactionTimeoutMs;
      }
    }
    this.log(`→ ${what} ${describeFlow(destination)}`);
    this.transports.send(destination, data);
    if (request.method !== 'INVITE' || status < 200) return;
    if (status >= 300) {
      if (transaction) this.awaitNonSuccessAck(transaction, what, destination, data);
    } else this.awaitSuccessAck(request, what, destination, data, options.onNoAck);
  }

  private buildResponse(
    request: SipRequest,
    flow: Flow,
    status: number,
    options: ResponseOptions,
  ): { data: Buffer; destination: Flow; what: string } {
    const headers: Array<[string, string]> = [];
    request.vias.forEach((via, index) => {
      headers.push(['Via', index === 0 ? this.viaWithReceived(via.raw, via.host, via.rport, flow) : via.raw]);
    });
    headers.push(['From', headerValue(request.headers, 'from') ?? '']);
    const to = headerValue(request.headers, 'to') ?? '';
    headers.push([
      'To',
      options.toTag !== undefined && request.toTag === undefined && status > 100
        ? `${to};tag=${options.toTag}`
        : to,
    ]);
    headers.push(['Call-ID', request.callId]);
    headers.push(['CSeq', `${request.cseq.seq} ${request.cseq.method}`]);
    // RFC 3261 §12.1.1: a response that creates a dialog carries the request's Record-Route, so
    // the caller's route set passes the same proxies.
    if (request.method === 'INVITE' && status > 100 && status < 300)
      for (const field of request.headers)
        if (field.name === 'record-route') headers.push(['Record-Route', field.value]);
    headers.push(...(options.headers ?? []));
    headers.push(['Server', SERVER_HEADER]);
    const reason = options.reason ?? reasonPhrase(status);
    const data = serialize({
      startLine: `SIP/2.0 ${status} ${reason}`,
      headers,
      body: options.body,
      contentType: options.contentType,
    });
    const destination = this.responseDestination(request, flow);
    const what = `${status} ${reason} to ${request.cseq.method} (Call-ID ${request.callId})`;
    return { data, destination, what };
  }

  /** Timers G and H (RFC 3261 §17.2.1): over UDP the final goes out again until the ACK. */
  private awaitNonSuccessAck(
    transaction: ServerTransaction,
    what: string,
    destination: Flow,
    data: Buffer,
  ): void {
    if (destination.transport !== 'UDP') return;
    transaction.retransmission = new Retransmitter(
      (attempt) => {
        this.log(`→ ${what} again (transmission ${attempt}, Timer G) ${describeFlow(destination)}`);
        this.transports.send(destination, data);
      },
      this.timers.t1Ms,
      (previous) => Math.min(previous * 2, this.timers.t2Ms),
    );
    transaction.ackTimeout = after(this.transactionTimeoutMs, () => {
      stopServerTimers(transaction);
      this.log(
        `no ACK for ${what} from ${describeFlow(destination)} within 64·T1 = ${this.transactionTimeoutMs} ms (Timer H); stopped retransmitting`,
      );
    });
  }

  /** RFC 3261 §13.3.1.4: the 2xx goes out again (UDP) until its ACK; without one the session must end. */
  private awaitSuccessAck(
    request: SipRequest,
    what: string,
    destination: Flow,
    data: Buffer,
    onNoAck: (() => void) | undefined,
  ): void {
    const key = `${request.callId}|${request.cseq.seq}`;
    const previous = this.unacknowledged.get(key);
    previous?.retransmission?.stop();
    if (previous) clearTimeout(previous.ackTimeout);
    const waiting: UnacknowledgedSuccess = {
      retransmission:
        destination.transport === 'UDP'
          ? new Retransmitter(
              (attempt) => {
                this.log(
                  `→ ${what} again (transmission ${attempt}, no ACK yet) ${describeFlow(destination)}`,
                );
                this.transports.send(destination, data);
              },
              this.timers.t1Ms,
              (interval) => Math.min(interval * 2, this.timers.t2Ms),
            )
          : undefined,
      ackTimeout: after(this.transactionTimeoutMs, () => {
        waiting.retransmission?.stop();
        this.unacknowledged.delete(key);
        this.log(
          `no ACK for ${what} from ${describeFlow(destination)} within 64·T1 = ${this.transactionTimeoutMs} ms; the session ends (RFC 3261 §13.3.1.4)`,
        );
        onNoAck?.();
      }),
    };
    this.unacknowledged.set(key, waiting);
  }

  /**
   * Answers 400 to a request that could not be parsed, copying whatever Via/From/To/Call-ID/CSeq
   * it had. It goes back to the packet's source: a broken Via cannot be trusted for routing.
   */
  respondMalformed(failure: ParseFailure, flow: Flow, detail: string): void {
    const headers: Array<[string, string]> = [];
    const vias = failure.headers.filter((h) => h.name === 'via');
    vias.forEach((via, index) => {
      const parsed = index === 0 ? parseVia(via.value) : undefined;
      headers.push([
        'Via',
        parsed ? this.viaWithReceived(via.value, parsed.host, parsed.rport, flow) : via.value,
      ]);
    });
    for (const name of ['from', 'to', 'call-id', 'cseq']) {
      const value = headerValue(failure.headers, name);
      if (value !== undefined) headers.push([name, value]);
    }
    headers.push([
      'Warning',
      `399 ${this.transports.viaFor(flow).split(' ')[1] ?? 'edge'} "${detail.replace(/["\\]/g, "'")}"`,
    ]);
    headers.push(['Server', SERVER_HEADER]);
    this.log(`→ 400 Bad Request (${detail}) ${describeFlow(flow)}`);
    this.transports.send(flow, serialize({ startLine: 'SIP/2.0 400 Bad Request', headers }));
  }

  /**
   * Sends a request over a flow as a client transaction (ACK: no transaction, but a 2xx ACK is
   * remembered for retransmitted 2xx). Over UDP it is retransmitted until answered.
   */
  sendRequest(
    flow: Flow,
    request: OutgoingRequest,
    handlers: ClientTransactionHandlers = {},
  ): { branch: string; sent: boolean } {
    const branch = request.branch ?? `z9hG4bK${randomToken(10)}`;
    if (this.stopped) {
      this.log(`${request.method} ${request.uri} not sent to ${describeFlow(flow)}: the edge is stopping`);
      return { branch, sent: false };
    }
    this.prune();
    const via = `${this.transports.viaFor(flow)};branch=${branch};rport`;
    const data = serialize({
      startLine: `${request.method} ${request.uri} SIP/2.0`,
      headers: [['Via', via], ...request.headers],
      body: request.body,
      contentType: request.contentType,
    });
    const field = (name: string): string =>
      request.headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? '';
    const cseq = Number(field('cseq').split(' ')[0]);
    const dialogCseq = `${field('call-id')}|${cseq}`;
    const description = `${request.method} ${request.uri} to ${describeFlow(flow)}`;
    if (request.method === 'ACK') {
      this.sentAcks.set(dialogCseq, { data, flow, expiresAt: Date.now() + this.transactionTimeoutMs });
    } else if (request.method === 'CANCEL') {
      const invite = this.clientTransactions.get(`${branch}|INVITE`);
      if (invite && !invite.responded) {
        // RFC 3261 §9.1: no CANCEL before a provisional; it goes out when one arrives.
        this.log(`${description} deferred until the INVITE gets a provisional response (RFC 3261 §9.1)`);
        invite.deferredCancel = () => this.sendRequest(flow, request, handlers);
        return { branch, sent: true };
      }
    }
    if (request.method !== 'ACK')
      this.startClientTransaction(branch, flow, request, data, via, dialogCseq, cseq, field, handlers);
    this.log(`← ${description}`);
    return { branch, sent: this.transports.send(flow, data) };
  }

  private startClientTransaction(
    branch: string,
    flow: Flow,
    request: OutgoingRequest,
    data: Buffer,
    via: string,
    dialogCseq: string,
    cseq: number,
    field: (name: string) => string,
    handlers: ClientTransactionHandlers,
  ): void {
    const isInvite = request.method === 'INVITE';
    const { t1Ms, t2Ms } = this.timers;
    const transaction: ClientTransaction = {
      expiresAt: Infinity,
      method: request.method,
      uri: request.uri,
      flow,
      handlers,
      dialogCseq,
      responded: false,
      timedOut: false,
      invite: isInvite
        ? {
            uri: request.uri,
            via,
            from: field('from'),
            callId: field('call-id'),
            cseq,
            route: request.headers.filter(([n]) => n.toLowerCase() === 'route').map(([, v]) => v),
          }
        : undefined,
    };
    this.clientTransactions.set(`${branch}|${request.method}`, transaction);
    if (flow.transport === 'UDP') {
      transaction.retransmission = new Retransmitter(
        (attempt) => {
          this.log(
            `← ${request.method} ${request.uri} again (transmission ${attempt}, Timer ${isInvite ? 'A' : 'E'}) to ${describeFlow(flow)}`,
          );
          this.transports.send(flow, data);
        },
        t1Ms,
        // Timer A doubles without limit; Timer E is capped at T2, and is T2 once a provisional came.
        (previous) => (isInvite ? previous * 2 : transaction.responded ? t2Ms : Math.min(previous * 2, t2Ms)),
      );
    }
    transaction.timeout = after(this.transactionTimeoutMs, () => this.timeOut(transaction));
  }

  /**
   * Takes over an INVITE client transaction a previous node of the edge sent from the same
   * address (failover): nothing is sent, but its responses now match (a non-2xx final is ACKed,
   * a 2xx goes to `handlers`) and a CANCEL with its branch goes out at once. Timer B still runs.
   */
  adoptInvite(
    flow: Flow,
    invite: { branch: string; uri: string; from: string; callId: string; cseq: number },
    handlers: ClientTransactionHandlers,
  ): void {
    const via = `${this.transports.viaFor(flow)};branch=${invite.branch};rport`;
    const transaction: ClientTransaction = {
      expiresAt: Date.now() + PENDING_INVITE_LIMIT_MS,
      method: 'INVITE',
      uri: invite.uri,
      flow,
      handlers,
      dialogCseq: `${invite.callId}|${invite.cseq}`,
      // Whatever the callee said before the takeover is unknown; its INVITE arrived long ago.
      responded: true,
      timedOut: false,
      invite: {
        uri: invite.uri,
        via,
        from: invite.from,
        callId: invite.callId,
        cseq: invite.cseq,
        route: [],
      },
    };
    this.clientTransactions.set(`${invite.branch}|INVITE`, transaction);
    transaction.timeout = after(this.transactionTimeoutMs, () => this.timeOut(transaction));
  }

  /** Timer B/F: the transaction ends as if a 408 had arrived (RFC 3261 §8.1.3.1). */
  private timeOut(transaction: ClientTransaction): void {
    transaction.retransmission?.stop();
    transaction.timeout = undefined;
    transaction.finalStatus = 408;
    transaction.timedOut = true;
    // Remembered a while longer: a late answer still reaches the dialog layer (ACK and BYE it).
    transaction.expiresAt = Date.now() + this.transactionTimeoutMs;
    this.log(
      `no ${transaction.method === 'INVITE' ? 'response' : 'final response'} to ${transaction.method} ${transaction.uri} from ${describeFlow(transaction.flow)} within 64·T1 = ${this.transactionTimeoutMs} ms (Timer ${transaction.method === 'INVITE' ? 'B' : 'F'}); treated as 408 Request Timeout`,
    );
    transaction.handlers.onTimeout?.();
  }

  /** Routes a response to its client transaction; unmatched responses are logged and dropped. */
  receiveResponse(response: SipResponse, flow: Flow): void {
    const branch = response.vias[0]?.branch;
    const transaction =
      branch === undefined ? undefined : this.clientTransactions.get(`${branch}|${response.cseq.method}`);
    if (!transaction || branch === undefined) {
      if (response.cseq.method === 'INVITE' && response.status >= 200 && response.status < 300)
        return this.refuseUnknownSuccess(response, flow);
      this.log(
        `dropped ${response.status} ${response.reason} for ${response.cseq.method} from ${describeFlow(flow)}: no matching transaction (branch ${branch ?? 'none'})`,
      );
      return;
    }
    transaction.responded = true;
    const isFinal = response.status >= 200;
    if (transaction.method === 'INVITE' || isFinal) {
      // Any INVITE response stops Timers A and B; a non-INVITE provisional only slows Timer E.
      transaction.retransmission?.stop();
      clearTimeout(transaction.timeout);
      transaction.timeout = undefined;
    }
    if (!isFinal && transaction.expiresAt === Infinity)
      transaction.expiresAt = Date.now() + PENDING_INVITE_LIMIT_MS; // leak guard for a final that never comes
    const cancel = transaction.deferredCancel;
    transaction.deferredCancel = undefined;
    if (cancel && !isFinal) cancel(); // after a final there is nothing left to cancel
    if (transaction.invite && response.status >= 300) this.ackNonSuccess(transaction, response);
    if (isFinal) {
      if (transaction.finalStatus !== undefined && !transaction.timedOut) {
        // A retransmitted final: a non-2xx was ACKed again above, a 2xx gets the dialog's ACK again.
        if (response.status < 300) this.ackSuccessAgain(transaction, response);
        return;
      }
      transaction.finalStatus = response.status;
      transaction.timedOut = false;
      // Timer K (T4) for non-INVITE over UDP; 64·T1 for INVITE (Timer D, RFC 6026 Timer M).
      transaction.expiresAt =
        Date.now() +
        (transaction.invite
          ? this.transactionTimeoutMs
          : transaction.flow.transport === 'UDP'
            ? this.timers.t4Ms
            : 0);
    }
    transaction.handlers.onResponse?.(response);
  }

  /**
   * A 2xx to an INVITE no transaction of this node sent (a predecessor's, or a stale one): the
   * dialog it creates is unwanted, so it is ACKed and ended with BYE (RFC 3261 §13.2.2.4). A
   * retransmission of it only gets the same ACK again.
   */
  private refuseUnknownSuccess(response: SipResponse, flow: Flow): void {
    const key = `${response.callId}|${response.cseq.seq}`;
    const acked = this.sentAcks.get(key);
    if (acked) {
      this.transports.send(acked.flow, acked.data);
      return;
    }
    const contact = /<([^>]+)>/.exec(headerValue(response.headers, 'contact') ?? '')?.[1];
    const from = headerValue(response.headers, 'from') ?? '';
    const to = headerValue(response.headers, 'to') ?? '';
    if (contact === undefined || response.toTag === undefined) {
      this.log(
        `dropped ${response.status} to an unknown INVITE (Call-ID ${response.callId}): no Contact or To tag to end it with`,
      );
      return;
    }
    this.log(
      `${response.status} to an INVITE this node never sent (Call-ID ${response.callId}) from ${describeFlow(flow)}: ACK and BYE (RFC 3261 §13.2.2.4)`,
    );
    const dialog: Array<[string, string]> = [
      ['Max-Forwards', '70'],
      ['From', from],
      ['To', to],
      ['Call-ID', response.callId],
    ];
    this.sendRequest(flow, {
      method: 'ACK',
      uri: contact,
      headers: [...dialog, ['CSeq', `${response.cseq.seq} ACK`]],
    });
    this.sendRequest(
      flow,
      { method: 'BYE', uri: contact, headers: [...dialog, ['CSeq', `${response.cseq.seq + 1} BYE`]] },
      {
        onResponse: (answer) => {
          if (answer.status >= 300)
            this.log(`BYE of the unwanted dialog ${response.callId} answered ${answer.status}`);
        },
      },
    );
  }

  private ackSuccessAgain(transaction: ClientTransaction, response: SipResponse): void {
    const ack = this.sentAcks.get(transaction.dialogCseq);
    if (!ack) {
      this.log(
        `retransmitted ${response.status} to INVITE (Call-ID ${response.callId}) before the edge ACKed it; the ACK follows the caller's`,
      );
      return;
    }
    this.log(
      `← ACK again for the retransmitted ${response.status} (Call-ID ${response.callId}) to ${describeFlow(ack.flow)}`,
    );
    this.transports.send(ack.flow, ack.data);
  }

  /** The ACK reuses the INVITE's Via, branch included (RFC 3261 §17.1.1.3). */
  private ackNonSuccess(transaction: ClientTransaction, response: SipResponse): void {
    const invite = transaction.invite;
    if (!invite) return;
    const headers: Array<[string, string]> = [
      ['Via', invite.via],
      ...invite.route.map((route): [string, string] => ['Route', route]),
      ['Max-Forwards', '70'],
      ['From', invite.from],
      ['To', headerValue(response.headers, 'to') ?? ''],
      ['Call-ID', invite.callId],
      ['CSeq', `${invite.cseq} ACK`],
    ];
    this.transports.send(transaction.flow, serialize({ startLine: `ACK ${invite.uri} SIP/2.0`, headers }));
  }

  /** Stops every timer (platform stop): nothing is sent after this. */
  stop(): void {
    this.stopped = true;
    for (const transaction of this.serverTransactions.values()) stopServerTimers(transaction);
    for (const transaction of this.clientTransactions.values()) {
      transaction.retransmission?.stop();
      clearTimeout(transaction.timeout);
      transaction.deferredCancel = undefined;
    }
    for (const waiting of this.unacknowledged.values()) {
      waiting.retransmission?.stop();
      clearTimeout(waiting.ackTimeout);
    }
    this.serverTransactions.clear();
    this.clientTransactions.clear();
    this.unacknowledged.clear();
    this.sentAcks.clear();
  }

  private viaWithReceived(raw: string, viaHost: string, rport: boolean, flow: Flow): string {
    if (flow.transport !== 'UDP') return raw;
    let value = raw;
    if (rport) value = value.replace(/;\s*rport(=[^;]*)?/i, `;rport=${flow.port}`);
    if ((rport || viaHost !== flow.address) && !/;\s*received=/i.test(value))
      value += `;received=${flow.address}`;
    return value;
  }

  private responseDestination(request: SipRequest, flow: Flow): Flow {
    const via = request.vias[0];
    if (flow.transport !== 'UDP' || !via || via.rport) return flow;
    // Without rport: the received address, at the port the Via names (default 5060).
    return { transport: 'UDP', address: flow.address, port: via.port ?? 5060 };
  }

  /** Forgets expired transactions (their retransmission windows are over). */
  private prune(): void {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return;
    this.lastPrune = now;
    for (const [key, transaction] of this.serverTransactions)
      if (transaction.expiresAt <= now) {
        stopServerTimers(transaction);
        this.serverTransactions.delete(key);
      }
    for (const [key, transaction] of this.clientTransactions)
      if (transaction.expiresAt <= now) this.clientTransactions.delete(key);
    for (const [key, ack] of this.sentAcks) if (ack.expiresAt <= now) this.sentAcks.delete(key);
  }

  /** Client transactions still waiting for a final response, for diagnostics. */
  pendingClientTransactions(): string[] {
    return [...this.clientTransactions.entries()]
      .filter(([, t]) => t.finalStatus === undefined)
      .map(([key]) => key);
  }
}

function stopServerTimers(transaction: ServerTransaction): void {
  transaction.retransmission?.stop();
  transaction.retransmission = undefined;
  clearTimeout(transaction.ackTimeout);
  transaction.ackTimeout = undefined;
}

function serverKey(request: SipRequest): string {
  // ACK for a non-2xx final shares the INVITE's branch but is its own key, never a retransmission.
  return `${request.vias[0]?.branch ?? `${request.callId}:${request.cseq.seq}`}|${request.method}`;
}
