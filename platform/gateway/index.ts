import http from 'node:http';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import type { RoleDeps, RunningRole } from '../role';
import type { Db } from '../store/store';
import { relayDescription } from '../config';
import { QuotaExceededError, ServiceError, ValidationError } from '../errors';
import type { Caller, CoreServices } from '../core/services';
import type { KeyIdentity } from '../core/identity';
import type { GatewayPlugin } from './plugins';
import { isStoreUnavailable, problem, ProblemError, type Problem } from './problems';
import {
  compileRoutes,
  matchRoute,
  routeTable,
  type CompiledRoute,
  type Reply,
  type RouteContext,
} from './routes';
import { RequestLog } from './request-log';
import { RateLimiting } from './rate-limiting';
import { StoreHealth } from './store-health';
import { auditRequest, resourceBefore } from './audit-hook';
import {
  listAuditEvents,
  parseAuditFilter,
  restoreAuditEntry,
  tamperWithAuditEntry,
  verifyAuditChain,
} from '../core/audit';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKeys, idempotencyKeyOf, requestFingerprint } from './idempotency';

export type { GatewayPlugin, PluginExit, PluginRequest } from './plugins';
export type { RouteDefinition } from './routes';
export type { RequestRecord } from './request-log';
export type { RateLimits, CustomerRateLimits } from './rate-limiting';

/** Kong's client_max_body_size in spirit: larger bodies get 413 before any service sees them. */
export const MAX_BODY_BYTES = 1024 * 1024;

export const CONTRACT_FILE = resolve(__dirname, '../../contracts/platform-api.yaml');

export interface GatewayOptions {
  /** More Kong access-phase plugins, run in order after key-auth and the gateway's rate limiting. */
  plugins?: GatewayPlugin[];
  /** The gateway's clock (epoch ms): rate-limit windows, idempotency key ages, store back-off. Tests freeze it. */
  now?: () => number;
}

/**
 * The timers a test or an operator needs to reason about business durations (how long a phone
 * rings before the platform gives up, …), as configured: GET /ops/v1/settings.
 */
function effectiveSettings(config: RoleDeps['config']): unknown {
  return {
    sip: {
      noAnswerTimeoutMs: config.sip.noAnswerTimeoutMs,
      t1Ms: config.sip.t1Ms,
      registration: {
        defaultExpiresSeconds: config.sip.defaultExpiresSeconds,
        minExpiresSeconds: config.sip.minExpiresSeconds,
        maxExpiresSeconds: config.sip.maxExpiresSeconds,
      },
    },
    media: {
      relay: relayDescription(config),
      inactivityTimeoutMs: config.media.inactivityTimeoutMs,
      heldInactivityTimeoutMs: config.media.heldInactivityTimeoutMs,
      statsFlushMs: config.media.statsFlushMs,
    },
    webhooks: {
      retryBaseMs: config.webhooks.retryBaseMs,
      maxAttempts: config.webhooks.maxAttempts,
      timeoutMs: config.webhooks.timeoutMs,
    },
    smsc: {
      responseTimeoutMs: config.smsc.responseTimeoutMs,
      lateResponseGraceMs: config.smsc.lateResponseGraceMs,
    },
    voice: config.voice,
    campaigns: config.campaigns,
    api: {
      rateLimits: config.api.rateLimits,
      idempotencyKeyTtlMs: config.api.idempotencyKeyTtlMs,
      idempotencyLeaseMs: config.api.idempotencyLeaseMs,
      storeRetryAfterSeconds: config.api.storeRetryAfterSeconds,
    },
    security: {
      identity: config.security.identity,
      sipFraud: config.security.sipFraud,
      spam: config.security.spam,
      limits: config.security.limits,
    },
  };
}

/** Kong key-auth's default key name, for the header and the query string alike. */
const API_KEY_NAME = 'apikey';

/** Kong's own error bodies: gateway-made responses use `{message}`, never problem+json. */
const KONG = {
  noKey: 'No API key found in request',
  // Kong's key_in_query=true is turned off: a key in a URL ends up in proxies', browsers' and
  // servers' logs, so it is refused (not silently ignored) and the answer says where keys go.
  keyInQuery: `API keys are not accepted in the query string (URLs end up in logs): send the key in the ${API_KEY_NAME} header`,
  badKey: 'Invalid authentication credentials',
  noRoute: 'no Route matched with those values',
};

