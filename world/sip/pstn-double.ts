import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { Observed, WaitTimeoutError } from '../observed';
import { peerNames, traffic } from '../traffic-log';
import { RtpSession, type RtpSessionOptions } from './rtp';
import {
  answerDirection,
  buildAudioSdp,
  mayEmit,
  offersPcmu,
  parseAudioSdp,
  type AudioDescription,
} from './sdp';
import {
  parseNameAddr,
  parseSipMessage,
  parseSipUri,
  randomToken,
  redactSip,
  SipParseError,
  summarizeSip,
  type SipHeaders,
  type SipRequest,
  type SipResponse,
} from './sip-text';
import { attempts, judgeCall } from '../../reporting/attempts';

/**
 * The outside telephone network behind a SIP trunk: a small SIP endpoint of our own on UDP
 * (sip.js answers 404 to any Request-URI user that is not its own, and a carrier accepts any
 * number). Behaviour is chosen per dialled number; everything received is recorded.
 */

export interface PstnBehaviour {
  answer: 'answer' | 'busy' | 'reject' | 'ring';
  /** For 'reject'; default 403. */
  rejectCode?: number;
  /** For 'answer': play a tone (default) or echo what arrives. */
  media?: 'echo' | 'tone';
  /** For 'answer': ring this long before answering; default 0. */
  answerAfterMs?: number;
  /** For 'answer' with a tone: the pitch this line speaks with; default the number's voice (see `voiceOf`). */
  toneHz?: number;
}

export interface ReceivedInvite {
  /** Request-URI user: the dialled number. */
  number: string;
  /** From URI user: the caller's number as presented. */
  from: string;
  fromDisplay: string | null;
  /** User part of P-Asserted-Identity, or null when absent. */
  pAssertedIdentity: string | null;
  /** The Privacy header (RFC 3323), e.g. "id" when the caller's identity must not be shown; null when absent. */
  privacy: string | null;
  /** User part of the Diversion header (RFC 5806): the number that forwarded the call; null when absent. */
  divertedFrom: string | null;
  callId: string;
  sdp: string;
  at: number;
  requestUri: string;
  /** The whole INVITE as received, for evidence. */
  text: string;
}

export interface PstnCallEvent {
  /**
   * 'confirmed': the platform ACKed the double's 200 OK (answered calls to the PSTN only);
   * 'unconfirmed': it never did, however often the 200 OK was re-sent (RFC 3261 §13.3.1.4).
   */
  kind: 'progress' | 'ringing' | 'answered' | 'confirmed' | 'unconfirmed' | 'rejected' | 'ended';
  status?: number;
  reason?: string;
  by?: 'local' | 'remote';
  at: number;
}

export interface PstnDoubleOptions {
  /** Actor name in the evidence; default "PSTN". */
  actor?: string;
  /** Who sends us calls; default "platform SIP". */
  peerActor?: string;
  /** Default pitch of every line; default 400 Hz. */
  toneHz?: number;
  /**
   * The pitch of the person on a number (the dialled one for calls the double answers, the
   * caller's for calls it places), so that two outside lines in one call sound different.
   */
  voiceOf?: (number: string) => number | undefined;
  /** Protocol timeout for our own requests (BYE, outbound INVITE final response); default 5000 ms. */
  transactionTimeoutMs?: number;
  /**
   * RFC 3261 T1 (round-trip estimate), default 500 ms: the first retransmission interval, and
   * 64·T1 is how long a 200 OK waits for its ACK. Shorter only to test those timeouts quickly.
   */
  timerT1Ms?: number;
}

const DEFAULT_T1 = 500;
const T2 = 4000;
const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  603: 'Decline',
};
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';

interface Peer {
  host: string;
  port: number;
}

interface Dialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our party's name-addr without tag, and theirs. */
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  localCseq: number;
  /** Where their requests came from: the fallback when the target cannot be reached directly. */
  source: Peer;
  call: PstnCall;
  /** CSeq number of the INVITE that created the dialog: the ACK of its 2xx carries the same. */
  inviteCseq: number;
  sdpVersion: number;
  sdpSessionId: string;
}

interface ServerInvite {
  branch: string;
  request: SipRequest;
  source: Peer;
  localTag: string;
  lastResponse?: string;
  finalSent: boolean;
  /** How often the final response was re-sent while its ACK was awaited. */
  retransmissions: number;
  timers: NodeJS.Timeout[];
  dialog?: Dialog;
}

/** An INVITE the double sent (a call from the PSTN into the platform), until its final response. */
interface OutgoingInvite {
  call: PstnCall;
  branch: string;
  requestUri: string;
  /** The trunk peer: where the INVITE, its CANCEL and a non-2xx ACK go. */
  destination: Peer;
  via: string;
  /** From with our tag, To without one, as sent. */
  fromHeader: string;
  toHeader: string;
  fromUri: string;
  localTag: string;
  cseq: number;
  media: 'echo' | 'tone';
  sdpSessionId: string;
  provisionalSeen: boolean;
  cancelRequested: boolean;
  cancelSent: boolean;
  /** The final response's ACK, re-sent for each retransmission of that final response. */
  ack?: { text: string; to: Peer };
  dialog?: Dialog;
  /** The BYE the double sent itself right after an answer (a 2xx that crossed our CANCEL, an unusable answer). */
  byeAfterAnswer?: Promise<void>;
}

/** Options of a call placed by the double into the platform. */
export interface PstnCallOptions {
  /** Media once answered: a tone (default) or an echo of what arrives. */
  media?: 'echo' | 'tone';
  /** Host of the Request-URI and To; default the platform address the INVITE is sent to. */
  domain?: string;
  /** Display name in From (the CLI name a carrier passes on). */
  fromDisplay?: string;
  /** Extra headers, e.g. P-Asserted-Identity. */
  headers?: Record<string, string>;
  /** The pitch the caller speaks with; default the calling number's voice (see `voiceOf`). */
  toneHz?: number;
}

interface ClientTransaction {
  onResponse: (response: SipResponse) => void;
  onTimeout: () => void;
  /** The double stopped with the transaction still open. */
  onAbort?: (reason: string) => void;
  retransmitTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
}

/** One call at the PSTN side: answered by the double, or placed by it into the platform. */
export class PstnCall {
  readonly events = new Observed<PstnCallEvent>(
    (e) =>
      `${e.kind}${e.status ? ` ${e.status}` : ''}${e.reason ? ` ${e.reason}` : ''}${e.by ? ` by ${e.by}` : ''}`,
  );
  answeredAt: number | undefined;
  endedAt: number | undefined;
  endedBy: 'local' | 'remote' | undefined;
  /** Final SIP status of the INVITE once known (200, 486, 487, ...). */
  finalStatus: number | undefined;
  /** When the platform's ACK for the double's 200 OK arrived (answered calls to the PSTN). */
  confirmedAt: number | undefined;
  /** How often the double re-sent its 200 OK because no ACK had arrived (so far). */
  okRetransmissions = 0;

