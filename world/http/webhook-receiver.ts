import http from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Observed, WaitTimeoutError, type WaitOptions } from '../observed';
import { traffic } from '../traffic-log';
import { redactHeaders, redactText } from './redact';

/** One event as the customer's application sees it: verified, once, however often it was delivered. */
export interface ReceivedWebhook {
  eventId: string;
  type: string;
  data: unknown;
  /** When the platform says the event happened. */
  createdAt: string;
  /** When it first reached the application (suite clock). */
  receivedAt: string;
  path: string;
  /** Verified requests that carried this event, including answered-with-failure ones and duplicates. */
  attempts: number;
  /** When each of those requests arrived (suite clock, ms): the sender's retry pauses lie between them. */
  attemptsAt: number[];
  /** Verified re-deliveries after it was accepted (an at-least-once sender's duplicates). */
  duplicates: number;
}

export interface RejectedWebhook {
  path: string;
  reason: string;
  at: string;
}

export interface WebhookEndpoint {
  name: string;
  /** Unique per endpoint() call: filters events and rejections to one customer in one scenario. */
  path: string;
  url: string;
  setSecret(secret: string): void;
  /** Answer the next `count` verified deliveries with this status, or never ('timeout': the sender must give up). */
  failNext(count: number, status: WebhookFailure): void;
}

export interface WebhookReceiverOptions {
  /** Address to listen on; loopback by default. */
  host?: string;
  /** Host the platform uses to reach this receiver (remote targets); defaults to the listen address. */
  publicHost?: string;
  /** Accepted clock difference for Phase2-Signature timestamps; default 5 minutes. */
  toleranceMs?: number;
}

/**
 * phase2: signed JSON events (the platform's own webhooks). jasmin: Jasmin's HTTP DLR callback
 * (form fields, unsigned), which the receiver must acknowledge with a body of "ACK/Jasmin".
 */
export type WebhookDialect = 'phase2' | 'jasmin';

/** How a delivery is made to fail: an HTTP status, no answer, or (Jasmin) 200 without ACK/Jasmin. */
export type WebhookFailure = number | 'timeout' | 'no-ack';

/** A request carrying an event the endpoint had already accepted (an at-least-once sender's duplicate). */
export interface Redelivery {
  eventId: string;
  type: string;
  path: string;
  at: number;
  /** Which request for this event it was (1-based). */
  attempt: number;
}

interface EndpointState {
  name: string;
  dialect: WebhookDialect;
  secret?: string;
  failures: WebhookFailure[];
}

const JASMIN_ACK = 'ACK/Jasmin';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The customers' webhook endpoints: one HTTP server, one path per endpoint. It does what a
 * careful application does: verifies Phase2-Signature (HMAC-SHA256, constant-time compare,
 * timestamp tolerance), answers 401 to anything unverified, and hands each event to the
 * application once, deduplicated by event id. It can also misbehave on demand (failNext).
 */
export class WebhookReceiver {
  readonly events = new Observed<ReceivedWebhook>(
    (e) => `${e.type} ${e.eventId} at ${e.path} (attempts ${e.attempts})`,
  );
  readonly rejected = new Observed<RejectedWebhook>((r) => `${r.path}: ${r.reason}`);
  /** Each verified request that carried an event the application had already accepted, as it arrived. */
  readonly redeliveries = new Observed<Redelivery>(
    (r) =>
      `${r.type} ${r.eventId} at ${r.path} again at ${new Date(r.at).toISOString()} (request ${r.attempt})`,
  );
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly accepted = new Map<string, ReceivedWebhook>();
  private readonly attempts = new Map<string, number[]>();
  private readonly server: http.Server;
  private readonly toleranceMs: number;
  private baseUrl?: string;

  constructor(private readonly options: WebhookReceiverOptions = {}) {
    this.toleranceMs = options.toleranceMs ?? 5 * 60_000;
    this.server = http.createServer((request, response) => this.handle(request, response));
  }

