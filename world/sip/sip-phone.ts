import {
  Core,
  Invitation,
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
  type Session,
  type UserAgentOptions,
} from 'sip.js';
import { Observed, WaitTimeoutError } from '../observed';
import { traffic } from '../traffic-log';
import { attempts, judgeCall, type EndOfAttempt } from '../../reporting/attempts';
import { plainRtpSdhFactory, type PhoneMedia, type PlainRtpSdhFactory } from './plain-rtp-sdh';
import type { RtpSession } from './rtp';
import { UdpTransport, WsTransport, type UdpTransportOptions, type WsTransportOptions } from './transports';

/**
 * A SIP phone as a subscriber or agent uses one: sip.js 0.21 over our Node transports (UDP or
 * WebSocket), digest registration, calls with real PCMU RTP and RFC 4733 DTMF.
 */

export interface SipPhoneOptions {
  /** Actor name in the evidence ("Alice's desk phone"). */
  actor: string;
  username: string;
  password: string;
  domain: string;
  transport: 'udp' | 'ws';
  /** UDP: the proxy every request goes to. WS: the WebSocket URL. */
  server: { host: string; port: number } | { url: string };
  displayName?: string;
  /** Answer incoming calls as soon as they arrive (default false: call answer() yourself). */
  autoAnswer?: boolean;
  /** What the phone plays: a steady tone (default) or an echo of what it hears. */
  media?: PhoneMedia;
  toneHz?: number;
  /** Actor name of the server side in the evidence; default "platform SIP". */
  serverActor?: string;
  /** Registration lifetime asked for, seconds; default 600. */
  registerExpiresSec?: number;
  /** Protocol timeout for REGISTER / un-REGISTER transactions; default 5000 ms. */
  requestTimeoutMs?: number;
}

/** One registration the registrar accepted: what the phone asked for and what it was granted. */
export interface Registration {
  askedSec: number;
  /** The lifetime of this phone's Contact in the 200 OK; undefined when the answer lists none. */
  grantedSec: number | undefined;
  /** When the phone got the 200 OK (suite clock). */
  at: number;
}

/** How long a registration lasts and whether the phone renews it before it runs out. */
export interface RegistrationPlan {
  expiresSec: number;
  /** Renew at half the granted lifetime (true), or never, like a phone that lost its network (false). */
  renew: boolean;
}

export type CallEventKind = 'progress' | 'ringing' | 'answered' | 'rejected' | 'ended';

export interface CallEvent {
  kind: CallEventKind;
  status?: number;
  reason?: string;
  /** For 'ended': who hung up. */
  by?: 'local' | 'remote';
  /** For 'rejected': the answer's Retry-After (seconds) and Warning, when it had them. */
  retryAfter?: string;
  warning?: string;
  at: number;
}

export interface CallOutcome {
  state: 'calling' | 'ringing' | 'answered' | 'rejected' | 'ended';
  /** Final SIP status of the INVITE, when known (200, 486, 487, ...). */
  status?: number;
  reason?: string;
  /** Who ended it (only once ended). */
  endedBy?: 'local' | 'remote';
  wasAnswered: boolean;
}

export interface RemoteIdentity {
  uri: string;
  user: string | undefined;
  displayName: string | undefined;
}

/** One call on a phone, outgoing or incoming. */
export class PhoneCall {
  readonly direction: 'outgoing' | 'incoming';
  readonly events: Observed<CallEvent>;
  readonly invitedAt: number;
  answeredAt: number | undefined;
  /**
   * Incoming calls: when the ACK of our 200 OK arrived — the caller (the platform) had the answer
   * by then, so this bounds from above when the far side counted the call as answered.
   */
  confirmedAt: number | undefined;
  endedAt: number | undefined;

  private state: CallOutcome['state'] = 'calling';
  private finalStatus: number | undefined;
  private finalReason: string | undefined;
  private endedBy: 'local' | 'remote' | undefined;
  private localHangupRequested = false;

  constructor(
    private readonly session: Session,
    private readonly media: PlainRtpSdhFactory,
    private readonly actor: string,
    direction: 'outgoing' | 'incoming',
    private readonly requestTimeoutMs: number,
  ) {
    this.direction = direction;
    this.invitedAt = Date.now();
    this.events = new Observed<CallEvent>(
      (e) =>
        `${e.kind}${e.status ? ` ${e.status}` : ''}${e.reason ? ` ${e.reason}` : ''}${e.by ? ` by ${e.by}` : ''} at ${new Date(e.at).toISOString()}`,
    );
    session.stateChange.addListener((state) => this.onState(state));
    session.delegate = {
      ...session.delegate,
      onAck: () => {
        this.confirmedAt ??= Date.now();
      },
    };
  }