  constructor(
    /** The dialled number: the R-URI user of a call to the PSTN, the callee of a call from it. */
    readonly number: string,
    readonly from: string,
    readonly callId: string,
    readonly rtp: RtpSession,
    private readonly hangupImpl: () => Promise<void>,
    /** Who placed the call: the platform (a call to the PSTN) or the PSTN double itself. */
    readonly origin: 'platform' | 'pstn' = 'platform',
  ) {}

  get isEnded(): boolean {
    return this.endedAt !== undefined;
  }

  /**
   * Ends the call whatever its state: BYE once answered, CANCEL while a call placed by the
   * double is still ringing. Resolves when the platform confirmed (the BYE's final response,
   * the INVITE's final response after a CANCEL).
   */
  hangup(): Promise<void> {
    return this.hangupImpl();
  }

  /** Resolves once answered; rejects naming the outcome when the call was rejected or ended first. */
  async waitUntilAnswered(timeoutMs: number): Promise<void> {
    const event = await this.events.waitFor(
      (e) => e.kind === 'answered' || e.kind === 'rejected' || e.kind === 'ended',
      {
        awaited: `the call ${this.callId} from ${this.from} to ${this.number} to be answered`,
        timeoutMs,
        lookAt: 'the SIP messages of this call (the INVITE and its responses) in the evidence',
      },
    );
    if (event.kind !== 'answered')
      throw new Error(
        `PSTN call ${this.callId} to ${this.number} was ${event.kind}${event.status ? ` with ${event.status}` : ''}${event.reason ? ` (${event.reason})` : ''} instead of being answered`,
      );
  }

  /**
   * Resolves when the platform ACKed the double's 200 OK (a call to the PSTN the double
   * answered); rejects naming what happened instead: no ACK however often the 200 was re-sent,
   * the call ending first, or no ACK within `timeoutMs`. Calls the double placed itself have
   * nothing to confirm (the double sends that ACK): for them it rejects at once.
   */
  async waitUntilConfirmed(timeoutMs: number): Promise<void> {
    if (this.origin === 'pstn')
      throw new Error(
        `PSTN call ${this.callId} from ${this.from} was placed by the double: the double sends the ACK itself, there is no platform ACK to wait for`,
      );
    let event: PstnCallEvent;
    try {
      event = await this.events.waitFor(
        (e) =>
          e.kind === 'confirmed' || e.kind === 'unconfirmed' || e.kind === 'rejected' || e.kind === 'ended',
        {
          awaited: `the platform's ACK for the 200 OK of call ${this.callId} from ${this.from} to ${this.number}`,
          timeoutMs,
          lookAt:
            'the SIP messages of this call (the 200 OK, its retransmissions and the ACK) in the evidence',
        },
      );
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error;
      const sofar =
        this.answeredAt === undefined
          ? 'the double has not answered it yet'
          : `no ACK after ${this.okRetransmissions} retransmission(s) of 200 OK`;
      throw new WaitTimeoutError(`${error.message}\nSo far: ${sofar}.`);
    }
    if (event.kind === 'confirmed') return;
    if (event.kind === 'unconfirmed')
      throw new Error(`PSTN call ${this.callId} to ${this.number}: ${event.reason ?? 'never ACKed'}`);
    throw new Error(
      `PSTN call ${this.callId} to ${this.number} was ${event.kind}${event.status ? ` with ${event.status}` : ''}${event.reason ? ` (${event.reason})` : ''}${event.by ? ` by ${event.by}` : ''} before the platform ACKed ${this.answeredAt === undefined ? 'an answer' : `the 200 OK (${this.okRetransmissions} retransmission(s) sent)`}`,
    );
  }

  /** Resolves when the call is over: ended after an answer, cancelled, or rejected. */
  waitUntilEnded(timeoutMs: number): Promise<PstnCallEvent> {
    return this.events.waitFor((e) => e.kind === 'ended' || e.kind === 'rejected', {
      awaited: `the call ${this.callId} to ${this.number} to end at the PSTN`,
      timeoutMs,
      lookAt: 'the SIP messages of this call (BYE or CANCEL and their answers) in the evidence',
    });
  }

  /** @internal */
  markAnswered(): void {
    this.answeredAt = Date.now();
    this.finalStatus = 200;
    this.events.add({ kind: 'answered', status: 200, at: this.answeredAt });
  }

  /** @internal The ACK of the 200 OK arrived; only the first counts. */
  markConfirmed(): void {
    if (this.confirmedAt !== undefined || this.isEnded) return;
    this.confirmedAt = Date.now();
    this.events.add({ kind: 'confirmed', at: this.confirmedAt });
  }

  /** @internal */
  noteOkRetransmission(): void {
    this.okRetransmissions += 1;
  }

  /** @internal The 200 OK was given up on without an ACK. */
  markUnconfirmed(reason: string): void {
    if (this.confirmedAt !== undefined) return;
    this.events.add({ kind: 'unconfirmed', status: 200, reason, at: Date.now() });
  }

  /** @internal A final failure response to the double's own INVITE: the call is over. */
  markRejected(status: number, reason: string): void {
    if (this.endedAt !== undefined) return;
    this.endedAt = Date.now();
    this.endedBy = 'remote';
    this.finalStatus = status;
    this.events.add({ kind: 'rejected', status, reason, by: 'remote', at: this.endedAt });
  }

  /** @internal */
  markEnded(by: 'local' | 'remote', reason: string, status?: number): void {
    if (this.endedAt !== undefined) return;
    this.endedAt = Date.now();
    this.endedBy = by;
    if (status !== undefined) this.finalStatus = status;
    this.events.add({ kind: 'ended', by, reason, status, at: this.endedAt });
  }
}

export class PstnDouble {
  readonly invites = new Observed<ReceivedInvite>(
    (i) => `INVITE to ${i.number} from ${i.from} (Call-ID ${i.callId})`,
  );
  readonly calls = new Observed<PstnCall>((c) => `call ${c.callId} to ${c.number} answered`);
  /** Calls the double placed into the platform with call(), in order. */
  readonly originated = new Observed<PstnCall>(
    (c) => `call ${c.callId} from ${c.from} to ${c.number} placed by the PSTN`,
  );
  /** Cancelled INVITEs, by Call-ID. */
  readonly cancelled = new Observed<{ callId: string; number: string; at: number }>(
    (c) => `CANCEL of ${c.callId}`,
  );
  /** Malformed input, unknown transactions, timeouts: surfaced here and in the traffic log. */
  readonly problems = new Observed<string>((p) => p);