  async start(): Promise<void> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://${this.options.publicHost ?? host}:${port}`;
  }

  endpoint(name: string, dialect: WebhookDialect = 'phase2'): WebhookEndpoint {
    if (!this.baseUrl)
      throw new Error('WebhookReceiver.endpoint() before start(): start the receiver first.');
    const slug =
      name
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 40) || 'endpoint';
    const path = `/hooks/${slug}/${randomBytes(6).toString('hex')}`;
    const state: EndpointState = { name, dialect, failures: [] };
    this.endpoints.set(path, state);
    return {
      name,
      path,
      url: `${this.baseUrl}${path}`,
      setSecret: (secret) => {
        state.secret = secret;
      },
      failNext: (count, status) => this.failNextAt(path, count, status),
    };
  }

  /** failNext for an endpoint known by its path (a scenario keeps the path, not the handle). */
  failNextAt(path: string, count: number, status: WebhookFailure): void {
    const state = this.endpoints.get(path);
    if (!state) throw new Error(`No webhook endpoint at ${path}.`);
    if (status === 'no-ack' && state.dialect !== 'jasmin')
      throw new Error('"no-ack" is a failure of the Jasmin dialect only (ACK/Jasmin).');
    for (let i = 0; i < count; i += 1) state.failures.push(status);
  }

  /**
   * Waits for a verified event at one endpoint. When none comes, the failure also lists the
   * requests this endpoint refused (bad signature, stale timestamp): usually the real cause.
   */
  async waitForEvent(
    path: string,
    predicate: (event: ReceivedWebhook) => boolean,
    options: WaitOptions<ReceivedWebhook>,
  ): Promise<ReceivedWebhook> {
    const relevant = options.relevant;
    try {
      return await this.events.waitFor((event) => event.path === path && predicate(event), {
        ...options,
        // Other endpoints' events belong to other scenarios: never "arrived instead" here.
        relevant: (event) => event.path === path && (relevant?.(event) ?? true),
      });
    } catch (error) {
      const refused = this.rejected.filter((r) => r.path === path);
      if (!(error instanceof WaitTimeoutError) || refused.length === 0) throw error;
      const reasons = refused.slice(-5).map((r) => `  - ${r.at} ${r.reason}`);
      // The likely cause goes on the first line: it is the line a summary (or a sabotage run) shows.
      const [first, ...rest] = error.message.split('\n');
      throw new WaitTimeoutError(
        [
          `${first} Meanwhile the endpoint refused ${refused.length} request(s) that did not verify (signature or timestamp): ${refused.at(-1)?.reason ?? ''}`,
          ...rest,
          'Refused:',
          ...reasons,
        ].join('\n'),
      );
    }
  }

  /**
   * Retires an endpoint (its scenario is over): later deliveries to it get 404, and its events,
   * rejections and state are forgotten so a long-lived receiver does not grow or mislead.
   * Returns whether the endpoint existed.
   */
  removeEndpoint(path: string): boolean {
    const existed = this.endpoints.delete(path);
    this.events.forget((event) => event.path === path);
    this.rejected.forget((rejection) => rejection.path === path);
    const prefix = `${path}|`;
    for (const key of [...this.accepted.keys()]) if (key.startsWith(prefix)) this.accepted.delete(key);
    for (const key of [...this.attempts.keys()]) if (key.startsWith(prefix)) this.attempts.delete(key);
    return existed;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections(); // includes requests held open by failNext('timeout')
    });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let ended = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('error', (error) => {
      if (!ended) this.reject(path, `request failed while reading: ${error.message}`);
    });
    request.on('end', () => {
      ended = true;
      if (tooLarge) return this.answer(request, response, path, '', 413, `body over ${MAX_BODY_BYTES} bytes`);
      try {
        this.receive(request, response, path, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        // A bug here must show up as evidence, not take down the suite's receiver.
        this.answer(request, response, path, '', 500, `receiver error: ${(error as Error).message}`);
      }
    });
  }

  private receive(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    path: string,
    body: string,
  ): void {
    if (request.method !== 'POST')
      return this.answer(request, response, path, body, 405, `method ${request.method} (webhooks are POSTs)`);
    const endpoint = this.endpoints.get(path);
    if (!endpoint) return this.answer(request, response, path, body, 404, 'no endpoint at this path');
    if (endpoint.dialect === 'jasmin') return this.receiveJasmin(request, response, path, body, endpoint);

    const verdict = this.verify(endpoint, header(request, 'phase2-signature'), body);
    if (verdict) return this.answer(request, response, path, body, 401, verdict, endpoint.name);

    let event: { id?: unknown; type?: unknown; createdAt?: unknown; data?: unknown };
    try {
      event = JSON.parse(body) as typeof event;
    } catch {
      return this.answer(request, response, path, body, 400, 'body is not JSON', endpoint.name);
    }
    if (typeof event.id !== 'string' || typeof event.type !== 'string') {
      return this.answer(
        request,
        response,
        path,
        body,
        400,
        'body lacks a string id and type',
        endpoint.name,
      );
    }
    if (
      header(request, 'phase2-event-id') !== event.id ||
      header(request, 'phase2-event-type') !== event.type
    ) {
      return this.answer(
        request,
        response,
        path,
        body,
        400,
        'Phase2-Event-Id/Phase2-Event-Type headers differ from the body',
        endpoint.name,
      );
    }

    this.deliver(request, response, path, body, endpoint, {
      eventId: event.id,
      type: event.type,
      data: event.data,
      createdAt: typeof event.createdAt === 'string' ? event.createdAt : '',
    });
  }

  /**
   * A Jasmin DLR callback: form fields id, message_status and level at least; one report per
   * message id and level (Jasmin re-sends the same one until it reads ACK/Jasmin).
   */
  private receiveJasmin(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    path: string,
    body: string,
    endpoint: EndpointState,
  ): void {
    const form = new URLSearchParams(body);
    const id = form.get('id');
    const level = form.get('level');
    if (!/application\/x-www-form-urlencoded/i.test(header(request, 'content-type') ?? ''))
      return this.answer(request, response, path, body, 415, 'a Jasmin DLR is a form POST', endpoint.name);
    if (!id || !form.get('message_status') || (level !== '1' && level !== '2'))
      return this.answer(
        request,
        response,
        path,
        body,
        400,
        'lacks id, message_status or level 1|2',
        endpoint.name,
      );
    this.deliver(
      request,
      response,
      path,
      body,
      endpoint,
      {
        eventId: `${id}#${level}`,
        type: `jasmin.level${level}`,
        data: Object.fromEntries(form),
        createdAt: '',
      },
      JASMIN_ACK,
    );
  }

  /**
   * A verified, well-formed delivery of one event, in either dialect: the attempt is counted, a
   * simulated failure applied if one is due, and otherwise the event reaches the application once
   * (a re-delivery of a known event id is acknowledged again and counted as a duplicate).
   */
  private deliver(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    path: string,
    body: string,
    endpoint: EndpointState,
    event: { eventId: string; type: string; data: unknown; createdAt: string },
    acknowledgement = 'ok',
  ): void {
    const key = `${path}|${event.eventId}`;
    const attemptsAt = [...(this.attempts.get(key) ?? []), Date.now()];
    this.attempts.set(key, attemptsAt);
    const what = `${event.type} ${event.eventId}`;
    const failure = endpoint.failures.shift();
    if (failure === 'timeout') {
      // Never answered: the sender's timeout must fire. stop() closes it if the sender does not.
      this.log(request, path, body, `no answer (simulated timeout) for ${what}`, endpoint.name);
      return;
    }
    if (failure === 'no-ack')
      return this.answer(
        request,
        response,
        path,
        body,
        200,
        `answered without ${JASMIN_ACK} (simulated) for ${what}`,
        endpoint.name,
        false,
        'ok',
      );
    if (failure !== undefined)
      return this.answer(
        request,
        response,
        path,
        body,
        failure,
        `simulated failure for ${what}`,
        endpoint.name,
        false,
      );

    const known = this.accepted.get(key);
    if (known) {
      known.attempts = attemptsAt.length;
      known.attemptsAt = attemptsAt;
      known.duplicates += 1;
      this.redeliveries.add({
        eventId: event.eventId,
        type: event.type,
        path,
        at: attemptsAt[attemptsAt.length - 1] ?? Date.now(),
        attempt: attemptsAt.length,
      });
    } else {
      const received: ReceivedWebhook = {
        ...event,
        receivedAt: new Date().toISOString(),
        path,
        attempts: attemptsAt.length,
        attemptsAt,
        duplicates: 0,
      };
      this.accepted.set(key, received);
      this.events.add(received);
    }
    this.answer(
      request,
      response,
      path,
      body,
      200,
      known ? `duplicate of ${event.eventId} (acknowledged again)` : what,
      endpoint.name,
      false,
      acknowledgement,
    );
  }

  /** Returns why the signature does not verify, or undefined when it does. */
  private verify(endpoint: EndpointState, signature: string | undefined, body: string): string | undefined {
    if (!signature) return 'missing Phase2-Signature header';
    if (!endpoint.secret) return 'no secret set for this endpoint (call setSecret with the webhook secret)';
    const parts = signature.split(',').map((part) => part.trim().split('='));
    const timestamp = parts.find(([name]) => name === 't')?.[1];
    const signatures = parts
      .filter(([name, value]) => name === 'v1' && value !== undefined)
      .map(([, value]) => value);
    if (!timestamp || !/^\d+$/.test(timestamp) || signatures.length === 0)
      return `malformed Phase2-Signature "${signature.replace(/v1=[^,]*/g, 'v1=***')}"`;
    const skew = Math.abs(Date.now() - Number(timestamp));
    if (skew > this.toleranceMs)
      return `signature timestamp ${timestamp} is ${skew} ms from now (tolerance ${this.toleranceMs} ms)`;
    const expected = createHmac('sha256', endpoint.secret).update(`${timestamp}.${body}`).digest();
    const matches = signatures.some((hex) => {
      const given = /^[0-9a-f]+$/i.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    return matches ? undefined : 'signature does not match the body and the endpoint secret';
  }

  private answer(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    path: string,
    body: string,
    status: number,
    note: string,
    endpointName?: string,
    rejection = true,
    replyBody = status === 200 ? 'ok' : note,
  ): void {
    if (rejection) this.reject(path, note);
    this.log(request, path, body, `${status} ${note}`, endpointName);
    response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(replyBody);
  }

  private reject(path: string, reason: string): void {
    this.rejected.add({ path, reason, at: new Date().toISOString() });
  }

  private log(
    request: http.IncomingMessage,
    path: string,
    body: string,
    outcome: string,
    endpointName?: string,
  ): void {
    traffic.record({
      protocol: 'WEBHOOK',
      from: 'platform webhooks',
      to: endpointName ? `webhook ${endpointName}` : 'webhook receiver',
      summary: `${request.method} ${path} → ${outcome}`,
      detail: [
        `${request.method} ${path}`,
        ...redactHeaders(request.headers),
        '',
        redactText(body),
        '',
        `→ ${outcome}`,
      ].join('\n'),
    });
  }
}

function header(request: http.IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
