/**
 * The edge's transaction layer, kept small: server transactions absorb retransmitted requests
 * (same branch → the last response again, never a second call), client transactions match
 * responses by branch and ACK non-2xx INVITE finals themselves (RFC 3261 §17.1.1.3).
 * Request retransmission (Timers A/E) is not implemented: loopback does not lose datagrams.
 */
import {
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

/** How long a finished transaction is remembered for absorbing retransmissions (64·T1, Timer J). */
const TRANSACTION_MEMORY_MS = 32_000;
const SERVER_HEADER = 'phase2-reference-edge';

interface ServerTransaction {
  createdAt: number;
  method: string;
  flow: Flow;
  lastResponse?: { data: Buffer; destination: Flow; status: number };
}

interface ClientTransaction {
  createdAt: number;
  method: string;
  flow: Flow;
  onResponse?: (response: SipResponse) => void;
  /** What an ACK for a non-2xx final needs (INVITE only). */
  invite?: { uri: string; via: string; from: string; callId: string; cseq: number; route: string[] };
  finalStatus?: number;
}

export interface ResponseOptions {
  reason?: string;
  /** Added to To when the request had no tag (dialog-creating or stateless final responses). */
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: string;
  contentType?: string;
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

export class SipStack {
  private readonly serverTransactions = new Map<string, ServerTransaction>();
  private readonly clientTransactions = new Map<string, ClientTransaction>();

  constructor(
    readonly transports: SipTransports,
    private readonly log: (message: string) => void,
  ) {}

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
    this.serverTransactions.set(key, { createdAt: Date.now(), method: request.method, flow });
    return true;
  }

  /** The final status sent for the INVITE server transaction a non-2xx ACK belongs to, if any. */
  inviteFinalStatus(branch: string | undefined): number | undefined {
    if (branch === undefined) return undefined;
    return this.serverTransactions.get(`${branch}|INVITE`)?.lastResponse?.status;
  }

  /** Sends a response to `request` (RFC 3261 §18.2.2 / RFC 3581 addressing for UDP). */
  respond(request: SipRequest, flow: Flow, status: number, options: ResponseOptions = {}): void {
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
    headers.push(...(options.headers ?? []));
    headers.push(['Server', SERVER_HEADER]);
    const data = serialize({
      startLine: `SIP/2.0 ${status} ${options.reason ?? reasonPhrase(status)}`,
      headers,
      body: options.body,
      contentType: options.contentType,
    });
    const destination = this.responseDestination(request, flow);
    const transaction = this.serverTransactions.get(serverKey(request));
    if (transaction) transaction.lastResponse = { data, destination, status };
    this.log(
      `→ ${status} ${options.reason ?? reasonPhrase(status)} to ${request.cseq.method} (Call-ID ${request.callId}) ${describeFlow(destination)}`,
    );
    this.transports.send(destination, data);
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

  /** Sends a request over a flow; responses go to onResponse (provisionals and finals alike). */
  sendRequest(
    flow: Flow,
    request: OutgoingRequest,
    onResponse?: (response: SipResponse) => void,
  ): { branch: string; sent: boolean } {
    this.prune();
    const branch = request.branch ?? `z9hG4bK${randomToken(10)}`;
    const via = `${this.transports.viaFor(flow)};branch=${branch};rport`;
    const data = serialize({
      startLine: `${request.method} ${request.uri} SIP/2.0`,
      headers: [['Via', via], ...request.headers],
      body: request.body,
      contentType: request.contentType,
    });
    if (request.method !== 'ACK') {
      const field = (name: string): string =>
        request.headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? '';
      this.clientTransactions.set(`${branch}|${request.method}`, {
        createdAt: Date.now(),
        method: request.method,
        flow,
        onResponse,
        invite:
          request.method === 'INVITE'
            ? {
                uri: request.uri,
                via,
                from: field('from'),
                callId: field('call-id'),
                cseq: Number(field('cseq').split(' ')[0]),
                route: request.headers.filter(([n]) => n.toLowerCase() === 'route').map(([, v]) => v),
              }
            : undefined,
      });
    }
    this.log(`← ${request.method} ${request.uri} to ${describeFlow(flow)}`);
    return { branch, sent: this.transports.send(flow, data) };
  }

  /** Routes a response to its client transaction; unmatched responses are logged and dropped. */
  receiveResponse(response: SipResponse, flow: Flow): void {
    const branch = response.vias[0]?.branch;
    const transaction =
      branch === undefined ? undefined : this.clientTransactions.get(`${branch}|${response.cseq.method}`);
    if (!transaction || branch === undefined) {
      this.log(
        `dropped ${response.status} ${response.reason} for ${response.cseq.method} from ${describeFlow(flow)}: no matching transaction (branch ${branch ?? 'none'})`,
      );
      return;
    }
    if (transaction.invite && response.status >= 300) this.ackNonSuccess(transaction, response);
    if (response.status >= 200) {
      // A retransmitted non-2xx final was just re-ACKed; the dialog layer has seen it already.
      if (transaction.finalStatus !== undefined && response.status >= 300) return;
      transaction.finalStatus = response.status;
    }
    transaction.onResponse?.(response);
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

  /** Forgets transactions older than the retransmission window (Map keeps insertion order). */
  private prune(): void {
    const oldest = Date.now() - TRANSACTION_MEMORY_MS;
    for (const map of [this.serverTransactions, this.clientTransactions] as Array<
      Map<string, { createdAt: number }>
    >) {
      for (const [key, transaction] of map) {
        if (transaction.createdAt >= oldest) break;
        map.delete(key);
      }
    }
  }

  /** Client transactions still waiting for a final response, for diagnostics. */
  pendingClientTransactions(): string[] {
    return [...this.clientTransactions.entries()]
      .filter(([, t]) => t.finalStatus === undefined)
      .map(([key]) => key);
  }
}

function serverKey(request: SipRequest): string {
  // ACK for a non-2xx final shares the INVITE's branch but is its own key, never a retransmission.
  return `${request.vias[0]?.branch ?? `${request.callId}:${request.cseq.seq}`}|${request.method}`;
}