  get callId(): string {
    const session = this.session;
    return session instanceof Inviter || session instanceof Invitation ? session.request.callId : session.id;
  }

  get remoteIdentity(): RemoteIdentity {
    const identity = this.session.remoteIdentity;
    return {
      uri: identity.uri.toString(),
      user: identity.uri.user,
      displayName: identity.displayName || undefined,
    };
  }

  get outcome(): CallOutcome {
    return {
      state: this.state,
      status: this.finalStatus,
      reason: this.finalReason,
      endedBy: this.endedBy,
      wasAnswered: this.answeredAt !== undefined,
    };
  }

  /** The call's media session: statistics, DTMF received. Exists once the call has an SDP. */
  get rtp(): RtpSession {
    const handler = this.media.handlerFor(this.session);
    if (!handler)
      throw new Error(
        `${this.actor}: call ${this.callId} has no media session yet (no SDP offered or answered so far)`,
      );
    return handler.rtp;
  }

  /** The incoming INVITE's headers (incoming calls only), e.g. P-Asserted-Identity. */
  header(name: string): string | undefined {
    return this.session instanceof Invitation ? this.session.request.getHeader(name) : undefined;
  }

  // ---- incoming side ---------------------------------------------------------------------

  async answer(): Promise<void> {
    if (!(this.session instanceof Invitation))
      throw new Error(`${this.actor}: only an incoming call can be answered`);
    await this.session.accept();
  }

  async reject(statusCode = 486): Promise<void> {
    if (!(this.session instanceof Invitation))
      throw new Error(`${this.actor}: only an incoming call can be rejected`);
    this.finalStatus = statusCode;
    this.localHangupRequested = true;
    await this.session.reject({ statusCode });
    this.report({ kind: 'rejected', status: statusCode, by: 'local' });
  }

  // ---- both sides --------------------------------------------------------------------------