/**
 * The API role: a Kong-like gateway (key-auth, request ids, plugin seam) in front of the core
 * services it is handed (platform/index.ts builds them; the gateway builds none).
 */
export async function startGateway(
  deps: RoleDeps,
  core: CoreServices,
  options: GatewayOptions = {},
): Promise<RunningRole<{ apiUrl: string }>> {
  const { config, log } = deps;
  const bookkeeping = openBookkeeping(deps);
  const requestLog = new RequestLog(bookkeeping);
  const now = options.now ?? Date.now;
  const store = new StoreHealth(now, config.api.storeRetryAfterSeconds * 1_000);
  const rateLimiting = new RateLimiting(bookkeeping, config.api.rateLimits, now, store);
  const idempotency = new IdempotencyKeys(
    bookkeeping,
    config.api.idempotencyKeyTtlMs,
    config.api.idempotencyLeaseMs,
    now,
  );
  const routes = compileRoutes(
    routeTable({
      services: core,
      version: config.version,
      settings: () => effectiveSettings(config),
      contractYaml: readFileSync(CONTRACT_FILE, 'utf8'),
      findRequest: (id) => requestLog.find(id),
      audit: {
        list: (query, customerId) =>
          listAuditEvents(deps.db, {
            ...parseAuditFilter(query, customerId === undefined),
            ...(customerId ? { customerId } : {}),
          }),
        verify: () => verifyAuditChain(deps.db),
        drills: config.api.referenceDrills === true,
        tamper: (customerId) => tamperWithAuditEntry(deps.db, customerId),
        restore: (tampered) => restoreAuditEntry(deps.db, tampered),
      },
      rateLimits: {
        get: (id) => rateLimiting.getLimits(id),
        set: (id, body) => rateLimiting.setLimits(id, body),
        reset: (id) => rateLimiting.resetLimits(id),
      },
      webhookSecretOverlapMs: config.security.identity.webhookSecretOverlapMs,
    }),
  );
  // Kong's rate limiting first, as its priority puts it; a test's own plugins after it.
  const plugins: GatewayPlugin[] = [rateLimiting, ...(options.plugins ?? [])];
  const retryAfter = String(config.api.storeRetryAfterSeconds);
  const server = http.createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000 },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        // Last resort: handle() maps every error itself, so reaching here means writing the response failed.
        log(
          'gateway',
          `could not answer ${request.method} ${loggableTarget(request.url)}: ${(error as Error).stack ?? String(error)}`,
        );
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    },
  );
  // Malformed HTTP never reaches handle(): answer it like any server and keep running.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code !== 'ECONNRESET' && socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = acceptableRequestId(request.headers['x-request-id']) ?? randomUUID();
    response.setHeader('X-Request-Id', requestId);
    response.setHeader('X-Kong-Request-Id', randomBytes(16).toString('hex'));
    const receivedAt = new Date().toISOString();
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://gateway.invalid');
    let outcome = '';
    const seen: RequestFacts['seen'] = { caller: null, route: undefined, params: {}, before: null };
    let answer: Answer;
    try {
      answer = await answerTo(request, response, { method, url, requestId, started, seen });
    } catch (error) {
      const { problem: body, headers } = toProblem(error, url.pathname, requestId, retryAfter);
      if (body.status === 500) {
        outcome = ` ${(error as Error).stack ?? String(error)}`;
      }
      if (isStoreUnavailable(error)) {
        store.failed();
        outcome = ` (store unavailable: ${(error as Error).message})`;
      }
      answer = problemAnswer(body, headers);
    }
    const durationMs = elapsedMs(started);
    const { caller } = seen;
    const unaudited = auditRequest(deps.db, {
      method,
      path: url.pathname,
      requestId,
      sourceAddress: request.socket.remoteAddress ?? null,
      caller,
      route: seen.route,
      params: seen.params,
      before: seen.before,
      status: answer.status,
      responseText: answer.text,
      replayed: answer.headers['Idempotent-Replayed'] === 'true',
    });
    if (unaudited) {
      log('gateway', `AUDIT ENTRY LOST for request ${requestId}: ${String(unaudited)}`);
      if (isStoreUnavailable(unaudited)) store.failed();
    }
    // Logged before the answer is written: a client that has its answer finds the request on any
    // gateway node, even if this one dies the next instant.
    const logged = requestLog.add(
      {
        requestId,
        method,
        path: url.pathname,
        status: answer.status,
        role: caller?.role ?? 'anonymous',
        customerId: caller?.role === 'customer' ? caller.customerId : null,
        durationMs,
        receivedAt,
      },
      store.down(),
    );
    if (logged.error) {
      log('gateway', `request log kept in memory until the store is back: ${String(logged.error)}`);
      if (isStoreUnavailable(logged.error)) store.failed();
    }
    sendAnswer(response, answer);
    log(
      'gateway',
      `${method} ${loggableTarget(request.url)} → ${answer.status} (${durationMs} ms) request ${requestId}${outcome}`,
    );
  }

  /** Key-auth, plugins, access, body, then the route (idempotently when asked): the answer to send. */
  async function answerTo(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    { method, url, requestId, started, seen }: RequestFacts,
  ): Promise<Answer> {
    const matched = matchRoute(routes, method, url.pathname);
    // Kong routes by path first: an unknown path is Kong's 404 before any plugin runs.
    if (!matched.route && matched.allowed.length === 0) return kong(404, KONG.noRoute);

    // Key-auth runs before the method is judged, so an unauthenticated caller learns nothing
    // about which methods a protected path supports.
    const needsKey = matched.route ? matched.route.access !== 'public' : !matched.allPublic;
    let caller: Caller | null = null;
    let apiKey: string | undefined;
    if (needsKey) {
      if (url.searchParams.has(API_KEY_NAME))
        return kong(401, KONG.keyInQuery, { 'WWW-Authenticate': 'Key realm="kong"' });
      const key = apiKeyOf(request);
      if (!key) return kong(401, KONG.noKey, { 'WWW-Authenticate': 'Key realm="kong"' });
      const identity: KeyIdentity | undefined = isOperatorKey(key, config.api.adminApiKey)
        ? { caller: { role: 'operator' }, access: 'full', suspended: false }
        : core.identity.identify(key);
      if (!identity) return kong(401, KONG.badKey, { 'WWW-Authenticate': 'Key realm="kong"' });
      caller = identity.caller;
      seen.caller = caller;
      apiKey = key;
      // The key is genuine, so saying why it is refused leaks nothing an attacker lacks.
      if (identity.suspended)
        throw new ProblemError(
          problem('forbidden', 'this customer is suspended by the platform operator', {
            instance: url.pathname,
          }),
        );
      if (identity.access === 'read-only' && method !== 'GET' && method !== 'HEAD')
        throw new ProblemError(
          problem('forbidden', 'this API key is read-only: it may read but not send or change anything', {
            instance: url.pathname,
          }),
        );
      for (const plugin of plugins) {
        const verdict = plugin.access({ method, path: url.pathname, apiKey: key, caller, requestId });
        for (const [name, value] of Object.entries(verdict?.headers ?? {})) response.setHeader(name, value);
        if (verdict?.exit) return kong(verdict.exit.status, verdict.exit.body.message, verdict.exit.headers);
      }
    }

    if (!matched.route) {
      throw new ProblemError(
        problem('methodNotAllowed', `${url.pathname} supports ${matched.allowed.join(', ')}`, {
          instance: url.pathname,
        }),
        { Allow: matched.allowed.join(', ') },
      );
    }
    const { route, params } = matched;
    seen.route = route;
    seen.params = params;
    if (caller) checkAccess(route, caller, url.pathname);

    // While the store is down, a request that writes is refused at once (see StoreHealth);
    // reads go on, since a locked store still reads.
    if (store.down() && method !== 'GET' && method !== 'HEAD')
      throw new ProblemError(
        problem('storeUnavailable', `the platform's database did not answer; retry in ${retryAfter} s`, {
          instance: url.pathname,
        }),
        { 'Retry-After': retryAfter },
      );
    const sentKey = route.idempotent ? idempotencyKeyOf(request.headers[IDEMPOTENCY_KEY_HEADER]) : {};
    if (sentKey.error)
      throw new ProblemError(problem('idempotencyKeyInvalid', sentKey.error, { instance: url.pathname }));
    const body = route.jsonBody
      ? await readJsonBody(request, url.pathname)
      : route.csvBody
        ? await readCsvBody(request, url.pathname)
        : undefined;
    const context: RouteContext = {
      caller,
      params,
      query: withoutApiKey(url.searchParams),
      body,
      apiKey,
      origin: { requestId, sourceAddress: request.socket.remoteAddress ?? null },
    };
    if (method !== 'GET' && method !== 'HEAD') seen.before = await resourceBefore(routes, route, context);
    const upstreamStarted = process.hrtime.bigint();
    const answer =
      sentKey.key !== undefined && caller
        ? runIdempotently(route, context, caller, sentKey.key, method, url.pathname)
        : replyAnswer(await route.handle(context));
    response.setHeader('X-Kong-Upstream-Latency', String(elapsedMs(upstreamStarted)));
    response.setHeader(
      'X-Kong-Proxy-Latency',
      String(Math.max(0, elapsedMs(started) - elapsedMs(upstreamStarted))),
    );
    return answer;
  }

  /**
   * A creating POST sent with an Idempotency-Key: the first request runs, and its writes commit
   * in one transaction with the response kept for the key; its retries get that response again.
   */
  function runIdempotently(
    route: CompiledRoute,
    context: RouteContext,
    caller: Caller,
    key: string,
    method: string,
    path: string,
  ): Answer {
    const scope = caller.role === 'customer' ? caller.customerId : 'operator';
    const decision = idempotency.begin(
      scope,
      key,
      requestFingerprint(method, path, context.query, context.body),
    );
    if (decision.kind === 'replay') {
      const { status, contentType, body } = decision.response;
      return {
        status,
        headers: { 'Idempotent-Replayed': 'true' },
        contentType: contentType ?? undefined,
        text: body ?? undefined,
      };
    }
    if (decision.kind === 'mismatch') {
      throw new ProblemError(
        problem('idempotencyKeyReused', `Idempotency-Key ${key} was first sent with another request`, {
          instance: path,
          errors: [
            {
              field: 'Idempotency-Key',
              message:
                'was first used with a different method, path or body: send a new key for a new request',
            },
          ],
        }),
      );
    }
    if (decision.kind === 'in-progress') {
      throw new ProblemError(
        problem(
          'idempotencyKeyInProgress',
          `the first request with Idempotency-Key ${key} has not finished; retry once it has`,
          { instance: path },
        ),
        { 'Retry-After': '1' },
      );
    }
    try {
      return deps.db
        .transaction(() => {
          const reply = route.handle(context);
          if (reply instanceof Promise)
            throw new Error(
              `${route.method} ${route.path} is marked idempotent but its handler is asynchronous`,
            );
          const answer = replyAnswer(reply);
          const kept = idempotency.complete(deps.db, scope, key, decision.claim, {
            status: answer.status,
            contentType: answer.contentType ?? null,
            body: answer.text ?? null,
          });
          if (!kept)
            throw new ProblemError(
              problem(
                'idempotencyKeyInProgress',
                `a retry with Idempotency-Key ${key} took over this request`,
                {
                  instance: path,
                },
              ),
              { 'Retry-After': '1' },
            );
          return answer;
        })
        .immediate();
    } catch (error) {
      try {
        idempotency.release(scope, key, decision.claim);
      } catch {
        // The store is failing too: the claim's lease frees the key instead.
      }
      throw error;
    }
  }

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(config.api.port, config.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  }).catch((error: unknown) => {
    if (bookkeeping !== deps.db) bookkeeping.close(); // a node that cannot take the address holds nothing
    throw error;
  });
  server.on('error', (error) => log('gateway', `server error: ${error.stack ?? String(error)}`));
  const address = server.address() as AddressInfo;
  const apiUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log('gateway', `API listening on ${apiUrl}`);

  return {
    endpoints: { apiUrl },
    async stop() {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      if (bookkeeping !== deps.db) bookkeeping.close();
    },
  };
}

