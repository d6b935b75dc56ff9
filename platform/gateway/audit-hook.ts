/**
 * The gateway's audit hook (TEST-INT-054), run after the handler as a Kong log-phase plugin
 * would: every change made through the API or the operations endpoints, and every refused
 * authentication (401) or authorisation (403), becomes one entry of the audit trail — who, what,
 * which target, from which address, the request id, and the resource before and after with its
 * secrets redacted. Reads are not recorded; neither is a replay of an Idempotency-Key (nothing
 * changed), nor a change the platform refused (4xx/5xx: nothing changed either).
 */
import type { Caller } from '../core/services';
import type { Db } from '../store/store';
import { recordAudit, redactSecrets, type AuditEntry } from '../core/audit';
import type { CompiledRoute, RouteContext } from './routes';

const PAST: Record<string, string> = {
  hold: 'held',
  resume: 'resumed',
  transfer: 'transferred',
  start: 'started',
  schedule: 'scheduled',
  pause: 'paused',
  cancel: 'cancelled',
};
const BY_METHOD: Record<string, string> = {
  POST: 'created',
  PUT: 'updated',
  PATCH: 'updated',
  DELETE: 'deleted',
};

/**
 * The dotted action a changing route records, from its template unless the route names its own:
 * `POST /v1/sip-accounts` → `sip-account.created`, `POST /v1/campaigns/{id}/pause` →
 * `campaign.paused`, `PUT /ops/v1/smsc/routes` → `smsc-route.updated`.
 */
export function auditActionOf(route: Pick<CompiledRoute, 'method' | 'path' | 'auditAction'>): string {
  if (route.auditAction) return route.auditAction;
  const segments = route.path.split('/').filter((s) => s !== '' && s !== 'v1' && s !== 'ops');
  const isParam = (s: string | undefined): boolean => s !== undefined && s.startsWith('{');
  const last = segments.length - 1;
  const singular = (s: string): string => s.replace(/s$/, '');
  // A verb after an id: an action on that resource.
  if (last >= 2 && isParam(segments[last - 1]) && PAST[segments[last]] !== undefined)
    return `${singular(segments[last - 2])}.${PAST[segments[last]]}`;
  const literals = segments.map((s, i) => ({ s, i })).filter(({ s }) => !isParam(s));
  const noun = literals[literals.length - 1];
  const namespace = literals[literals.length - 2];
  // A namespace is a literal not followed by an id (`smsc` in /ops/v1/smsc/routes).
  const prefix = namespace && namespace.i === noun.i - 1 ? `${namespace.s}-` : '';
  return `${prefix}${singular(noun.s)}.${BY_METHOD[route.method] ?? route.method.toLowerCase()}`;
}

/** What the pipeline learnt of a request, for its audit entry. */
export interface AuditedRequest {
  method: string;
  path: string;
  requestId: string;
  sourceAddress: string | null;
  caller: Caller | null;
  route: CompiledRoute | undefined;
  params: Record<string, string>;
  /** The resource as it was before a PUT/PATCH/DELETE (its GET, when the API has one). */
  before: unknown;
  status: number;
  /** The response body the caller got (the resource after), when JSON. */
  responseText: string | undefined;
  replayed: boolean;
}

function actorOf(caller: Caller | null): Pick<AuditEntry, 'actor' | 'customerId'> {
  if (!caller) return { actor: { kind: 'anonymous', id: null }, customerId: null };
  if (caller.role === 'operator') return { actor: { kind: 'operator', id: 'operator' }, customerId: null };
  return { actor: { kind: 'customer', id: caller.customerId }, customerId: caller.customerId };
}

function parsed(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The entry a request leaves in the trail, or undefined when it changed nothing worth one. */
export function auditEntryFor(request: AuditedRequest): AuditEntry | undefined {
  const channel = request.path.startsWith('/ops/') ? 'ops' : 'api';
  const common = {
    channel,
    sourceAddress: request.sourceAddress,
    requestId: request.requestId,
  } as const;
  if (request.status === 401)
    return {
      ...common,
      ...actorOf(null),
      action: 'auth.failed',
      target: request.path,
      detail: {
        method: request.method,
        reason: (parsed(request.responseText) as { message?: string })?.message ?? null,
      },
    };
  if (request.status === 403)
    return {
      ...common,
      ...actorOf(request.caller),
      action: 'access.denied',
      target: request.path,
      detail: {
        method: request.method,
        reason: (parsed(request.responseText) as { detail?: string })?.detail ?? null,
      },
    };
  const changing = request.method !== 'GET' && request.method !== 'HEAD';
  if (!changing || !request.route || request.replayed || request.status < 200 || request.status >= 300)
    return undefined;
  const after = parsed(request.responseText);
  const createdId =
    request.method === 'POST' && after !== null && typeof after === 'object' && 'id' in after
      ? String((after as { id: unknown }).id)
      : undefined;
  const isCollection = !request.route.path.endsWith('}') && !/\/\{[^/]+\}\/[^/{]+$/.test(request.route.path);
  const actor = actorOf(request.caller);
  // The operator acting on a customer (creating it, setting its limits): the customer's trail too.
  const customerId =
    actor.customerId ??
    (request.route.path.startsWith('/ops/v1/customers/{id}') ? (request.params.id ?? null) : null) ??
    (request.route.path === '/v1/customers' ? (createdId ?? null) : null);
  return {
    ...common,
    ...actor,
    customerId,
    action: auditActionOf(request.route),
    target: createdId && isCollection ? `${request.path}/${createdId}` : request.path,
    detail: {
      method: request.method,
      before: redactSecrets(request.before ?? null),
      after: request.method === 'DELETE' ? null : redactSecrets(after),
    },
  };
}

/**
 * The resource a PUT/PATCH/DELETE is about to change, read through the API's own GET for the
 * same path and caller, or what an action route says it acts on (`auditBefore`: a suspend, a
 * rotation); null when there is none or it cannot be read (then `before` says so).
 */
export async function resourceBefore(
  routes: CompiledRoute[],
  route: CompiledRoute,
  context: RouteContext,
): Promise<unknown> {
  try {
    if (route.auditBefore) return route.auditBefore(context) ?? null;
  } catch {
    return null; // not there: the action itself will say why
  }
  if (route.method === 'POST') return null;
  const read = routes.find((r) => r.method === 'GET' && r.path === route.path);
  if (!read) return null;
  try {
    const reply = await read.handle({ ...context, query: new URLSearchParams(), body: undefined });
    return reply.body ?? null;
  } catch {
    return null; // not there (yet): the change itself will say why
  }
}

/** Appends the request's entry, if any. Returns the error instead of throwing: the answer stands. */
export function auditRequest(db: Db, request: AuditedRequest): unknown {
  const entry = auditEntryFor(request);
  if (!entry) return undefined;
  try {
    recordAudit(db, entry);
    return undefined;
  } catch (error) {
    return error;
  }
}