  /**
   * Ends the call whatever its state: CANCEL while ringing out, 486 while ringing in, BYE once
   * answered. Resolves when the other side confirmed (the BYE's final response, the 487 after a
   * CANCEL), so the far end has really seen the end; rejects after `timeoutMs` otherwise.
   */
  async hangup(timeoutMs = this.requestTimeoutMs): Promise<void> {
    const session = this.session;
    this.localHangupRequested = true;
    switch (session.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (session instanceof Invitation) {
          await this.reject(486);
          return;
        }
        await (session as Inviter).cancel();
        await this.waitUntilEnded(timeoutMs);
        return;
      case SessionState.Established:
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new WaitTimeoutError(
                  `Timed out after ${timeoutMs} ms waiting for the answer to the BYE of call ${this.callId} from ${this.actor}. Look at: the SIP messages of this call in the evidence.`,
                ),
              ),
            timeoutMs,
          );
          const settle = (error?: Error): void => {
            clearTimeout(timer);
            if (error) reject(error);
            else resolve();
          };
          session
            .bye({
              requestDelegate: {
                onAccept: () => settle(),
                // 481: the far end already forgot the call; it is over either way.
                onReject: (response) =>
                  response.message.statusCode === 481
                    ? settle()
                    : settle(
                        new Error(
                          `${this.actor}: BYE of call ${this.callId} answered ${response.message.statusCode} ${response.message.reasonPhrase}`,
                        ),
                      ),
              },
            })
            .catch((error: unknown) =>
              settle(
                new Error(
                  `${this.actor}: could not send BYE for call ${this.callId}: ${(error as Error).message}`,
                ),
              ),
            );
        });
        return;
      default:
        return; // already ending or ended
    }
  }

  async sendDtmf(digits: string, options: { durationMs?: number; gapMs?: number } = {}): Promise<void> {
    if (this.session.state !== SessionState.Established) {
      throw new Error(
        `${this.actor}: cannot send DTMF "${digits}" on call ${this.callId}: it is ${this.session.state}, not answered`,
      );
    }
    await this.rtp.sendDtmf(digits, options);
  }

  waitUntilAnswered(timeoutMs: number): Promise<void> {
    return this.events
      .waitFor((e) => e.kind === 'answered' || e.kind === 'rejected' || e.kind === 'ended', {
        awaited: `call ${this.callId} on ${this.actor} to be answered`,
        timeoutMs,
        lookAt: 'the SIP messages of this call in the evidence',
      })
      .then((event) => {
        if (event.kind !== 'answered') {
          throw new Error(
            `${this.actor}: call ${this.callId} was ${event.kind}${event.status ? ` with ${event.status}` : ''}${event.reason ? ` ${event.reason}` : ''} instead of being answered`,
          );
        }
      });
  }

  waitUntilEnded(timeoutMs: number): Promise<CallEvent> {
    return this.events.waitFor((e) => e.kind === 'ended' || e.kind === 'rejected', {
      awaited: `call ${this.callId} on ${this.actor} to end`,
      timeoutMs,
      lookAt: 'the SIP messages of this call (a BYE and its 200) in the evidence',
    });
  }

  // ---- sip.js callbacks (called by SipPhone) -----------------------------------------------

  /** @internal Closes the call's media socket (the phone is stopping). */
  releaseMedia(): void {
    this.media.handlerFor(this.session)?.close();
  }

  /** @internal */
  onProvisional(response: Core.IncomingResponse): void {
    const { statusCode, reasonPhrase } = response.message;
    if (statusCode === 100) return; // hop-by-hop, says nothing about the callee
    if (statusCode === 180) this.state = this.state === 'calling' ? 'ringing' : this.state;
    this.report({
      kind: statusCode === 180 ? 'ringing' : 'progress',
      status: statusCode,
      reason: reasonPhrase,
    });
  }

  /** @internal */
  onFinalFailure(response: Core.IncomingResponse): void {
    const { statusCode, reasonPhrase } = response.message;
    this.finalStatus = statusCode;
    this.finalReason = reasonPhrase;
    if (statusCode === 487 && this.localHangupRequested) return; // our own CANCEL: reported as ended
    this.state = 'rejected';
    const retryAfter = response.message.getHeader('Retry-After');
    const warning = response.message.getHeader('Warning');
    this.report({
      kind: 'rejected',
      status: statusCode,
      reason: reasonPhrase,
      ...(retryAfter === undefined ? {} : { retryAfter }),
      ...(warning === undefined ? {} : { warning }),
    });
  }

  private onState(state: SessionState): void {
    if (state === SessionState.Established) {
      this.answeredAt = Date.now();
      this.state = 'answered';
      this.finalStatus = 200;
      this.report({ kind: 'answered', status: 200 });
      return;
    }
    if (state === SessionState.Terminated) {
      this.endedAt = Date.now();
      // sip.js terminates the session before it hands the final failure response to our request
      // delegate (same call stack): decide after it, so a 486 is reported as 'rejected'.
      queueMicrotask(() => this.onTerminated());
    }
  }

  private onTerminated(): void {
    if (this.state === 'rejected') return; // the rejection was the end
    this.endedBy = this.localHangupRequested ? 'local' : 'remote';
    const wasAnswered = this.answeredAt !== undefined;
    this.state = 'ended';
    this.report({
      kind: 'ended',
      by: this.endedBy,
      status: this.finalStatus,
      reason: wasAnswered ? 'hung up' : this.localHangupRequested ? 'cancelled' : 'never answered',
    });
  }

  private report(event: Omit<CallEvent, 'at'>): void {
    this.events.add({ ...event, at: Date.now() });
  }

  /** This call as an end-to-end attempt (reporting/attempts.ts `judgeCall`). */
  attemptOutcome(): EndOfAttempt {
    let received = 0;
    try {
      received = this.rtp.stats().received;
    } catch {
      // no media session: nothing was received
    }
    return judgeCall({
      actor: this.actor,
      answeredAt: this.answeredAt,
      endedAt: this.endedAt,
      received,
      finalStatus: this.state === 'rejected' ? this.finalStatus : undefined,
      finalReason: this.finalReason,
      givenUp: this.localHangupRequested && this.answeredAt === undefined,
    });
  }
}