/**
 * The gateway's own connection to the store, for what it writes on every request (rate-limit
 * counts, the request log, idempotency claims): committed without waiting for the disk
 * (synchronous=NORMAL in WAL), which keeps each commit out of the request's latency — several
 * milliseconds an fsync — and still survives the crash of this process, which is what another
 * gateway node takes over from; only an operating-system crash may lose its last moments. A
 * response kept for an idempotency key commits on the platform's own connection, with the
 * writes it reports. It waits for locks as long as the platform's connection does.
 */
function openBookkeeping(deps: RoleDeps): Db {
  const file = deps.config.store.file;
  if (file === '' || file === ':memory:') return deps.db; // a private database: one connection only
  const db = new Database(file);
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Number(deps.db.pragma('busy_timeout', { simple: true }))}`);
  return db;
}

/** 403 for a valid key of the wrong role (Kong's ACL plugin in spirit, as a problem from the API). */
function checkAccess(route: CompiledRoute, caller: Caller, path: string): void {
  if (route.access === 'operator' && caller.role !== 'operator') {
    throw new ProblemError(
      problem('forbidden', 'this endpoint is for the platform operator; customer API keys may not use it', {
        instance: path,
      }),
    );
  }
  if (route.access === 'customer' && caller.role !== 'customer') {
    throw new ProblemError(
      problem('forbidden', 'this endpoint acts for a customer: call it with that customer’s API key', {
        instance: path,
      }),
    );
  }
}

async function readJsonBody(request: http.IncomingMessage, path: string): Promise<unknown> {
  const text = await readTextBody(
    request,
    path,
    /^application\/([\w.-]+\+)?json$/,
    'as JSON with Content-Type: application/json',
  );
  if (text.trim() === '')
    throw new ProblemError(
      problem('invalidJson', 'the body is empty: send a JSON object', { instance: path }),
    );
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ProblemError(
      problem('invalidJson', `the body is not valid JSON: ${(error as Error).message}`, { instance: path }),
    );
  }
}

/** A CSV upload as text; what is wrong inside the file is the service's to say (422, per row). */
function readCsvBody(request: http.IncomingMessage, path: string): Promise<string> {
  return readTextBody(request, path, /^text\/csv$/, 'as a CSV file with Content-Type: text/csv');
}

/** The body as UTF-8 text, once its media type is one the route takes and its size is within the limit. */
async function readTextBody(
  request: http.IncomingMessage,
  path: string,
  mediaTypes: RegExp,
  howToSend: string,
): Promise<string> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge(path, declared);
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!mediaTypes.test(mediaType)) {
    throw new ProblemError(
      problem('unsupportedMediaType', `send the body ${howToSend} (got ${mediaType || 'no Content-Type'})`, {
        instance: path,
      }),
    );
  }
  const raw = await new Promise<Buffer>((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Events rather than for-await: leaving a for-await loop destroys the socket before the 413 is written.
    request.on('data', (chunk: Buffer) => {
      if (settled) return; // the rest of an oversized body is read and discarded
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        settled = true;
        rejectBody(tooLarge(path, size));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (settled) return;
      settled = true;
      resolveBody(Buffer.concat(chunks));
    });
    request.on('error', (error) => {
      if (settled) return;
      settled = true;
      rejectBody(error);
    });
  });
  return raw.toString('utf8');
}

function tooLarge(path: string, bytes: number): ProblemError {
  // Connection: close, because the rest of an oversized body is never read.
  return new ProblemError(
    problem('tooLarge', `the body is ${bytes} bytes or more; the limit is ${MAX_BODY_BYTES} bytes`, {
      instance: path,
    }),
    {
      Connection: 'close',
    },
  );
}

function toProblem(
  error: unknown,
  path: string,
  requestId: string,
  retryAfterSeconds: string,
): { problem: Problem; headers: Record<string, string> } {
  if (error instanceof ProblemError) return { problem: error.problem, headers: error.headers };
  // A store that is locked, busy or failing is the platform's temporary trouble, not a bug: 503.
  if (isStoreUnavailable(error)) {
    return {
      problem: problem(
        'storeUnavailable',
        `the platform's database is unavailable; retry in ${retryAfterSeconds} s (request ${requestId})`,
        { instance: path },
      ),
      headers: { 'Retry-After': retryAfterSeconds },
    };
  }
  if (error instanceof ValidationError) {
    return {
      problem: problem('validation', error.message, {
        instance: path,
        errors: error.errors,
        ...error.extensions,
      }),
      headers: {},
    };
  }
  if (error instanceof QuotaExceededError) {
    // The IETF RateLimit headers Kong sends, describing the quota that was met.
    const reset = String(error.retryAfterSeconds);
    const extensions: Record<string, unknown> = { quota: error.quota, limit: error.limit };
    return {
      problem: problem('quotaExceeded', error.message, { instance: path, ...extensions }),
      headers: {
        'Retry-After': reset,
        'RateLimit-Limit': String(error.limit),
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': reset,
      },
    };
  }
  if (error instanceof ServiceError) {
    switch (error.kind) {
      case 'not-found':
        return { problem: problem('notFound', error.message, { instance: path }), headers: {} };
      case 'conflict':
        return { problem: problem('conflict', error.message, { instance: path }), headers: {} };
      case 'forbidden':
        return { problem: problem('forbidden', error.message, { instance: path }), headers: {} };
    }
  }
  // Internals stay in the platform log; the caller gets the request id to quote.
  return {
    problem: problem('internal', `see the platform log for request ${requestId}`, { instance: path }),
    headers: {},
  };
}