  private readonly actor: string;
  private readonly peerActor: string;
  private readonly toneHz: number;
  private readonly voiceOf: (number: string) => number | undefined;
  private readonly transactionTimeoutMs: number;
  private readonly t1: number;
  /** Every media session of a call, until closed: stop() must release them all. */
  private readonly mediaSessions = new Set<RtpSession>();
  private readonly behaviours = new Map<string, PstnBehaviour>();
  private readonly serverInvites = new Map<string, ServerInvite>();
  private readonly clientTransactions = new Map<string, ClientTransaction>();
  private readonly dialogs = new Map<string, Dialog>();
  /** Our INVITEs without a final response yet, by branch. */
  private readonly outgoingInvites = new Map<string, OutgoingInvite>();
  private socket: Socket | undefined;
  private bound: Peer | undefined;

  constructor(options: PstnDoubleOptions = {}) {
    this.actor = options.actor ?? 'PSTN';
    this.peerActor = options.peerActor ?? 'platform SIP';
    this.toneHz = options.toneHz ?? 400;
    this.voiceOf = options.voiceOf ?? (() => undefined);
    this.transactionTimeoutMs = options.transactionTimeoutMs ?? 5000;
    this.t1 = options.timerT1Ms ?? DEFAULT_T1;
  }

  async start(): Promise<void> {
    if (this.socket) return;
    const socket = createSocket('udp4');
    socket.on('message', (datagram, from) => this.onDatagram(datagram.toString('utf8'), from));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (error) => this.problem(`UDP socket error: ${error.message}`));
    this.socket = socket;
    const address = socket.address();
    this.bound = { host: address.address, port: address.port };
  }

  address(): { host: string; port: number } {
    if (!this.bound) throw new Error(`${this.actor}: not started, it has no address yet`);
    return { ...this.bound };
  }

  /** What happens when a call to `number` arrives. Unconfigured numbers answer with a tone. */
  behaviourFor(number: string, behaviour: PstnBehaviour): void {
    this.behaviours.set(number, behaviour);
  }

  /**
   * Ends everything and releases every socket (SIP and media); after it resolves nothing of the
   * double is left running. Calls still up get a BYE and ringing calls it placed a CANCEL, but
   * stopping does not wait for answers from peers that may be gone. start() may follow again.
   */
  async stop(): Promise<void> {
    for (const dialog of [...this.dialogs.values()]) {
      if (!dialog.call.isEnded) void dialog.call.hangup().catch(() => undefined);
    }
    for (const outgoing of [...this.outgoingInvites.values()]) {
      if (outgoing.provisionalSeen && !outgoing.cancelSent) this.sendCancel(outgoing);
      this.outgoingInvites.delete(outgoing.branch);
      outgoing.call.markEnded('local', 'PSTN double stopped before an answer');
    }
    // From here on nothing is sent, and late answers are recorded but no longer handled.
    const socket = this.socket;
    this.socket = undefined;
    this.bound = undefined;
    for (const invite of this.serverInvites.values()) invite.timers.forEach(clearTimeout);
    this.serverInvites.clear();
    for (const [key, transaction] of [...this.clientTransactions]) {
      this.finishClientTransaction(key);
      transaction.onAbort?.(`${this.actor} stopped before an answer arrived`);
    }
    for (const dialog of this.dialogs.values()) dialog.call.rtp.stopSending();
    this.dialogs.clear();
    const media = [...this.mediaSessions];
    this.mediaSessions.clear();
    await Promise.all(media.map((rtp) => rtp.close()));
    if (socket) await new Promise<void>((done) => socket.close(() => done()));
  }

  /** A call's media session, tracked so stop() can release it whatever state the call is in. */
  private newMediaSession(options: RtpSessionOptions): RtpSession {
    const rtp = new RtpSession(options);
    this.mediaSessions.add(rtp);
    return rtp;
  }

  private closeMedia(rtp: RtpSession): Promise<void> {
    this.mediaSessions.delete(rtp);
    return rtp.close();
  }

  // ---- receiving -------------------------------------------------------------------------

  private onDatagram(text: string, from: RemoteInfo): void {
    if (text.trim().length === 0) return; // keep-alive
    const source = { host: from.address, port: from.port };
    traffic.record({
      protocol: 'SIP',
      from: peerNames.nameOf(source.host, source.port) ?? this.peerActor,
      to: this.actor,
      summary: summarizeSip(text),
      detail: redactSip(text),
    });
    if (!this.socket) return; // stopping: recorded, but no longer answered
    let message;
    try {
      message = parseSipMessage(text);
    } catch (error) {
      this.onMalformed(error as Error, text, source);
      return;
    }
    try {
      if (message.kind === 'request') this.onRequest(message, source);
      else this.onResponse(message);
    } catch (error) {
      // A bug or an unexpected input must show up in the evidence, not crash the worker.
      this.problem(`failed to handle ${summarizeSip(text)}: ${(error as Error).stack ?? String(error)}`);
      if (message.kind === 'request' && message.method !== 'ACK')
        this.respond(message, source, 500, {}, '', undefined);
    }
  }

  private onMalformed(error: Error, text: string, source: Peer): void {
    this.problem(`malformed SIP from ${source.host}:${source.port}: ${error.message}`);
    const partial = error instanceof SipParseError ? error.partial : undefined;
    if (!partial?.method || partial.method.toUpperCase() === 'ACK' || !partial.headers) return;
    const headers = partial.headers;
    if (
      !headers.has('via') ||
      !headers.has('call-id') ||
      !headers.has('from') ||
      !headers.has('to') ||
      !headers.has('cseq')
    )
      return;
    const fake: SipRequest = {
      kind: 'request',
      method: partial.method,
      uri: '',
      headers,
      body: '',
      raw: text,
    };
    this.respond(
      fake,
      source,
      400,
      {},
      '',
      undefined,
      `Bad Request (${error.message.replace(/[\r\n]/g, ' ').slice(0, 100)})`,
    );
  }

  private onRequest(request: SipRequest, source: Peer): void {
    const branch = topBranch(request.headers);
    const toTag = tagOf(request.headers.get('to'));
    switch (request.method) {
      case 'INVITE': {
        const existing = this.serverInvites.get(branch);
        if (existing) {
          if (existing.lastResponse) this.sendRaw(existing.lastResponse, existing.source); // retransmission
          return;
        }
        if (toTag) this.onReInvite(request, source, toTag);
        else void this.onNewInvite(request, source, branch);
        return;
      }
      case 'ACK': {
        const invite = this.serverInvites.get(branch);
        if (invite) this.forgetInvite(invite); // ACK of a non-2xx final
        const dialog = toTag
          ? this.dialogs.get(dialogKey(request.headers.get('call-id') ?? '', toTag))
          : undefined;
        if (dialog) {
          for (const tx of [...this.serverInvites.values()])
            if (tx.dialog === dialog && tx.finalSent) this.forgetInvite(tx);
          // The ACK of the 2xx that set up a call to the PSTN carries that INVITE's CSeq number.
          if (dialog.call.origin === 'platform' && cseqNumber(request.headers) === dialog.inviteCseq)
            dialog.call.markConfirmed();
        }
        if (!invite && !dialog)
          this.problem(`ACK matches no transaction or dialog (Call-ID ${request.headers.get('call-id')})`);
        return;
      }
      case 'CANCEL': {
        const invite = this.serverInvites.get(branch);
        if (!invite) {
          this.respond(request, source, 481, {}, '', undefined);
          return;
        }
        this.respond(request, source, 200, {}, '', invite.localTag);
        if (!invite.finalSent) {
          invite.timers.forEach(clearTimeout);
          invite.timers = [];
          this.finalResponse(invite, 487);
          const number = parseRequestUser(invite.request);
          this.cancelled.add({ callId: invite.request.headers.get('call-id') ?? '', number, at: Date.now() });
        }
        return;
      }
      case 'BYE': {
        const dialog = toTag
          ? this.dialogs.get(dialogKey(request.headers.get('call-id') ?? '', toTag))
          : undefined;
        if (!dialog) {
          this.respond(request, source, 481, {}, '', undefined);
          return;
        }
        this.respond(request, source, 200, {}, '', undefined);
        this.endDialog(dialog, 'remote', 'BYE received');
        return;
      }
      case 'OPTIONS':
        this.respond(
          request,
          source,
          200,
          { Allow: ALLOW, Accept: 'application/sdp' },
          '',
          toTag ? undefined : randomToken(4),
        );
        return;
      case 'INFO': {
        const dialog = toTag
          ? this.dialogs.get(dialogKey(request.headers.get('call-id') ?? '', toTag))
          : undefined;
        this.respond(request, source, dialog ? 200 : 481, {}, '', undefined);
        return;
      }
      default:
        this.respond(request, source, 405, { Allow: ALLOW }, '', toTag ? undefined : randomToken(4));
    }
  }

  private async onNewInvite(request: SipRequest, source: Peer, branch: string): Promise<void> {
    const number = parseRequestUser(request);
    const fromHeader = parseNameAddr(request.headers.get('from') ?? '');
    const pai = request.headers.get('p-asserted-identity');
    const diversion = request.headers.get('diversion');
    const callId = request.headers.get('call-id') ?? '';
    this.invites.add({
      number,
      from: safeUser(fromHeader.uri) ?? '',
      fromDisplay: fromHeader.displayName,
      pAssertedIdentity: pai ? safeUser(parseNameAddr(pai).uri) : null,
      privacy: request.headers.get('privacy') ?? null,
      divertedFrom: diversion ? safeUser(parseNameAddr(diversion).uri) : null,
      callId,
      sdp: request.body,
      at: Date.now(),
      requestUri: request.uri,
      text: request.raw,
    });
    const invite: ServerInvite = {
      branch,
      request,
      source,
      localTag: randomToken(4),
      finalSent: false,
      retransmissions: 0,
      timers: [],
    };
    this.serverInvites.set(branch, invite);
    this.provisional(invite, 100);
    const behaviour = this.behaviours.get(number) ?? { answer: 'answer', media: 'tone' };
    switch (behaviour.answer) {
      case 'busy':
        this.finalResponse(invite, 486);
        return;
      case 'reject':
        this.finalResponse(invite, behaviour.rejectCode ?? 403);
        return;
      case 'ring':
        this.provisional(invite, 180);
        return;
      case 'answer': {
        this.provisional(invite, 180);
        const delay = behaviour.answerAfterMs ?? 0;
        if (delay <= 0) await this.answer(invite, behaviour);
        else invite.timers.push(setTimeout(() => void this.answer(invite, behaviour), delay));
        return;
      }
    }
  }

  private async answer(invite: ServerInvite, behaviour: PstnBehaviour): Promise<void> {
    if (invite.finalSent) return; // cancelled meanwhile
    const request = invite.request;
    let offer: AudioDescription;
    try {
      offer = parseAudioSdp(request.body);
      if (!offersPcmu(offer)) throw new Error(`no PCMU among payload types ${offer.payloadTypes.join(' ')}`);
    } catch (error) {
      this.problem(
        `INVITE ${request.headers.get('call-id')}: unusable SDP offer: ${(error as Error).message}`,
      );
      this.finalResponse(invite, 488, {
        Warning: `399 pstn-double "${(error as Error).message.replace(/"/g, "'")}"`,
      });
      return;
    }
    const number = parseRequestUser(request);
    const rtp = this.newMediaSession({
      actor: `${this.actor} ${number}`,
      peerActor: this.peerActor,
      echo: behaviour.media === 'echo',
      toneHz: behaviour.toneHz ?? this.voiceOf(number) ?? this.toneHz,
    });
    await rtp.ready;
    if (invite.finalSent || !this.socket) {
      // Cancelled, or the double stopped, while the media port was being bound.
      await this.closeMedia(rtp);
      return;
    }
    const callId = request.headers.get('call-id') ?? '';
    const fromUser = safeUser(parseNameAddr(request.headers.get('from') ?? '').uri) ?? '';
    const toHeader = parseNameAddr(request.headers.get('to') ?? '');
    const contact = request.headers.get('contact');
    // The call's hangup needs the dialog and the dialog holds the call: bind through a closure.
    const call = new PstnCall(number, fromUser, callId, rtp, () => this.hangup(dialog));
    const dialog: Dialog = {
      call,
      callId,
      localTag: invite.localTag,
      remoteTag: tagOf(request.headers.get('from')) ?? '',
      localUri: toHeader.uri,
      remoteUri: parseNameAddr(request.headers.get('from') ?? '').uri,
      remoteTarget: contact ? parseNameAddr(contact).uri : request.uri,
      routeSet: request.headers.getAll('record-route'),
      localCseq: 1 + Math.floor(Math.random() * 1000),
      source: invite.source,
      inviteCseq: cseqNumber(request.headers),
      sdpVersion: 1,
      sdpSessionId: randomToken(4),
    };
    invite.dialog = dialog;
    this.dialogs.set(dialogKey(callId, dialog.localTag), dialog);

    const direction = answerDirection(offer.direction);
    const answerSdp = buildAudioSdp({
      address: rtp.localAddress.host,
      port: rtp.localAddress.port,
      direction,
      sessionId: dialog.sdpSessionId,
      sessionVersion: dialog.sdpVersion,
    });
    this.applyMedia(rtp, offer, direction, behaviour.media ?? 'tone');
    this.finalResponse(invite, 200, { 'Content-Type': 'application/sdp' }, answerSdp);
    dialog.call.markAnswered();
    this.calls.add(dialog.call);
  }

  private onReInvite(request: SipRequest, source: Peer, toTag: string): void {
    const dialog = this.dialogs.get(dialogKey(request.headers.get('call-id') ?? '', toTag));
    if (!dialog) {
      this.respond(request, source, 481, {}, '', undefined);
      return;
    }
    const invite: ServerInvite = {
      branch: topBranch(request.headers),
      request,
      source,
      localTag: toTag,
      finalSent: false,
      retransmissions: 0,
      timers: [],
      dialog,
    };
    this.serverInvites.set(invite.branch, invite);
    let offer: AudioDescription;
    try {
      offer = parseAudioSdp(request.body);
    } catch (error) {
      this.finalResponse(invite, 488, {
        Warning: `399 pstn-double "${(error as Error).message.replace(/"/g, "'")}"`,
      });
      return;
    }
    const contact = request.headers.get('contact');
    if (contact) dialog.remoteTarget = parseNameAddr(contact).uri;
    dialog.sdpVersion += 1;
    const rtp = dialog.call.rtp;
    const direction = answerDirection(offer.direction);
    const sdp = buildAudioSdp({
      address: rtp.localAddress.host,
      port: rtp.localAddress.port,
      direction,
      sessionId: dialog.sdpSessionId,
      sessionVersion: dialog.sdpVersion,
    });
    this.applyMedia(rtp, offer, direction, rtp.stats().echo ? 'echo' : 'tone');
    this.finalResponse(invite, 200, { 'Content-Type': 'application/sdp' }, sdp);
  }

  private applyMedia(
    rtp: RtpSession,
    remote: AudioDescription,
    localDirection: ReturnType<typeof answerDirection>,
    media: 'echo' | 'tone',
  ): void {
    if (remote.telephoneEventPayloadType !== null)
      rtp.setTelephoneEventPayloadType(remote.telephoneEventPayloadType);
    if (remote.port === 0) {
      rtp.stopSending();
      return;
    }
    rtp.setRemote(remote.connectionAddress, remote.port, this.peerActor);
    if (media === 'tone' && mayEmit(localDirection, remote.direction)) rtp.startSending();
    else rtp.stopSending();
  }

  private onResponse(response: SipResponse): void {
    const branch = topBranch(response.headers);
    const method = cseqMethod(response.headers);
    const transaction = this.clientTransactions.get(transactionKey(branch, method));
    if (!transaction) {
      // Typically a retransmitted 200 to a BYE already answered: harmless, but visible.
      this.problem(
        `response ${response.status} ${response.reason} to ${method} matches no request of ours (branch ${branch})`,
      );
      return;
    }
    transaction.onResponse(response);
  }

  // ---- calls placed by the double (the outside network calling in over the trunk) -------------

  /**
   * Calls `toNumber` as `fromNumber` from the outside telephone network: an INVITE with a plain
   * RTP PCMU offer, sent from the double's own SIP socket (the platform recognises a trunk by
   * source address, so provision the trunk at `address()`). Resolves once the INVITE is sent;
   * progress, answer and end arrive as the call's events.
   */
  async call(
    fromNumber: string,
    toNumber: string,
    via: { host: string; port: number },
    options: PstnCallOptions = {},
  ): Promise<PstnCall> {
    const local = this.address();
    const media = options.media ?? 'tone';
    const rtp = this.newMediaSession({
      actor: `${this.actor} ${fromNumber}`,
      peerActor: this.peerActor,
      echo: media === 'echo',
      toneHz: options.toneHz ?? this.voiceOf(fromNumber) ?? this.toneHz,
    });
    await rtp.ready;
    if (!this.socket) {
      await this.closeMedia(rtp);
      throw new Error(`${this.actor}: stopped while placing the call from ${fromNumber} to ${toNumber}`);
    }
    const branch = `z9hG4bK${randomToken(8)}`;
    const localTag = randomToken(4);
    const callId = `${randomToken(10)}@${local.host}`;
    const cseq = 1 + Math.floor(Math.random() * 1000);
    const requestUri = `sip:${toNumber}@${options.domain ?? `${via.host}:${via.port}`}`;
    const fromUri = `sip:${fromNumber}@${local.host}:${local.port}`;
    const display = options.fromDisplay ? `"${options.fromDisplay.replace(/["\\]/g, '')}" ` : '';
    const sdpSessionId = randomToken(4);
    const outgoing: OutgoingInvite = {
      // The call's hangup needs the transaction state and that state holds the call: bind through a closure.
      call: new PstnCall(toNumber, fromNumber, callId, rtp, () => this.hangupOutgoing(outgoing), 'pstn'),
      branch,
      requestUri,
      destination: { host: via.host, port: via.port },
      via: `SIP/2.0/UDP ${local.host}:${local.port};branch=${branch};rport`,
      fromHeader: `${display}<${fromUri}>;tag=${localTag}`,
      toHeader: `<${requestUri}>`,
      fromUri,
      localTag,
      cseq,
      media,
      sdpSessionId,
      provisionalSeen: false,
      cancelRequested: false,
      cancelSent: false,
    };
    const offer = buildAudioSdp({
      address: rtp.localAddress.host,
      port: rtp.localAddress.port,
      direction: 'sendrecv',
      sessionId: sdpSessionId,
      sessionVersion: 1,
    });
    const lines = [
      `INVITE ${requestUri} SIP/2.0`,
      `Via: ${outgoing.via}`,
      'Max-Forwards: 70',
      `From: ${outgoing.fromHeader}`,
      `To: ${outgoing.toHeader}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:${fromNumber}@${local.host}:${local.port};transport=udp>`,
      `Allow: ${ALLOW}`,
      ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      'User-Agent: phase2-acceptance PSTN double',
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(offer, 'utf8')}`,
    ];
    this.outgoingInvites.set(branch, outgoing);
    this.originated.add(outgoing.call);
    this.sendInvite(outgoing, `${lines.join('\r\n')}\r\n\r\n${offer}`);
    const call = outgoing.call;
    attempts.begin({
      channel: 'call',
      key: callId,
      name: `call from ${fromNumber} (${this.actor}) to ${toNumber}`,
      judge: () =>
        judgeCall({
          actor: `${this.actor} ${fromNumber}`,
          answeredAt: call.answeredAt,
          endedAt: call.endedAt,
          received: call.rtp.stats().received,
          finalStatus: call.finalStatus === 200 ? undefined : call.finalStatus,
          givenUp: call.endedBy === 'local' && call.answeredAt === undefined,
        }),
    });
    return call;
  }

  /** The INVITE client transaction over UDP (RFC 3261 §17.1.1, RFC 6026 for the 2xx). */
  private sendInvite(outgoing: OutgoingInvite, text: string): void {
    const key = transactionKey(outgoing.branch, 'INVITE');
    const transaction: ClientTransaction = {
      onResponse: (response) => {
        // Any response stops Timer A.
        if (transaction.retransmitTimer) clearTimeout(transaction.retransmitTimer);
        transaction.retransmitTimer = undefined;
        if (outgoing.ack) {
          // A retransmitted final response: its ACK was lost or is still on the way.
          if (response.status >= 200) this.sendRaw(outgoing.ack.text, outgoing.ack.to);
          return;
        }
        if (response.status >= 200) {
          // Stay for 64·T1 to absorb retransmissions of the final; unref'd, it must not hold the process.
          if (transaction.timeoutTimer) clearTimeout(transaction.timeoutTimer);
          transaction.timeoutTimer = setTimeout(() => this.finishClientTransaction(key), 64 * this.t1);
          transaction.timeoutTimer.unref();
        } else if (transaction.timeoutTimer) {
          // A provisional: the callee is being alerted, and ringing has no protocol timeout (Timer B stops).
          clearTimeout(transaction.timeoutTimer);
          transaction.timeoutTimer = undefined;
        }
        this.onInviteResponse(outgoing, response);
      },
      onTimeout: () => {
        this.outgoingInvites.delete(outgoing.branch);
        outgoing.call.markRejected(408, `no response to the INVITE within ${this.transactionTimeoutMs} ms`);
        void this.closeMedia(outgoing.call.rtp);
      },
    };
    this.clientTransactions.set(key, transaction);
    let interval = this.t1;
    const retransmit = (): void => {
      this.sendRaw(text, outgoing.destination);
      interval *= 2; // Timer A doubles without the T2 cap (§17.1.1.2)
      transaction.retransmitTimer = setTimeout(retransmit, interval);
    };
    this.sendRaw(text, outgoing.destination);
    transaction.retransmitTimer = setTimeout(retransmit, interval);
    transaction.timeoutTimer = setTimeout(() => {
      this.finishClientTransaction(key);
      this.problem(`no response to INVITE ${outgoing.call.callId} within ${this.transactionTimeoutMs} ms`);
      transaction.onTimeout();
    }, this.transactionTimeoutMs);
  }

  private onInviteResponse(outgoing: OutgoingInvite, response: SipResponse): void {
    const call = outgoing.call;
    if (response.status < 200) {
      outgoing.provisionalSeen = true;
      // A CANCEL may only follow a provisional (§9.1): a hangup before one is sent now.
      if (outgoing.cancelRequested && !outgoing.cancelSent) this.sendCancel(outgoing);
      if (response.status === 100) return; // hop-by-hop, says nothing about the callee
      call.events.add({
        kind: response.status === 180 ? 'ringing' : 'progress',
        status: response.status,
        reason: response.reason,
        at: Date.now(),
      });
      return;
    }
    this.outgoingInvites.delete(outgoing.branch);
    if (response.status >= 300) {
      // The ACK of a non-2xx final belongs to the INVITE transaction: same branch, same destination.
      const ack = [
        `ACK ${outgoing.requestUri} SIP/2.0`,
        `Via: ${outgoing.via}`,
        'Max-Forwards: 70',
        `From: ${outgoing.fromHeader}`,
        `To: ${response.headers.get('to') ?? outgoing.toHeader}`,
        `Call-ID: ${call.callId}`,
        `CSeq: ${outgoing.cseq} ACK`,
        'Content-Length: 0',
      ];
      outgoing.ack = { text: `${ack.join('\r\n')}\r\n\r\n`, to: outgoing.destination };
      this.sendRaw(outgoing.ack.text, outgoing.ack.to);
      if (response.status === 487 && outgoing.cancelRequested) call.markEnded('local', 'cancelled', 487);
      else call.markRejected(response.status, response.reason);
      void this.closeMedia(call.rtp);
      return;
    }
    this.onOutgoingAnswered(outgoing, response);
  }

  private onOutgoingAnswered(outgoing: OutgoingInvite, response: SipResponse): void {
    const call = outgoing.call;
    const contact = response.headers.get('contact');
    const dialog: Dialog = {
      call,
      callId: call.callId,
      localTag: outgoing.localTag,
      remoteTag: tagOf(response.headers.get('to')) ?? '',
      localUri: outgoing.fromUri,
      remoteUri: parseNameAddr(outgoing.toHeader).uri,
      remoteTarget: contact ? parseNameAddr(contact).uri : outgoing.requestUri,
      // The caller's route set is the 2xx's Record-Route in reverse order (§12.1.2).
      routeSet: response.headers.getAll('record-route').reverse(),
      localCseq: outgoing.cseq,
      source: outgoing.destination,
      inviteCseq: outgoing.cseq,
      sdpVersion: 1,
      sdpSessionId: outgoing.sdpSessionId,
    };
    outgoing.dialog = dialog;
    this.dialogs.set(dialogKey(dialog.callId, dialog.localTag), dialog);
    const ack = this.buildInDialogRequest(dialog, 'ACK', outgoing.cseq);
    outgoing.ack = { text: ack.text, to: this.requestDestination(dialog) };
    this.sendRaw(outgoing.ack.text, outgoing.ack.to);
    call.markAnswered();

    let answer: AudioDescription | undefined;
    try {
      answer = parseAudioSdp(response.body);
      if (!offersPcmu(answer))
        throw new Error(`no PCMU among payload types ${answer.payloadTypes.join(' ')}`);
    } catch (error) {
      this.problem(`2xx to INVITE ${call.callId}: unusable SDP answer: ${(error as Error).message}`);
      answer = undefined;
    }
    if (!answer || outgoing.cancelRequested) {
      // Hung up meanwhile (the 2xx crossed our CANCEL) or no media possible: end the call properly.
      outgoing.byeAfterAnswer = this.hangup(dialog).catch((error: unknown) => {
        this.problem((error as Error).message);
      });
      return;
    }
    this.applyMedia(call.rtp, answer, 'sendrecv', outgoing.media);
  }

  private async hangupOutgoing(outgoing: OutgoingInvite): Promise<void> {
    const call = outgoing.call;
    if (!outgoing.dialog && !call.isEnded) {
      outgoing.cancelRequested = true;
      if (outgoing.provisionalSeen && !outgoing.cancelSent) this.sendCancel(outgoing);
      // Without a provisional the CANCEL waits for one, and Timer B bounds that wait.
      await call.waitUntilEnded(2 * this.transactionTimeoutMs);
    }
    if (outgoing.byeAfterAnswer) await outgoing.byeAfterAnswer;
    else if (outgoing.dialog) await this.hangup(outgoing.dialog);
  }

  private sendCancel(outgoing: OutgoingInvite): void {
    outgoing.cancelSent = true;
    const lines = [
      `CANCEL ${outgoing.requestUri} SIP/2.0`,
      `Via: ${outgoing.via}`,
      'Max-Forwards: 70',
      `From: ${outgoing.fromHeader}`,
      `To: ${outgoing.toHeader}`,
      `Call-ID: ${outgoing.call.callId}`,
      `CSeq: ${outgoing.cseq} CANCEL`,
      'User-Agent: phase2-acceptance PSTN double',
      'Content-Length: 0',
    ];
    const key = transactionKey(outgoing.branch, 'CANCEL');
    this.sendRequest(`${lines.join('\r\n')}\r\n\r\n`, key, outgoing.destination, {
      onResponse: (response) => {
        if (response.status < 200) return;
        this.finishClientTransaction(key);
        // 481: the INVITE already had its final response; that response ends the call.
        if (response.status >= 300 && response.status !== 481)
          this.problem(`CANCEL of ${outgoing.call.callId} answered ${response.status} ${response.reason}`);
      },
      onTimeout: () => undefined, // sendRequest records the timeout as a problem; the INVITE's Timer B ends the call
    });
  }

  // ---- our own requests --------------------------------------------------------------------

  private hangup(dialog: Dialog): Promise<void> {
    if (dialog.call.isEnded) return Promise.resolve();
    const bye = this.buildInDialogRequest(dialog, 'BYE');
    this.endDialog(dialog, 'local', 'BYE sent');
    const key = transactionKey(bye.branch, 'BYE');
    return new Promise<void>((resolve, reject) => {
      this.sendRequest(bye.text, key, this.requestDestination(dialog), {
        onResponse: (response) => {
          if (response.status < 200) return;
          this.finishClientTransaction(key);
          if (response.status < 300 || response.status === 481) resolve();
          else
            reject(
              new Error(
                `${this.actor}: BYE for call ${dialog.callId} answered ${response.status} ${response.reason}`,
              ),
            );
        },
        onTimeout: () =>
          reject(
            new Error(
              `${this.actor}: no final response to BYE for call ${dialog.callId} within ${this.transactionTimeoutMs} ms (sent to ${dialog.remoteTarget}). Look at: the SIP messages in the evidence.`,
            ),
          ),
        onAbort: (reason) =>
          reject(new Error(`${this.actor}: BYE for call ${dialog.callId} got no final response: ${reason}`)),
      });
    });
  }

  /** `cseq` only for the ACK of a 2xx, which carries the INVITE's sequence number. */
  private buildInDialogRequest(
    dialog: Dialog,
    method: string,
    cseq?: number,
  ): { text: string; branch: string } {
    if (cseq === undefined) dialog.localCseq += 1;
    const branch = `z9hG4bK${randomToken(8)}`;
    const { host, port } = this.address();
    const lines = [
      `${method} ${dialog.remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP ${host}:${port};branch=${branch};rport`,
      'Max-Forwards: 70',
      ...dialog.routeSet.map((route) => `Route: ${route}`),
      `From: <${dialog.localUri}>;tag=${dialog.localTag}`,
      `To: <${dialog.remoteUri}>;tag=${dialog.remoteTag}`,
      `Call-ID: ${dialog.callId}`,
      `CSeq: ${cseq ?? dialog.localCseq} ${method}`,
      'User-Agent: phase2-acceptance PSTN double',
      'Content-Length: 0',
    ];
    return { text: `${lines.join('\r\n')}\r\n\r\n`, branch };
  }

  /** First Route (loose routing) or the remote target; the request's source if neither resolves. */
  private requestDestination(dialog: Dialog): Peer {
    try {
      const target = parseSipUri(
        dialog.routeSet.length > 0 ? parseNameAddr(dialog.routeSet[0]).uri : dialog.remoteTarget,
      );
      if (/^[\d.]+$/.test(target.host) || target.host === 'localhost')
        return { host: target.host, port: target.port ?? 5060 };
    } catch (error) {
      this.problem(
        `cannot route to ${dialog.remoteTarget}: ${(error as Error).message}; using the address requests came from`,
      );
    }
    return dialog.source;
  }

  /** A non-INVITE client transaction over UDP (RFC 3261 §17.1.2): Timer E retransmits, a timeout gives up. */
  private sendRequest(
    text: string,
    key: string,
    to: Peer,
    handlers: Pick<ClientTransaction, 'onResponse' | 'onTimeout' | 'onAbort'>,
  ): void {
    const transaction: ClientTransaction = {
      onTimeout: handlers.onTimeout,
      onAbort: handlers.onAbort,
      onResponse: (response) => {
        // Any response ends retransmission; the handler decides when the transaction is over.
        if (transaction.retransmitTimer) clearTimeout(transaction.retransmitTimer);
        transaction.retransmitTimer = undefined;
        handlers.onResponse(response);
      },
    };
    this.clientTransactions.set(key, transaction);
    let interval = this.t1;
    const retransmit = (): void => {
      this.sendRaw(text, to);
      interval = Math.min(interval * 2, T2);
      transaction.retransmitTimer = setTimeout(retransmit, interval);
    };
    this.sendRaw(text, to);
    transaction.retransmitTimer = setTimeout(retransmit, interval);
    transaction.timeoutTimer = setTimeout(() => {
      this.finishClientTransaction(key);
      this.problem(`no final response to ${summarizeSip(text)} within ${this.transactionTimeoutMs} ms`);
      transaction.onTimeout();
    }, this.transactionTimeoutMs);
  }

  private finishClientTransaction(key: string): void {
    const transaction = this.clientTransactions.get(key);
    if (!transaction) return;
    if (transaction.retransmitTimer) clearTimeout(transaction.retransmitTimer);
    if (transaction.timeoutTimer) clearTimeout(transaction.timeoutTimer);
    this.clientTransactions.delete(key);
  }

  private endDialog(dialog: Dialog, by: 'local' | 'remote', reason: string): void {
    dialog.call.rtp.stopSending();
    dialog.call.markEnded(by, reason);
    for (const tx of [...this.serverInvites.values()]) if (tx.dialog === dialog) this.forgetInvite(tx);
    this.dialogs.delete(dialogKey(dialog.callId, dialog.localTag));
    void this.closeMedia(dialog.call.rtp);
  }

  // ---- responses ---------------------------------------------------------------------------

  private provisional(invite: ServerInvite, status: number): void {
    if (invite.finalSent) return;
    invite.lastResponse = this.respond(
      invite.request,
      invite.source,
      status,
      status === 100 ? {} : this.contactHeader(invite),
      '',
      status === 100 ? undefined : invite.localTag,
    );
  }

  /** Sends a final response to an INVITE and retransmits it until the ACK (Timers G/H). */
  private finalResponse(
    invite: ServerInvite,
    status: number,
    extra: Record<string, string> = {},
    body = '',
  ): void {
    if (invite.finalSent) return;
    invite.finalSent = true;
    const headers = status < 300 ? { ...this.contactHeader(invite), ...extra } : extra;
    const text = this.respond(invite.request, invite.source, status, headers, body, invite.localTag);
    invite.lastResponse = text;
    const retransmit = (): void => {
      this.sendRaw(text, invite.source);
      invite.retransmissions += 1;
      if (status < 300 && this.confirms(invite)) invite.dialog?.call.noteOkRetransmission();
    };
    // Every retransmission is timed from the first send, all armed now: timers armed in one tick
    // fire in deadline order, so a busy event loop delays them but can neither let the delays add
    // up nor let Timer H give up before a retransmission that was due earlier.
    for (const offset of timerGSchedule(this.t1, 64 * this.t1)) {
      invite.timers.push(setTimeout(retransmit, offset));
    }
    invite.timers.push(
      setTimeout(() => {
        this.forgetInvite(invite);
        const missing =
          `no ACK after ${invite.retransmissions} retransmission(s) of ${status} ${REASONS[status] ?? ''}`.trim();
        this.problem(
          `${missing} to INVITE ${invite.request.headers.get('call-id')} within ${64 * this.t1} ms`,
        );
        if (status < 300 && this.confirms(invite))
          invite.dialog?.call.markUnconfirmed(`${missing} within ${64 * this.t1} ms`);
        if (status < 300 && invite.dialog && !invite.dialog.call.isEnded) {
          invite.dialog.call.hangup().catch((error: unknown) => this.problem((error as Error).message));
        }
      }, 64 * this.t1),
    );
  }

  /** Whether this INVITE's 2xx is the one that set up its call (not a re-INVITE's). */
  private confirms(invite: ServerInvite): boolean {
    const dialog = invite.dialog;
    return (
      dialog !== undefined &&
      dialog.call.origin === 'platform' &&
      cseqNumber(invite.request.headers) === dialog.inviteCseq
    );
  }

  private stopRetransmitting(invite: ServerInvite): void {
    invite.timers.forEach(clearTimeout);
    invite.timers = [];
  }

  /** The transaction is over (ACKed or timed out): stop timers and let it go. */
  private forgetInvite(invite: ServerInvite): void {
    this.stopRetransmitting(invite);
    this.serverInvites.delete(invite.branch);
  }

  private contactHeader(invite: ServerInvite): Record<string, string> {
    const { host, port } = this.address();
    return { Contact: `<sip:${parseRequestUser(invite.request) || 'pstn'}@${host}:${port};transport=udp>` };
  }

  /** Builds and sends a response; returns its text (for retransmission). */
  private respond(
    request: SipRequest,
    to: Peer,
    status: number,
    extra: Record<string, string>,
    body: string,
    localTag: string | undefined,
    reason?: string,
  ): string {
    const h = request.headers;
    const toValue = h.get('to') ?? '';
    const lines = [
      `SIP/2.0 ${status} ${reason ?? REASONS[status] ?? 'Unknown'}`,
      ...h.getAll('via').map((via) => `Via: ${via}`),
      ...(status > 100 && status < 300 && request.method === 'INVITE'
        ? h.getAll('record-route').map((rr) => `Record-Route: ${rr}`)
        : []),
      `From: ${h.get('from') ?? ''}`,
      `To: ${localTag && !tagOf(toValue) ? `${toValue};tag=${localTag}` : toValue}`,
      `Call-ID: ${h.get('call-id') ?? ''}`,
      `CSeq: ${h.get('cseq') ?? ''}`,
      ...Object.entries(extra).map(([name, value]) => `${name}: ${value}`),
      'Server: phase2-acceptance PSTN double',
      `Content-Length: ${Buffer.byteLength(body, 'utf8')}`,
    ];
    const text = `${lines.join('\r\n')}\r\n\r\n${body}`;
    this.sendRaw(text, to);
    return text;
  }

  private sendRaw(text: string, to: Peer): void {
    const socket = this.socket;
    if (!socket) return;
    traffic.record({
      protocol: 'SIP',
      from: this.actor,
      to: peerNames.nameOf(to.host, to.port) ?? this.peerActor,
      summary: summarizeSip(text),
      detail: redactSip(text),
    });
    socket.send(text, to.port, to.host, (error) => {
      if (error) this.problem(`send to ${to.host}:${to.port} failed: ${error.message}`);
    });
  }

  private problem(description: string): void {
    traffic.record({
      protocol: 'SIP',
      from: this.actor,
      to: this.actor,
      summary: `PROBLEM: ${description.split('\n')[0]}`,
      detail: description,
    });
    this.problems.add(description);
  }
}

/**
 * When a final response to an INVITE is retransmitted, counted from its first send (RFC 3261
 * §17.2.1 Timer G): first after T1, each interval twice the last, capped at T2, all before `untilMs`.
 */
export function timerGSchedule(t1: number, untilMs: number): number[] {
  const offsets: number[] = [];
  let interval = t1;
  for (let at = t1; at < untilMs; at += interval) {
    offsets.push(at);
    interval = Math.min(interval * 2, T2);
  }
  return offsets;
}

function topBranch(headers: SipHeaders): string {
  return /;\s*branch=([^;,\s]+)/i.exec(headers.get('via') ?? '')?.[1] ?? '';
}

/** Client transactions are keyed by branch and method: a CANCEL shares its INVITE's branch. */
function transactionKey(branch: string, method: string): string {
  return `${branch} ${method.toUpperCase()}`;
}

function cseqNumber(headers: SipHeaders): number {
  return Number((headers.get('cseq') ?? '').trim().split(/\s+/)[0]);
}

function cseqMethod(headers: SipHeaders): string {
  return (headers.get('cseq') ?? '').trim().split(/\s+/)[1]?.toUpperCase() ?? '';
}

function tagOf(nameAddr: string | undefined): string | undefined {
  if (!nameAddr) return undefined;
  return parseNameAddr(nameAddr).params.get('tag') ?? undefined;
}

function dialogKey(callId: string, localTag: string): string {
  return `${callId}\n${localTag}`;
}

function safeUser(uri: string): string | null {
  try {
    return parseSipUri(uri).user;
  } catch {
    return null; // not a SIP URI (e.g. a tel: URI without user part): reported as no user
  }
}

function parseRequestUser(request: SipRequest): string {
  return safeUser(request.uri) ?? '';
}
