import type { CoreServices, Caller } from '../core/services';
import { problem, ProblemError } from './problems';
import type { RequestRecord } from './request-log';
import type { TamperedAuditEntry } from '../core/audit';
import { ValidationError } from '../errors';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who may call a route: nobody needs a key (public), the operator, a customer, or either. */
export type Access = 'public' | 'operator' | 'customer' | 'operator-or-customer';

export interface RouteContext {
  /** null only on public routes. */
  caller: Caller | null;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (routes with `jsonBody`), the text of a CSV body (`csvBody`), otherwise undefined. */
  body: unknown;
  /** The API key the request authenticated with (undefined on public routes). */
  apiKey?: string;
  /** Where the request came from, for the audit trail: the gateway's request id and the client's address. */
  origin: { requestId: string; sourceAddress: string | null };
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteDefinition {
  method: HttpMethod;
  /** Path template: `/v1/trunks/{id}`. */
  path: string;
  access: Access;
  jsonBody?: boolean;
  /** The body is a CSV file (text/csv), handed over as text. */
  csvBody?: boolean;
  /**
   * A POST that creates: an Idempotency-Key makes its retries replay the first response. Its
   * handler must be synchronous (its writes commit together with the stored response).
   */
  idempotent?: boolean;
  /** The audit action a change records, when the template does not say it (see auditActionOf). */
  auditAction?: string;
  /**
   * The resource as it stands before an action on it (a POST such as `/suspend` or `/rotate`),
   * for the audit entry's `before`; PUT/PATCH/DELETE read it through the path's own GET instead.
   */
  auditBefore?(context: RouteContext): unknown;
  handle(context: RouteContext): Reply | Promise<Reply>;
}

export interface RouteTableOptions {
  services: CoreServices;
  version: string;
  /** The effective timer settings, for GET /ops/v1/settings. */
  settings: () => unknown;
  contractYaml: string;
  /** The gateway's request log by request id, for GET /ops/v1/requests/{id}. */
  findRequest: (requestId: string) => RequestRecord | undefined;
  /** The audit trail: lists (a customer's own when `customerId` is given), the chain check, the DBA drill. */
  audit: {
    list(query: URLSearchParams, customerId: string | undefined): unknown;
    verify(): unknown;
    /** The reference platform's tamper drill is on (never in a product). */
    drills: boolean;
    tamper(customerId: string): TamperedAuditEntry | undefined;
    restore(tampered: TamperedAuditEntry): boolean;
  };
  /** A customer's API rate limits, for /ops/v1/customers/{id}/rate-limits. */
  rateLimits: {
    get(customerId: string): unknown;
    set(customerId: string, body: unknown): unknown;
    reset(customerId: string): unknown;
  };
  /** How long a rotated webhook signing secret keeps signing alongside the new one. */
  webhookSecretOverlapMs: number;
}

/**
 * The API, one line per endpoint. Later work adds rows here; authentication, role checks, body
 * parsing and error mapping are the pipeline's job (index.ts), never a handler's.
 */
export function routeTable({
  services,
  version,
  settings,
  contractYaml,
  findRequest,
  rateLimits,
  audit,
  webhookSecretOverlapMs,
}: RouteTableOptions): RouteDefinition[] {
  const ok = (body: unknown, status = 200): Reply => ({ status, body });
  return [
    { method: 'GET', path: '/health', access: 'public', handle: () => ok({ status: 'ok', version }) },
    {
      method: 'GET',
      path: '/openapi.yaml',
      access: 'public',
      handle: () => ({ status: 200, body: contractYaml, contentType: 'application/yaml' }),
    },

    {
      method: 'POST',
      path: '/v1/customers',
      access: 'operator',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.customers.createCustomer(c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/customers/{id}',
      access: 'operator-or-customer',
      handle: (c) => ok(services.customers.getCustomer(callerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/ops/v1/customers/{id}/suspend',
      access: 'operator',
      auditAction: 'customer.suspended',
      auditBefore: (c) => services.customers.getCustomer({ role: 'operator' }, c.params.id),
      handle: (c) => ok(services.identity.suspend(c.params.id)),
    },
    {
      method: 'POST',
      path: '/ops/v1/customers/{id}/resume',
      access: 'operator',
      auditAction: 'customer.resumed',
      auditBefore: (c) => services.customers.getCustomer({ role: 'operator' }, c.params.id),
      handle: (c) => ok(services.identity.resume(c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/api-keys',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.identity.issueKey(customerOf(c), c.body), 201),
    },
    {
      method: 'POST',
      path: '/v1/api-keys/rotate',
      access: 'customer',
      auditAction: 'api-key.rotated',
      // The key rotated out (redacted in the entry) and its access, which the new key keeps.
      auditBefore: (c) => ({
        apiKey: c.apiKey ?? null,
        access: services.identity.identify(c.apiKey ?? '')?.access,
      }),
      handle: (c) => ok(services.identity.rotateKey(customerOf(c), c.apiKey ?? '')),
    },

    {
      method: 'POST',
      path: '/v1/numbers',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.numbers.addNumber(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/numbers',
      access: 'customer',
      handle: (c) => ok({ items: services.numbers.listNumbers(customerOf(c)) }),
    },

    {
      method: 'PATCH',
      path: '/v1/numbers/{number}',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.numbers.updateNumber(customerOf(c), c.params.number, c.body)),
    },

    {
      method: 'GET',
      path: '/v1/voicemails',
      access: 'customer',
      handle: (c) => ok({ items: services.callRecords.listVoicemails(customerOf(c), c.query) }),
    },
    {
      method: 'GET',
      path: '/v1/voicemails/{id}',
      access: 'customer',
      handle: (c) => ok(services.callRecords.getVoicemail(customerOf(c), c.params.id)),
    },
    {
      method: 'GET',
      path: '/v1/verifications',
      access: 'customer',
      handle: (c) => ok({ items: services.callRecords.listVerifications(customerOf(c), c.query) }),
    },
    {
      method: 'GET',
      path: '/v1/verifications/{id}',
      access: 'customer',
      handle: (c) => ok(services.callRecords.getVerification(customerOf(c), c.params.id)),
    },

    {
      method: 'POST',
      path: '/v1/sip-accounts',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.sipAccounts.createSipAccount(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/sip-accounts/{username}',
      access: 'customer',
      handle: (c) => ok(services.sipAccounts.getSipAccount(customerOf(c), c.params.username)),
    },
    {
      method: 'PATCH',
      path: '/v1/sip-accounts/{username}',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.sipAccounts.updateSipAccount(customerOf(c), c.params.username, c.body)),
    },

    {
      method: 'POST',
      path: '/v1/trunks',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.trunks.createTrunk(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/trunks',
      access: 'customer',
      handle: (c) => ok({ items: services.trunks.listTrunks(customerOf(c)) }),
    },
    {
      method: 'GET',
      path: '/v1/trunks/{id}',
      access: 'customer',
      handle: (c) => ok(services.trunks.getTrunk(customerOf(c), c.params.id)),
    },
    {
      method: 'PATCH',
      path: '/v1/trunks/{id}',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.trunks.updateTrunk(customerOf(c), c.params.id, c.body)),
    },

    {
      method: 'POST',
      path: '/v1/routing-rules',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.trunks.createRoutingRule(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/routing-rules',
      access: 'customer',
      handle: (c) => ok({ items: services.trunks.listRoutingRules(customerOf(c)) }),
    },
    {
      method: 'PUT',
      path: '/v1/routing-rules/{id}',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.trunks.replaceRoutingRule(customerOf(c), c.params.id, c.body)),
    },
    {
      method: 'DELETE',
      path: '/v1/routing-rules/{id}',
      access: 'customer',
      handle: (c) => {
        services.trunks.deleteRoutingRule(customerOf(c), c.params.id);
        return { status: 204 };
      },
    },

    {
      method: 'GET',
      path: '/v1/calls',
      access: 'customer',
      handle: (c) => ok({ items: services.liveCalls.listLiveCalls(customerOf(c)) }),
    },
    {
      method: 'GET',
      path: '/v1/calls/{id}',
      access: 'customer',
      handle: (c) => ok(services.liveCalls.getLiveCall(customerOf(c), c.params.id)),
    },
    {
      method: 'DELETE',
      path: '/v1/calls/{id}',
      access: 'customer',
      auditAction: 'call.ended',
      handle: (c) => {
        services.liveCalls.hangupLiveCall(customerOf(c), c.params.id);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/v1/calls/{id}/hold',
      access: 'customer',
      handle: (c) => ok(services.liveCalls.holdLiveCall(customerOf(c), c.params.id, true)),
    },
    {
      method: 'POST',
      path: '/v1/calls/{id}/resume',
      access: 'customer',
      handle: (c) => ok(services.liveCalls.holdLiveCall(customerOf(c), c.params.id, false)),
    },
    {
      method: 'POST',
      path: '/v1/calls/{id}/transfer',
      access: 'customer',
      jsonBody: true,
      handle: async (c) =>
        ok(await services.liveCalls.transferLiveCall(customerOf(c), c.params.id, c.body), 202),
    },

    {
      method: 'GET',
      path: '/v1/cdrs',
      access: 'customer',
      handle: (c) =>
        ok(services.callRecords.listCdrs(customerOf(c), services.callRecords.parseCdrFilter(c.query))),
    },
    {
      method: 'GET',
      path: '/v1/cdrs/{id}',
      access: 'customer',
      handle: (c) => ok(services.callRecords.getCdr(customerOf(c), c.params.id)),
    },

    {
      method: 'POST',
      path: '/v1/messages',
      access: 'customer',
      auditAction: 'message.sent',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.messages.sendMessage(customerOf(c), c.body, c.origin), 202),
    },
    {
      method: 'GET',
      path: '/v1/analytics/messages',
      access: 'customer',
      handle: (c) => ok(services.messages.messageAnalytics(customerOf(c), c.query)),
    },
    {
      method: 'POST',
      path: '/v1/templates',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.templates.createTemplate(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/templates',
      access: 'customer',
      handle: (c) => ok({ items: services.templates.listTemplates(customerOf(c)) }),
    },
    {
      method: 'GET',
      path: '/v1/templates/{id}',
      access: 'customer',
      handle: (c) => ok(services.templates.getTemplate(customerOf(c), c.params.id)),
    },
    {
      method: 'PUT',
      path: '/v1/templates/{id}',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.templates.replaceTemplate(customerOf(c), c.params.id, c.body)),
    },
    {
      method: 'DELETE',
      path: '/v1/templates/{id}',
      access: 'customer',
      handle: (c) => {
        services.templates.deleteTemplate(customerOf(c), c.params.id);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/v1/contact-lists',
      access: 'customer',
      idempotent: true,
      csvBody: true,
      handle: (c) =>
        ok(services.contactLists.uploadContactList(customerOf(c), c.query.get('name'), String(c.body)), 201),
    },
    {
      method: 'GET',
      path: '/v1/contact-lists',
      access: 'customer',
      handle: (c) => ok({ items: services.contactLists.listContactLists(customerOf(c)) }),
    },
    {
      method: 'GET',
      path: '/v1/contact-lists/{id}',
      access: 'customer',
      handle: (c) => ok(services.contactLists.getContactList(customerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.campaigns.createCampaign(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/campaigns',
      access: 'customer',
      handle: (c) => ok({ items: services.campaigns.listCampaigns(customerOf(c)) }),
    },
    {
      method: 'GET',
      path: '/v1/campaigns/{id}',
      access: 'customer',
      handle: (c) => ok(services.campaigns.getCampaign(customerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns/{id}/start',
      access: 'customer',
      handle: (c) => ok(services.campaigns.start(customerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns/{id}/schedule',
      access: 'customer',
      jsonBody: true,
      handle: (c) => ok(services.campaigns.schedule(customerOf(c), c.params.id, c.body)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns/{id}/pause',
      access: 'customer',
      handle: (c) => ok(services.campaigns.pause(customerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns/{id}/resume',
      access: 'customer',
      handle: (c) => ok(services.campaigns.resume(customerOf(c), c.params.id)),
    },
    {
      method: 'POST',
      path: '/v1/campaigns/{id}/cancel',
      access: 'customer',
      handle: (c) => ok(services.campaigns.cancel(customerOf(c), c.params.id)),
    },
    {
      method: 'GET',
      path: '/v1/opt-outs',
      access: 'customer',
      handle: (c) => ok({ items: services.optOuts.listOptOuts(customerOf(c)) }),
    },
    {
      method: 'POST',
      path: '/v1/opt-outs',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => {
        const { created, optOut } = services.optOuts.addOptOut(customerOf(c), c.body);
        return ok(optOut, created ? 201 : 200);
      },
    },
    {
      method: 'DELETE',
      path: '/v1/opt-outs/{number}',
      access: 'customer',
      handle: (c) => {
        services.optOuts.deleteOptOut(customerOf(c), c.params.number);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/v1/messages/{id}',
      access: 'customer',
      handle: (c) => ok(services.messages.getMessage(customerOf(c), c.params.id)),
    },

    {
      method: 'POST',
      path: '/v1/webhooks',
      access: 'customer',
      idempotent: true,
      jsonBody: true,
      handle: (c) => ok(services.webhooks.createWebhook(customerOf(c), c.body), 201),
    },
    {
      method: 'GET',
      path: '/v1/webhooks',
      access: 'customer',
      handle: (c) => ok({ items: services.webhooks.listWebhooks(customerOf(c)) }),
    },
    {
      method: 'POST',
      path: '/v1/webhooks/{id}/rotate-secret',
      access: 'customer',
      auditAction: 'webhook-secret.rotated',
      auditBefore: (c) =>
        services.webhooks.listWebhooks(customerOf(c)).find((w) => w.id === c.params.id) ?? null,
      handle: (c) => ok(services.webhooks.rotateSecret(customerOf(c), c.params.id, webhookSecretOverlapMs)),
    },
    {
      method: 'DELETE',
      path: '/v1/webhooks/{id}',
      access: 'customer',
      handle: (c) => {
        services.webhooks.deleteWebhook(customerOf(c), c.params.id);
        return { status: 204 };
      },
    },

    {
      method: 'PUT',
      path: '/ops/v1/customers/{id}/smpp-throughput',
      access: 'operator',
      jsonBody: true,
      handle: (c) => ok(services.operations.setSmppThroughput(c.params.id, c.body)),
    },
    {
      method: 'GET',
      path: '/ops/v1/customers/{id}/rate-limits',
      access: 'operator',
      handle: (c) => ok(rateLimits.get(c.params.id)),
    },
    {
      method: 'PUT',
      path: '/ops/v1/customers/{id}/rate-limits',
      access: 'operator',
      jsonBody: true,
      handle: (c) => ok(rateLimits.set(c.params.id, c.body)),
    },
    {
      method: 'DELETE',
      path: '/ops/v1/customers/{id}/rate-limits',
      access: 'operator',
      handle: (c) => ok(rateLimits.reset(c.params.id)),
    },
    {
      method: 'GET',
      path: '/ops/v1/customers/{id}/quotas',
      access: 'operator',
      handle: (c) => ok(services.quotas.get(c.params.id)),
    },
    {
      method: 'PUT',
      path: '/ops/v1/customers/{id}/quotas',
      access: 'operator',
      jsonBody: true,
      handle: (c) => ok(services.quotas.set(c.params.id, c.body)),
    },
    {
      method: 'DELETE',
      path: '/ops/v1/customers/{id}/quotas',
      access: 'operator',
      handle: (c) => ok(services.quotas.reset(c.params.id)),
    },
    {
      method: 'GET',
      path: '/v1/audit-events',
      access: 'customer',
      handle: (c) => ok(audit.list(c.query, customerOf(c))),
    },
    {
      method: 'GET',
      path: '/ops/v1/audit-events',
      access: 'operator',
      handle: (c) => ok(audit.list(c.query, undefined)),
    },
    {
      method: 'GET',
      path: '/ops/v1/audit-events/verify',
      access: 'operator',
      handle: () => ok(audit.verify()),
    },
    {
      // The reference platform's DBA drill: what someone with direct access to the store could do.
      method: 'POST',
      path: '/ops/v1/drills/audit-tamper',
      access: 'operator',
      jsonBody: true,
      handle: (c) => {
        drillsOn(audit.drills);
        const customerId = (c.body as { customerId?: unknown } | null)?.customerId;
        if (typeof customerId !== 'string')
          throw new ValidationError([
            { field: 'customerId', message: 'name the customer whose trail to edit' },
          ]);
        const tampered = audit.tamper(customerId);
        if (!tampered)
          throw new ProblemError(problem('notFound', `customer ${customerId} has no audit entries`));
        return ok(tampered);
      },
    },
    {
      method: 'POST',
      path: '/ops/v1/drills/audit-restore',
      access: 'operator',
      jsonBody: true,
      handle: (c) => {
        drillsOn(audit.drills);
        const { seq, original } = (c.body ?? {}) as { seq?: unknown; original?: unknown };
        if (typeof seq !== 'number' || typeof original !== 'string')
          throw new ValidationError([
            { field: 'seq', message: 'send back what audit-tamper answered: {seq, original}' },
          ]);
        if (!audit.restore({ seq, original }))
          throw new ProblemError(problem('notFound', `there is no audit entry ${seq}`));
        return ok({ seq, restored: true });
      },
    },
    {
      method: 'GET',
      path: '/ops/v1/settings',
      access: 'operator',
      handle: () => ok(settings()),
    },
    {
      method: 'GET',
      path: '/ops/v1/requests/{id}',
      access: 'operator',
      handle: (c) => {
        const record = findRequest(c.params.id);
        if (!record)
          throw new ProblemError(
            problem('notFound', `no request ${c.params.id} in the gateway's recent requests`),
          );
        return ok(record);
      },
    },
    {
      method: 'GET',
      path: '/ops/v1/smsc/connectors',
      access: 'operator',
      handle: () => ok({ items: services.operations.listConnectors() }),
    },
    {
      method: 'PUT',
      path: '/ops/v1/smsc/connectors/{id}',
      access: 'operator',
      jsonBody: true,
      handle: (c) => ok(services.operations.putConnector(c.params.id, c.body)),
    },
    {
      method: 'DELETE',
      path: '/ops/v1/smsc/connectors/{id}',
      access: 'operator',
      handle: async (c) => {
        await services.operations.deleteConnector(c.params.id);
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      path: '/ops/v1/smsc/counters',
      access: 'operator',
      handle: () => ok(services.operations.smscCounters()),
    },
    {
      method: 'PUT',
      path: '/ops/v1/smsc/routes',
      access: 'operator',
      jsonBody: true,
      handle: (c) => ok(services.operations.putRoute(c.body)),
    },
    {
      method: 'DELETE',
      // The prefix is percent-encoded by the caller ('+' as %2B); the router decodes it.
      path: '/ops/v1/smsc/routes/{prefix}',
      access: 'operator',
      handle: (c) => {
        services.operations.deleteRoute(c.params.prefix);
        return { status: 204 };
      },
    },
  ];
}

function callerOf(context: RouteContext): Caller {
  if (!context.caller) throw new Error('route declared as authenticated ran without a caller');
  return context.caller;
}

function customerOf(context: RouteContext): string {
  const caller = callerOf(context);
  if (caller.role !== 'customer') {
    // The pipeline enforces access before handlers run; reaching here is a table mistake.
    throw new ProblemError(
      problem('forbidden', 'this endpoint acts for a customer: use the customer’s API key'),
    );
  }
  return caller.customerId;
}

/** The drills exist on the reference platform only: elsewhere they are not there at all. */
function drillsOn(enabled: boolean): void {
  if (!enabled)
    throw new ProblemError(
      problem('notFound', 'drills are offered by the reference platform only (config api.referenceDrills)'),
    );
}

/** A compiled route: the template as a regular expression with named parameters. */
export interface CompiledRoute extends RouteDefinition {
  pattern: RegExp;
  paramNames: string[];
}

export function compileRoutes(routes: RouteDefinition[]): CompiledRoute[] {
  return routes.map((route) => {
    const paramNames: string[] = [];
    const source = route.path
      .split('/')
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        paramNames.push(param[1]);
        return '([^/]+)';
      })
      .join('/');
    return { ...route, pattern: new RegExp(`^${source}$`), paramNames };
  });
}

/**
 * Finds the route for a path. When the method does not match, `allowed` lists the methods the
 * path supports and `allPublic` says whether all of them are public (else a 405 needs a key).
 */
export function matchRoute(
  routes: CompiledRoute[],
  method: string,
  path: string,
):
  | { route: CompiledRoute; params: Record<string, string> }
  | { route: undefined; allowed: string[]; allPublic: boolean } {
  const allowed: string[] = [];
  let allPublic = true;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      allPublic &&= route.access === 'public';
      continue;
    }
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, index) => {
      params[name] = safeDecode(match[index + 1]);
    });
    return { route, params };
  }
  return { route: undefined, allowed, allPublic };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed %-escapes: used verbatim, so the lookup simply finds nothing
  }
}