/** A response ready to be written: the pipeline decides it, logs it, then writes it. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  /** With its charset; absent with `text` for a response without a body. */
  contentType?: string;
  text?: string;
}

/** What the pipeline knows of a request before routing it. */
interface RequestFacts {
  method: string;
  url: URL;
  requestId: string;
  started: bigint;
  /** Filled in by key-auth and routing, for the request log and the audit trail. */
  seen: {
    caller: Caller | null;
    route: CompiledRoute | undefined;
    params: Record<string, string>;
    before: unknown;
  };
}

/** Kong's own answers (key-auth, no route, plugin exits): `{message}`, never problem+json. */
function kong(status: number, message: string, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'X-Kong-Response-Latency': '0', ...headers },
    contentType: 'application/json; charset=utf-8',
    text: JSON.stringify({ message }),
  };
}

function replyAnswer(reply: Reply): Answer {
  if (reply.body === undefined) return { status: reply.status, headers: {} };
  const contentType = reply.contentType ?? 'application/json';
  const text =
    typeof reply.body === 'string' && contentType !== 'application/json'
      ? reply.body
      : JSON.stringify(reply.body);
  return { status: reply.status, headers: {}, contentType: `${contentType}; charset=utf-8`, text };
}

function problemAnswer(body: Problem, headers: Record<string, string>): Answer {
  return {
    status: body.status,
    headers,
    contentType: 'application/problem+json; charset=utf-8',
    text: JSON.stringify(body),
  };
}