/** SipPhone.stop() released everything, but something the platform should have answered went wrong. */
export class PhoneStopError extends Error {
  constructor(
    readonly actor: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${actor}: stopping the phone released everything, but ${problems.length} thing(s) went wrong:\n` +
        `${problems.map((problem) => `  - ${problem}`).join('\n')}\nLook at: the SIP messages of this phone in the evidence.`,
    );
    this.name = 'PhoneStopError';
  }
}

export class SipPhone {
  readonly actor: string;
  readonly incomingCalls = new Observed<PhoneCall>(
    (call) => `incoming call ${call.callId} from ${call.remoteIdentity.uri}`,
  );
  /** sip.js warnings and errors (dropped messages, transport failures): evidence for failures. */
  readonly diagnostics = new Observed<string>((line) => line);
  /** Every registration the registrar accepted, renewals included. */
  readonly registrations = new Observed<Registration>(
    (r) =>
      `registered for ${r.grantedSec ?? '?'} s (asked ${r.askedSec} s) at ${new Date(r.at).toISOString()}`,
  );
  autoAnswer: boolean;

  private readonly options: SipPhoneOptions;
  private readonly media: PlainRtpSdhFactory;
  private readonly userAgent: UserAgent;
  private registerer: Registerer | undefined;
  private plan: RegistrationPlan | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private readonly calls = new Set<PhoneCall>();
  private started = false;

  constructor(options: SipPhoneOptions) {
    this.options = options;
    this.actor = options.actor;
    this.autoAnswer = options.autoAnswer ?? false;
    const serverActor = options.serverActor ?? 'platform SIP';
    this.media = plainRtpSdhFactory({
      actor: options.actor,
      peerActor: serverActor,
      media: options.media,
      toneHz: options.toneHz,
    });
    const uri = UserAgent.makeURI(`sip:${options.username}@${options.domain}`);
    if (!uri)
      throw new Error(`${options.actor}: "sip:${options.username}@${options.domain}" is not a valid SIP URI`);

    const common: UserAgentOptions = {
      uri,
      authorizationUsername: options.username,
      authorizationPassword: options.password,
      displayName: options.displayName,
      contactName: options.username,
      sessionDescriptionHandlerFactory: this.media,
      userAgentString: 'phase2-acceptance phone (sip.js 0.21.2)',
      logBuiltinEnabled: false,
      logLevel: 'warn',
      logConnector: (level, category, _label, content) => {
        if (level !== 'warn' && level !== 'error') return;
        const line = `sip.js ${level} [${category}]: ${content}`;
        this.diagnostics.add(line);
        traffic.record({ protocol: 'SIP', from: this.actor, to: this.actor, summary: line });
      },
      delegate: { onInvite: (invitation) => this.onInvite(invitation) },
    };
    if (options.transport === 'udp') {
      if (!('host' in options.server))
        throw new Error(`${options.actor}: a UDP phone needs server {host, port}`);
      const transportOptions: UdpTransportOptions = {
        actor: options.actor,
        peerActor: serverActor,
        outboundProxy: options.server,
      };
      this.userAgent = new UserAgent({
        ...common,
        transportConstructor: UdpTransport,
        transportOptions,
        // The response check compares Via host with viaHost and wants no port there (FACTS §3):
        // the real address goes in the host, rport gets the port back to us.
        viaHost: '127.0.0.1',
        forceRport: true,
        contactParams: { transport: 'udp' },
      });
    } else {
      if (!('url' in options.server))
        throw new Error(`${options.actor}: a WebSocket phone needs server {url}`);
      const transportOptions: WsTransportOptions = {
        actor: options.actor,
        peerActor: serverActor,
        url: options.server.url,
      };
      this.userAgent = new UserAgent({
        ...common,
        transportConstructor: WsTransport,
        transportOptions,
        contactParams: { transport: 'ws' },
      });
    }
  }

  get isRegistered(): boolean {
    return this.registerer?.state === RegistererState.Registered;
  }

  /** Opens the transport (binds the UDP socket or connects the WebSocket). */
  async start(): Promise<void> {
    if (this.started) return;
    await this.userAgent.start();
    this.started = true;
    const transport = this.userAgent.transport;
    if (transport instanceof UdpTransport) {
      // The Contact must name the port we actually listen on (sip.js does not know it).
      this.userAgent.contact.uri.port = transport.localPort;
    }
  }

  /**
   * Registers and waits until the registrar accepted; rejects with the final status otherwise.
   * With a plan, the phone asks for that lifetime and renews it itself (or never): sip.js's own
   * renewal at 99 % of the lifetime leaves too thin a margin to tell a lapse from a late renewal.
   */
  async register(plan?: RegistrationPlan): Promise<void> {
    this.requireStarted('register');
    if (plan) {
      this.plan = plan;
      this.registerer = undefined;
    }
    const timeoutMs = this.options.requestTimeoutMs ?? 5000;
    const askedSec = this.plan?.expiresSec ?? this.options.registerExpiresSec ?? 600;
    const registerer = this.registerer ?? new Registerer(this.userAgent, { expires: askedSec });
    this.registerer = registerer;
    const aor = `sip:${this.options.username}@${this.options.domain}`;
    const onState = (state: RegistererState): void => {
      if (state === RegistererState.Registered) outcome.finish();
      if (state === RegistererState.Terminated)
        outcome.finish(new Error(`${this.actor}: registration of ${aor} ended before it was accepted`));
    };
    const outcome = settleOnce(
      timeoutMs,
      () =>
        new WaitTimeoutError(
          `Timed out after ${timeoutMs} ms waiting for the registrar to accept ${aor} from ${this.actor}. ` +
            `Last sip.js diagnostics: ${this.diagnostics.all().slice(-3).join(' | ') || 'none'}. Look at: the SIP messages (REGISTER and its responses) in the evidence.`,
        ),
      () => registerer.stateChange.removeListener(onState),
    );
    registerer.stateChange.addListener(onState);
    registerer
      .register({
        requestDelegate: {
          // A refresh of an existing registration changes no state: the 2xx itself ends the wait.
          onAccept: (response) => {
            const grantedSec = this.grantedExpires(response.message);
            this.registrations.add({ askedSec, grantedSec, at: Date.now() });
            if (this.plan) this.followPlan(registerer, grantedSec ?? askedSec);
            outcome.finish();
          },
          onReject: (response) => {
            const { statusCode, reasonPhrase } = response.message;
            outcome.finish(
              new Error(
                `${this.actor}: registration of ${aor} refused with ${statusCode} ${reasonPhrase} (credentials for user "${this.options.username}")`,
              ),
            );
          },
        },
      })
      .catch((error: unknown) =>
        outcome.finish(
          new Error(`${this.actor}: could not send REGISTER for ${aor}: ${(error as Error).message}`),
        ),
      );
    await outcome.promise;
  }

  /** The lifetime the registrar granted this phone's own Contact (RFC 3261 §10.2.4), else the Expires header. */
  private grantedExpires(message: Core.IncomingResponseMessage): number | undefined {
    const own = this.userAgent.contact.uri;
    for (const header of message.getHeaders('contact')) {
      const uri = UserAgent.makeURI(/<([^>]+)>/.exec(header)?.[1] ?? '');
      const expires = /;\s*expires=(\d+)/i.exec(header)?.[1];
      if (
        uri &&
        expires !== undefined &&
        uri.user === own.user &&
        uri.host === own.host &&
        uri.port === own.port
      )
        return Number(expires);
    }
    const header = message.getHeader('expires');
    return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  }

  /** After an accepted registration under a plan: renew at half the granted lifetime, or never. */
  private followPlan(registerer: Registerer, grantedSec: number): void {
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    this.renewalTimer = undefined;
    if (!this.plan?.renew) {
      // sip.js offers no switch for "never renew": its refresh timer is cleared by hand, as a phone
      // that lost its network would never send the refresh.
      (registerer as unknown as { clearTimers(): void }).clearTimers();
      return;
    }
    this.renewalTimer = setTimeout(() => {
      this.renewalTimer = undefined;
      if (this.registerer !== registerer || !this.started) return;
      this.register().catch((error: unknown) =>
        this.diagnostics.add(`renewing the registration failed: ${(error as Error).message}`),
      );
    }, grantedSec * 500);
  }

  /** Un-REGISTERs; rejects when the registrar refuses (any non-2xx) or does not answer in time. */
  async unregister(): Promise<void> {
    const registerer = this.registerer;
    if (!registerer || registerer.state !== RegistererState.Registered) return;
    const timeoutMs = this.options.requestTimeoutMs ?? 5000;
    // sip.js moves to Unregistered on any final response, refusals included, and only then calls
    // the request delegate (same call stack): the state alone decides only when no response does.
    const onState = (state: RegistererState): void => {
      if (state === RegistererState.Unregistered || state === RegistererState.Terminated)
        queueMicrotask(() => outcome.finish());
    };
    const outcome = settleOnce(
      timeoutMs,
      () =>
        new WaitTimeoutError(
          `Timed out after ${timeoutMs} ms waiting for the registrar to accept the un-REGISTER of ${this.actor}. Look at: the SIP messages in the evidence.`,
        ),
      () => registerer.stateChange.removeListener(onState),
    );
    const refused = (response: Core.IncomingResponse): void =>
      outcome.finish(
        new Error(
          `${this.actor}: un-REGISTER refused with ${response.message.statusCode} ${response.message.reasonPhrase}`,
        ),
      );
    registerer.stateChange.addListener(onState);
    registerer
      .unregister({
        requestDelegate: {
          onAccept: () => outcome.finish(),
          onReject: refused,
          onRedirect: refused,
        },
      })
      .catch((error: unknown) =>
        outcome.finish(new Error(`${this.actor}: could not send un-REGISTER: ${(error as Error).message}`)),
      );
    await outcome.promise;
  }

  /**
   * Calls a number ("+15551230001"), a username ("bob") or a full SIP URI. Resolves as soon as
   * the INVITE is sent; the returned call reports progress through its events.
   */
  async call(target: string, options: { extraHeaders?: string[] } = {}): Promise<PhoneCall> {
    this.requireStarted('call');
    const uriText = /^sips?:/i.test(target) ? target : `sip:${target}@${this.options.domain}`;
    const uri = UserAgent.makeURI(uriText);
    if (!uri) throw new Error(`${this.actor}: cannot call "${target}": "${uriText}" is not a valid SIP URI`);
    const inviter = new Inviter(this.userAgent, uri, { extraHeaders: options.extraHeaders });
    const call = this.track(
      new PhoneCall(inviter, this.media, this.actor, 'outgoing', this.options.requestTimeoutMs ?? 5000),
      inviter,
    );
    await inviter.invite({
      requestDelegate: {
        onProgress: (response) => call.onProvisional(response),
        onReject: (response) => call.onFinalFailure(response),
      },
    });
    attempts.begin({
      channel: 'call',
      key: call.callId,
      name: `call from ${this.actor} to ${target}`,
      judge: () => call.attemptOutcome(),
    });
    return call;
  }

  /**
   * Hangs up every call, unregisters if registered, closes the transport and every media socket.
   * Everything is released whatever goes wrong; then, if anything did (a BYE unanswered, an
   * un-REGISTER refused), it rejects with a PhoneStopError listing each problem, so the
   * scenario's cleanup fails visibly instead of hiding a platform fault.
   */
  async stop(): Promise<void> {
    const problems: string[] = [];
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    this.renewalTimer = undefined;
    this.plan = undefined;
    for (const call of [...this.calls]) {
      await call
        .hangup(1000)
        .catch((error: unknown) => problems.push(`hangup of ${call.callId}: ${(error as Error).message}`));
    }
    await this.unregister().catch((error: unknown) => problems.push((error as Error).message));
    if (this.started) {
      await this.userAgent
        .stop()
        .catch((error: unknown) => problems.push(`stop: ${(error as Error).message}`));
      await this.userAgent.transport
        .dispose()
        .catch((error: unknown) => problems.push(`transport: ${(error as Error).message}`));
      this.started = false;
    }
    // sip.js closes a session's media when it terminates; a call it could not end keeps its socket.
    for (const call of this.calls) call.releaseMedia();
    this.calls.clear();
    for (const problem of problems) {
      this.diagnostics.add(problem);
      traffic.record({
        protocol: 'SIP',
        from: this.actor,
        to: this.actor,
        summary: `problem while stopping the phone: ${problem}`,
      });
    }
    if (problems.length > 0) throw new PhoneStopError(this.actor, problems);
  }

  private onInvite(invitation: Invitation): void {
    const call = this.track(
      new PhoneCall(invitation, this.media, this.actor, 'incoming', this.options.requestTimeoutMs ?? 5000),
      invitation,
    );
    this.incomingCalls.add(call);
    if (this.autoAnswer) {
      call.answer().catch((error: unknown) => {
        this.diagnostics.add(`auto-answer of ${call.callId} failed: ${(error as Error).message}`);
      });
    }
  }

  private track(call: PhoneCall, session: Session): PhoneCall {
    this.calls.add(call);
    session.stateChange.addListener((state) => {
      if (state === SessionState.Terminated) this.calls.delete(call);
    });
    return call;
  }

  private requireStarted(action: string): void {
    if (!this.started) throw new Error(`${this.actor}: cannot ${action} before start()`);
  }
}

/**
 * A wait settled exactly once: by finish() (resolve), finish(error) (reject) or the timeout,
 * whichever comes first; cleanup runs once either way.
 */
function settleOnce(
  timeoutMs: number,
  timeoutError: () => Error,
  cleanup: () => void,
): { promise: Promise<void>; finish: (error?: Error) => void } {
  let settle!: (error?: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    let settled = false;
    settle = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(timeoutError()), timeoutMs);
  });
  return { promise, finish: (error) => settle(error) };
}