function sendAnswer(response: http.ServerResponse, answer: Answer): void {
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  if (answer.text === undefined) {
    response.writeHead(answer.status);
    response.end();
    return;
  }
  response.writeHead(answer.status, {
    'Content-Type': answer.contentType ?? 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(answer.text),
    'Cache-Control': 'no-store',
  });
  response.end(answer.text);
}

/** The configured operator key, compared in constant time (it guards every operations endpoint). */
function isOperatorKey(key: string, adminApiKey: string): boolean {
  const given = createHash('sha256').update(key).digest();
  const expected = createHash('sha256').update(adminApiKey).digest();
  return adminApiKey !== '' && timingSafeEqual(given, expected);
}

/** Kong key-auth's key_names=apikey, header only (key_in_query=false: see KONG.keyInQuery). */
function apiKeyOf(request: http.IncomingMessage): string | undefined {
  return headerValue(request.headers[API_KEY_NAME]);
}

/** The query as route handlers see it: a key sent in the query string is the gateway's, never theirs. */
function withoutApiKey(query: URLSearchParams): URLSearchParams {
  const copy = new URLSearchParams(query);
  copy.delete(API_KEY_NAME);
  return copy;
}

/** The request target for logs, with any query-string key masked (log lines are read by people). */
export function loggableTarget(target: string | undefined): string {
  const raw = target ?? '/';
  const queryAt = raw.indexOf('?');
  if (queryAt < 0) return raw;
  const fragments = raw
    .slice(queryAt + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0];
      return safeDecode(name).trim().toLowerCase() === API_KEY_NAME ? `${name}=***` : pair;
    });
  return `${raw.slice(0, queryAt)}?${fragments.join('&')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.trim() !== '' ? first.trim() : undefined;
}

/** Echo a caller's request id only if it is a sane token: it ends up in logs and headers. */
function acceptableRequestId(value: string | string[] | undefined): string | undefined {
  const id = headerValue(value);
  return id && /^[\x21-\x7e]{1,200}$/.test(id) ? id : undefined;
}

function elapsedMs(since: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - since) / 1e6);
}
