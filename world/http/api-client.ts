import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import got, { type Method } from 'got';
import { traffic } from '../traffic-log';
import { platformContract, type ApiContract } from './contract';
import { redactHeaders, redactJson, redactQuery, redactText } from './redact';
import { attempts, type AttemptOutcome } from '../../reporting/attempts';
import { auditLedger, isAuditedChange } from '../../reporting/audit-ledger';

/** The platform API as the suite sees it (its own types, written from the contract, not imported from the platform). */
export type CustomerTier = 'standard' | 'premium' | 'call-center' | 'api-only';
export type NumberKind = 'local' | 'toll-free' | 'international' | 'short-code';
export type MessageStatus =
  'queued' | 'sent' | 'delivered' | 'undeliverable' | 'expired' | 'rejected' | 'failed';
export type Disposition = 'answered' | 'no-answer' | 'busy' | 'failed' | 'cancelled';

export interface Customer {
  id: string;
  name: string;
  tier: CustomerTier;
  createdAt: string;
  /** suspended: refused on every channel until the operator resumes it. */
  status: 'active' | 'suspended';
}

export type ApiKeyAccess = 'full' | 'read-only';

export interface IssuedApiKey {
  apiKey: string;
  access: ApiKeyAccess;
  createdAt: string;
}

export interface RotatedWebhookSecret {
  id: string;
  secret: string;
  previousSecretValidUntil: string;
}

export interface CreatedCustomer extends Customer {
  apiKey: string;
  smpp: { systemId: string; password: string };
}

export interface PhoneNumber {
  number: string;
  kind: NumberKind;
  customerId: string;
  voiceService: 'verification' | 'callback' | null;
  callbackAgent: string | null;
  codeTtlSeconds: number | null;
  createdAt: string;
}

export interface Voicemail {
  id: string;
  mailbox: string;
  caller: string;
  receivedAt: string;
  durationMs: number;
  transcript: string | null;
  transcriptionStatus: 'pending' | 'done' | 'failed' | 'unavailable';
}

export interface Verification {
  id: string;
  line: string;
  phone: string;
  status: 'pending' | 'verified' | 'failed' | 'expired';
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
  verifiedAt: string | null;
}

export interface SipAccountSettings {
  /** The subscriber's own mobile: missed-call texts go there; texts from it are commands. */
  mobile?: string | null;
  missedCallSms?: boolean;
  forwardTo?: string | null;
  callerId?: string | null;
  voicemail?: boolean;
}

export interface SipAccount {
  username: string;
  number: string;
  domain: string;
  mobile: string | null;
  missedCallSms: boolean;
  forwardTo: string | null;
  callerId: string | null;
  voicemail: boolean;
  createdAt: string;
}

export interface TrunkInput {
  name: string;
  host: string;
  port: number;
  transport: 'udp';
  destinationPrefixes?: string[];
  callerId?: string;
  callerIdPresentation?: CallerIdPresentation;
}

export type CallerIdPresentation = 'allowed' | 'withheld';

export interface TrunkUpdate {
  name?: string;
  destinationPrefixes?: string[];
  callerId?: string | null;
  callerIdPresentation?: CallerIdPresentation;
}

export interface RoutingRule {
  id: string;
  prefix: string;
  trunkId: string;
  createdAt: string;
  updatedAt: string;
}

/** A call in progress, as the API's live call control shows it. */
export interface LiveCall {
  id: string;
  sipCallId: string;
  direction: 'outbound' | 'inbound' | 'internal';
  caller: string;
  callee: string;
  trunkId: string | null;
  state: 'ringing' | 'answered';
  held: boolean;
  startedAt: string;
  answeredAt: string | null;
}

/** The spam filter's rules and limits, as GET /ops/v1/settings publishes them (security.spam). */
export interface SpamFilterSettings {
  blockedLinkDomains: string[];
  phishingPhrases: string[];
  protectedSenderIds: Array<{ senderId: string; customerIds: string[] }>;
  velocity: { maxRecipients: number; windowMs: number; newCustomerMs: number };
}

/** The platform's effective timers (GET /ops/v1/settings). */
export interface PlatformSettings {
  sip: {
    noAnswerTimeoutMs: number;
    /** Registration lifetimes the registrar grants, seconds: asked-for values are kept within min…max. */
    registration: { defaultExpiresSeconds: number; minExpiresSeconds: number; maxExpiresSeconds: number };
  };
  voice: {
    voicemailGreetingMs: number;
    promptMs: number;
    /** Each in-call prompt is a tone of its own: its frequency tells which prompt was heard. */
    promptHz: { greeting: number; enterCode: number; confirmed: number; tryAgain: number; refused: number };
    verificationCodeTtlMs: number;
    verificationMaxAttempts: number;
  };
  /** How often a media relay saves its counters for a successor (the most a relay crash can leave uncounted). */
  media?: { statsFlushMs?: number };
  /** The SMSC's wait for a carrier's answer to a submission, and the grace for a late one. */
  smsc?: { responseTimeoutMs: number; lateResponseGraceMs: number };
  /** How campaigns are paced: the sender looks every tickMs for texts that are due. */
  campaigns?: { tickMs: number; defaultRatePerSecond: number; maxRatePerSecond: number };
  /** Webhook delivery: per-attempt timeout, and the pause after failed attempt k is retryBaseMs·2^(k−1). */
  webhooks?: { retryBaseMs: number; maxAttempts: number; timeoutMs: number };
  /** Issue 13's defences, one part each: absent on a target that does not publish them. */
  security?: {
    /** identity: the webhook secret overlap and how soon identity changes hold. */
    identity?: { webhookSecretOverlapMs: number; identityChangeEffectiveMs: number };
    /** The SMS spam filter's rules and velocity limit. */
    spam?: SpamFilterSettings;
    /** SIP brute-force jail: failures from one address within the window that ban it, for banMs. */
    sipFraud?: {
      authFailuresBeforeBan: number;
      failureWindowMs: number;
      banMs: number;
      scannerUserAgents: string[];
      premiumRatePrefixes: string[];
      farInternationalPrefixes: string[];
      highRiskCallsPerWindow: number;
      highRiskWindowMs: number;
      simultaneousCallsByTier: Record<string, number>;
    };
    /** Per-customer quotas over every channel and node: texts (API and SMPP together) and call attempts per window. */
    limits?: {
      textsPerWindow: number | null;
      textWindowMs: number;
      callAttemptsPerWindow: number | null;
      callAttemptWindowMs: number;
    };
  };
}

export interface Trunk {
  id: string;
  name: string;
  host: string;
  port: number;
  transport: 'udp';
  destinationPrefixes: string[];
  callerId: string | null;
  callerIdPresentation: CallerIdPresentation;
  createdAt: string;
}

/** What the media relay counted for one direction of a call. */
export interface MediaDirection {
  packets: number;
  bytes?: number;
}

export interface Cdr {
  id: string;
  sipCallId: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  direction: 'outbound' | 'inbound' | 'internal';
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationMs: number;
  billableSeconds: number;
  disposition: Disposition;
  sipStatus: number;
  hangupBy: 'caller' | 'callee' | 'platform' | null;
  forwardedTo: string | null;
  transferredTo: string | null;
  /** Relay counters per direction (A = the caller's side); empty when the call had no media. */
  media: { aToB?: MediaDirection; bToA?: MediaDirection } & Record<string, unknown>;
}

export interface CdrFilter {
  sipCallId?: string;
  caller?: string;
  callee?: string;
  disposition?: Disposition;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Message {
  id: string;
  from: string;
  to: string;
  text: string;
  encoding: 'gsm7' | 'ucs2';
  parts: number;
  status: MessageStatus;
  errorCode: string | null;
  acceptedAt: string;
  sentAt: string | null;
  doneAt: string | null;
}

export interface Template {
  id: string;
  name: string;
  body: string;
  variables: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ContactList {
  id: string;
  name: string;
  columns: string[];
  contacts: number;
  rejectedRows: Array<{ line: number; number: string; reason: string }>;
  createdAt: string;
}

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';

/** The contacts by outcome: every figure but `contacts` partitions them. */
export interface CampaignStats {
  contacts: number;
  pending: number;
  sent: number;
  delivered: number;
  failed: number;
  optedOut: number;
  cancelled: number;
}

export interface Campaign {
  id: string;
  name: string;
  from: string;
  templateId: string;
  contactListId: string;
  ratePerSecond: number;
  status: CampaignStatus;
  startAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  stats: CampaignStats;
}

export interface CampaignInput {
  name: string;
  from: string;
  templateId: string;
  contactListId: string;
  ratePerSecond?: number;
  startAt?: string;
}

export type CampaignAction = 'start' | 'pause' | 'resume' | 'cancel';

export interface OptOut {
  number: string;
  source: 'sms' | 'api';
  createdAt: string;
}

export interface MessageAnalytics {
  since: string | null;
  until: string | null;
  campaignId: string | null;
  total: number;
  counts: Record<MessageStatus, number>;
  deliveryRate: number | null;
  deliveryLatencyMs: { p50: number; p95: number; max: number; samples: number } | null;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  /** phase2: signed JSON; jasmin: Jasmin's DLR callback form, acknowledged with ACK/Jasmin. */
  format: 'phase2' | 'jasmin';
  createdAt: string;
}

export interface CreatedWebhook extends Webhook {
  secret: string;
}

export interface ConnectorInput {
  host: string;
  port: number;
  systemId: string;
  password: string;
}

export interface ConnectorStatus {
  id: string;
  host: string;
  port: number;
  systemId: string;
  state: 'connecting' | 'bound' | 'down';
  lastError: string | null;
}

export interface SmsRoute {
  prefix: string;
  connectorId: string;
}

/** One request as the gateway logged it (GET /ops/v1/requests/{id}). */
/** One entry of the platform's audit trail (contract: AuditEvent). */
export interface AuditEvent {
  seq: number;
  id: string;
  at: string;
  actor: { kind: 'customer' | 'operator' | 'platform' | 'anonymous'; id: string | null };
  customerId: string | null;
  channel: 'api' | 'ops' | 'sip' | 'smpp' | 'platform';
  action: string;
  target: string | null;
  sourceAddress: string | null;
  requestId: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  action?: string;
  requestIds?: string[];
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  /** Operator only. */
  customerId?: string;
}

export interface AuditVerification {
  intact: boolean;
  checked: number;
  firstBrokenSeq?: number;
}

/** What the reference platform's tamper drill changed (kept to undo it). */
export interface TamperedAuditEntry {
  seq: number;
  original: string;
}

export interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  status: number;
  role: 'anonymous' | 'operator' | 'customer';
  customerId: string | null;
  durationMs: number;
  receivedAt: string;
}

/** RFC 9457 problem details (application errors) or Kong's `{message}` (gateway errors). */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: Array<{ field: string; message: string }>;
  message?: string;
}

/** A non-2xx answer from a typed method. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly problem: ProblemDetails | undefined,
    readonly requestId: string | undefined,
  ) {
    const fields = problem?.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    // Kong's {message}, else the problem's title and detail (the field list only when there is no detail).
    const what = problem?.message ?? [problem?.title, problem?.detail ?? fields].filter(Boolean).join(': ');
    super(`${method} ${path} → ${status}${what ? ` ${what}` : ''} (request id ${requestId ?? 'none'})`);
    this.name = 'ApiError';
  }

  /** The field errors of a 422, for assertions such as `expect(error.fields()).to.include('from')`. */
  fields(): string[] {
    return this.problem?.errors?.map((e) => e.field) ?? [];
  }
}

export interface RawRequest {
  method: Method;
  /** Path and query relative to the base URL: `/v1/messages`. */
  path: string;
  /** Sent as JSON (Content-Type set). */
  json?: unknown;
  /** Sent verbatim (set the Content-Type yourself). */
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Overrides the client's key for this request; null sends no key at all. */
  apiKey?: string | null;
  /** Only for deliberately undocumented requests (probing an unknown route): skips contract validation. */
  skipContract?: boolean;
  /**
   * What makes this a request the platform must refuse, and who must refuse it: any answer but a
   * 4xx then fails naming that ("the gateway let a request without an API key through: …")
   * instead of surfacing as a contract violation of whatever the platform did with it.
   */
  refusal?: { what: string; by: 'the gateway' | 'the platform' };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON for JSON media types, the text otherwise, undefined when empty. */
  body: unknown;
  /** The X-Request-Id the client sent (and the gateway echoed): the key to the platform's log. */
  requestId: string;
}

export interface PlatformApiOptions {
  baseUrl: string;
  apiKey: string;
  /** Who is calling, as named in the evidence ("operator", "Acme"). */
  actor: string;
  /** Per-request bound; default 10 s. */
  timeoutMs?: number;
  contract?: ApiContract;
  /**
   * Whether every response must echo the X-Request-Id sent (default true). Off only for the
   * run's setup client, so a gateway that drops ids fails the scenarios, naming it, not the setup.
   */
  checkRequestIdEcho?: boolean;
}

/**
 * The platform API through the gateway. Retries are off (a retried POST would hide a defect);
 * every response is validated against the contract, errors included; every exchange is
 * recorded in `traffic` with secrets redacted.
 */
export class PlatformApi {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly contract: ApiContract;

  constructor(private readonly options: PlatformApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.contract = options.contract ?? platformContract();
  }

  get actor(): string {
    return this.options.actor;
  }

  /** The key this client calls with: a customer's software keeps it, and rotates it. */
  get apiKey(): string {
    return this.options.apiKey;
  }

  health(): Promise<{ status: 'ok'; version: string }> {
    return this.call('GET', '/health');
  }

  /** `tier` is a CustomerTier; typed as string so scenarios can also send tiers the platform must refuse. */
  createCustomer(input: { name: string; tier: string }): Promise<CreatedCustomer> {
    return this.call('POST', '/v1/customers', input);
  }

  getCustomer(id: string): Promise<Customer> {
    return this.call('GET', `/v1/customers/${encodeURIComponent(id)}`);
  }

  /** Operator: refuse the customer on every channel until resumed. */
  suspendCustomer(id: string): Promise<Customer> {
    return this.call('POST', `/ops/v1/customers/${encodeURIComponent(id)}/suspend`);
  }

  resumeCustomer(id: string): Promise<Customer> {
    return this.call('POST', `/ops/v1/customers/${encodeURIComponent(id)}/resume`);
  }

  issueApiKey(access: ApiKeyAccess): Promise<IssuedApiKey> {
    return this.call('POST', '/v1/api-keys', { access });
  }

  /** Replaces the key this client calls with; the client goes on with its old key (now refused). */
  rotateApiKey(): Promise<IssuedApiKey> {
    return this.call('POST', '/v1/api-keys/rotate');
  }

  rotateWebhookSecret(id: string): Promise<RotatedWebhookSecret> {
    return this.call('POST', `/v1/webhooks/${encodeURIComponent(id)}/rotate-secret`);
  }

  addNumber(input: { number: string; kind: NumberKind }): Promise<PhoneNumber> {
    return this.call('POST', '/v1/numbers', input);
  }

  listNumbers(): Promise<{ items: PhoneNumber[] }> {
    return this.call('GET', '/v1/numbers');
  }

  createSipAccount(
    input: { username: string; password: string; number: string } & SipAccountSettings,
  ): Promise<SipAccount> {
    return this.call('POST', '/v1/sip-accounts', input);
  }

  createTrunk(input: TrunkInput): Promise<Trunk> {
    return this.call('POST', '/v1/trunks', input);
  }

  listTrunks(): Promise<{ items: Trunk[] }> {
    return this.call('GET', '/v1/trunks');
  }

  getTrunk(id: string): Promise<Trunk> {
    return this.call('GET', `/v1/trunks/${encodeURIComponent(id)}`);
  }

  updateNumber(
    number: string,
    update: { voiceService: 'verification' | 'callback' | null; agent?: string; codeTtlSeconds?: number },
  ): Promise<PhoneNumber> {
    return this.call('PATCH', `/v1/numbers/${encodeURIComponent(number)}`, update);
  }

  listVoicemails(mailbox?: string): Promise<{ items: Voicemail[] }> {
    const query = mailbox === undefined ? '' : `?mailbox=${encodeURIComponent(mailbox)}`;
    return this.call('GET', `/v1/voicemails${query}`);
  }

  getVoicemail(id: string): Promise<Voicemail> {
    return this.call('GET', `/v1/voicemails/${encodeURIComponent(id)}`);
  }

  listVerifications(phone?: string): Promise<{ items: Verification[] }> {
    const query = phone === undefined ? '' : `?phone=${encodeURIComponent(phone)}`;
    return this.call('GET', `/v1/verifications${query}`);
  }

  getVerification(id: string): Promise<Verification> {
    return this.call('GET', `/v1/verifications/${encodeURIComponent(id)}`);
  }

  getSipAccount(username: string): Promise<SipAccount> {
    return this.call('GET', `/v1/sip-accounts/${encodeURIComponent(username)}`);
  }

  updateSipAccount(username: string, settings: SipAccountSettings): Promise<SipAccount> {
    return this.call('PATCH', `/v1/sip-accounts/${encodeURIComponent(username)}`, settings);
  }

  updateTrunk(id: string, update: TrunkUpdate): Promise<Trunk> {
    return this.call('PATCH', `/v1/trunks/${encodeURIComponent(id)}`, update);
  }

  createRoutingRule(rule: { prefix: string; trunkId: string }): Promise<RoutingRule> {
    return this.call('POST', '/v1/routing-rules', rule);
  }

  listRoutingRules(): Promise<{ items: RoutingRule[] }> {
    return this.call('GET', '/v1/routing-rules');
  }

  replaceRoutingRule(id: string, rule: { prefix: string; trunkId: string }): Promise<RoutingRule> {
    return this.call('PUT', `/v1/routing-rules/${encodeURIComponent(id)}`, rule);
  }

  deleteRoutingRule(id: string): Promise<void> {
    return this.call('DELETE', `/v1/routing-rules/${encodeURIComponent(id)}`);
  }

  listLiveCalls(): Promise<{ items: LiveCall[] }> {
    return this.call('GET', '/v1/calls');
  }

  getLiveCall(id: string): Promise<LiveCall> {
    return this.call('GET', `/v1/calls/${encodeURIComponent(id)}`);
  }

  async hangupLiveCall(id: string): Promise<void> {
    await this.call('DELETE', `/v1/calls/${encodeURIComponent(id)}`);
  }

  holdLiveCall(id: string): Promise<LiveCall> {
    return this.call('POST', `/v1/calls/${encodeURIComponent(id)}/hold`);
  }

  resumeLiveCall(id: string): Promise<LiveCall> {
    return this.call('POST', `/v1/calls/${encodeURIComponent(id)}/resume`);
  }

  transferLiveCall(id: string, to: string): Promise<{ id: string; to: string }> {
    return this.call('POST', `/v1/calls/${encodeURIComponent(id)}/transfer`, { to });
  }

  /** Jasmin's per-user throughput for a customer's SMPP sessions (operator only; null = no limit). */
  /** PUT /ops/v1/customers/{id}/quotas: the customer's own texts and call attempts per window (null: none). */
  setQuotas(
    customerId: string,
    quotas: { textsPerWindow: number | null; callAttemptsPerWindow: number | null },
  ): Promise<CustomerQuotas> {
    return this.call('PUT', `/ops/v1/customers/${encodeURIComponent(customerId)}/quotas`, quotas);
  }

  /** GET /ops/v1/customers/{id}/quotas: the quotas in force and the current window's use. */
  quotas(customerId: string): Promise<CustomerQuotas> {
    return this.call('GET', `/ops/v1/customers/${encodeURIComponent(customerId)}/quotas`);
  }

  setSmppThroughput(
    customerId: string,
    perSecond: number | null,
  ): Promise<{ customerId: string; perSecond: number | null }> {
    return this.call('PUT', `/ops/v1/customers/${encodeURIComponent(customerId)}/smpp-throughput`, {
      perSecond,
    });
  }

  /** The platform's effective timers (operator only). */
  settings(): Promise<PlatformSettings> {
    return this.call('GET', '/ops/v1/settings');
  }

  listCdrs(filter: CdrFilter = {}): Promise<Page<Cdr>> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filter))
      if (value !== undefined) query.set(name, String(value));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.call('GET', `/v1/cdrs${suffix}`);
  }

  getCdr(id: string): Promise<Cdr> {
    return this.call('GET', `/v1/cdrs/${encodeURIComponent(id)}`);
  }

  messageAnalytics(
    window: { since?: string; until?: string; campaignId?: string } = {},
  ): Promise<MessageAnalytics> {
    const query = new URLSearchParams(
      Object.entries(window).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ).toString();
    return this.call('GET', `/v1/analytics/messages${query ? `?${query}` : ''}`);
  }

  /** Uploads a CSV file of contacts (a `number` column and any values a template uses). */
  async uploadContactList(name: string, csv: string): Promise<ContactList> {
    const path = `/v1/contact-lists?name=${encodeURIComponent(name)}`;
    const response = await this.exchange(
      {
        method: 'POST',
        path,
        body: csv,
        headers: { 'content-type': 'text/csv' },
      },
      'success',
    );
    return this.expectSuccess('POST', path, response);
  }

  createCampaign(input: CampaignInput): Promise<Campaign> {
    return this.call('POST', '/v1/campaigns', input);
  }

  getCampaign(id: string): Promise<Campaign> {
    return this.call('GET', `/v1/campaigns/${encodeURIComponent(id)}`);
  }

  /** Starts, pauses, resumes or cancels a campaign; the campaign as it is after the change. */
  changeCampaign(id: string, action: CampaignAction): Promise<Campaign> {
    return this.call('POST', `/v1/campaigns/${encodeURIComponent(id)}/${action}`);
  }

  scheduleCampaign(id: string, startAt: string): Promise<Campaign> {
    return this.call('POST', `/v1/campaigns/${encodeURIComponent(id)}/schedule`, { startAt });
  }

  listOptOuts(): Promise<{ items: OptOut[] }> {
    return this.call('GET', '/v1/opt-outs');
  }

  /** A template by name with a body of {{variable}} placeholders. */
  createTemplate(input: { name: string; body: string }): Promise<Template> {
    return this.call('POST', '/v1/templates', input);
  }

  listTemplates(): Promise<{ items: Template[] }> {
    return this.call('GET', '/v1/templates');
  }

  getTemplate(id: string): Promise<Template> {
    return this.call('GET', `/v1/templates/${encodeURIComponent(id)}`);
  }

  replaceTemplate(id: string, input: { name: string; body: string }): Promise<Template> {
    return this.call('PUT', `/v1/templates/${encodeURIComponent(id)}`, input);
  }

  async deleteTemplate(id: string): Promise<void> {
    await this.call('DELETE', `/v1/templates/${encodeURIComponent(id)}`);
  }

  async sendMessage(
    input:
      | { from: string; to: string; text: string }
      | { from: string; to: string; templateId: string; variables: Record<string, string> },
  ): Promise<Message> {
    const message = await this.call<Message>('POST', '/v1/messages', input);
    // A text is attempted end to end from here: settled at scenario end from the handset.
    attempts.begin({
      channel: 'text',
      key: message.id,
      name: `text to ${message.to}`,
      text: { to: message.to, text: message.text },
    });
    return message;
  }

  getMessage(id: string): Promise<Message> {
    return this.call('GET', `/v1/messages/${encodeURIComponent(id)}`);
  }

  createWebhook(input: {
    url: string;
    events: string[];
    format?: 'phase2' | 'jasmin';
  }): Promise<CreatedWebhook> {
    return this.call('POST', '/v1/webhooks', input);
  }

  listWebhooks(): Promise<{ items: Webhook[] }> {
    return this.call('GET', '/v1/webhooks');
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.call('DELETE', `/v1/webhooks/${encodeURIComponent(id)}`);
  }

  /** The caller's own audit trail (a customer's key), newest first. */
  listOwnAuditEvents(filter: AuditFilter = {}): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
    return this.call('GET', `/v1/audit-events${auditQuery(filter)}`);
  }

  /** The whole platform's audit trail (operator only), newest first. */
  listAuditEvents(filter: AuditFilter = {}): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
    return this.call('GET', `/ops/v1/audit-events${auditQuery(filter)}`);
  }

  /** Recomputes the trail's hash chain (operator only). */
  verifyAuditTrail(): Promise<AuditVerification> {
    return this.call('GET', '/ops/v1/audit-events/verify');
  }

  /** The reference platform's DBA drill: edits a customer's newest audit entry behind its back. */
  tamperAuditDrill(customerId: string): Promise<TamperedAuditEntry> {
    return this.call('POST', '/ops/v1/drills/audit-tamper', { customerId });
  }

  async restoreAuditDrill(tampered: TamperedAuditEntry): Promise<void> {
    await this.call('POST', '/ops/v1/drills/audit-restore', tampered);
  }

  /** The gateway's log line for a request, by its request id (operator only). */
  getRequest(requestId: string): Promise<RequestRecord> {
    return this.call('GET', `/ops/v1/requests/${encodeURIComponent(requestId)}`);
  }

  putConnector(id: string, input: ConnectorInput): Promise<ConnectorStatus> {
    return this.call('PUT', `/ops/v1/smsc/connectors/${encodeURIComponent(id)}`, input);
  }

  listConnectors(): Promise<{ items: ConnectorStatus[] }> {
    return this.call('GET', '/ops/v1/smsc/connectors');
  }

  putRoute(route: SmsRoute): Promise<SmsRoute> {
    return this.call('PUT', '/ops/v1/smsc/routes', route);
  }

  /** Unbinds and removes a connector and its routes (operator only). */
  async deleteConnector(id: string): Promise<void> {
    await this.call('DELETE', `/ops/v1/smsc/connectors/${encodeURIComponent(id)}`);
  }

  /** Removes the route with exactly this prefix (operator only); '+' travels as %2B. */
  async deleteRoute(prefix: string): Promise<void> {
    await this.call('DELETE', `/ops/v1/smsc/routes/${encodeURIComponent(prefix)}`);
  }

  /**
   * Any request, for negative tests: never throws on a status (but see `refusal`), still
   * validated and recorded; the request id it sent must come back on the response.
   */
  async raw(request: RawRequest): Promise<RawResponse> {
    return this.exchange(request, request.refusal ? 'refusal' : 'judged-by-caller');
  }

  private async exchange(
    request: RawRequest,
    expecting: 'success' | 'refusal' | 'judged-by-caller',
  ): Promise<RawResponse> {
    const headers: Record<string, string> = {
      'x-request-id': `suite-${randomUUID()}`,
      ...lowerCaseKeys(request.headers ?? {}),
    };
    const apiKey = request.apiKey === undefined ? this.options.apiKey : request.apiKey;
    if (apiKey !== null) headers.apikey = apiKey;
    let body: string | Buffer | undefined = request.body;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] ??= 'application/json';
    }
    const url = `${this.baseUrl}${request.path}`;
    const started = performance.now();
    let response;
    try {
      response = await got(url, {
        method: request.method,
        headers,
        body,
        throwHttpErrors: false,
        retry: { limit: 0 },
        followRedirect: false,
        timeout: { request: this.timeoutMs },
        responseType: 'buffer',
      });
    } catch (error) {
      const reason = (error as Error).message;
      this.record(request.method, request.path, headers, body, `no response: ${reason}`, started);
      throw new Error(
        `${request.method} ${url} got no HTTP response from the platform API (${reason}); is the platform running at ${this.baseUrl}?`,
      );
    }
    const text = response.body.toString('utf8');
    const contentType = response.headers['content-type'];
    const parsed = parseBody(text, contentType);
    this.record(request.method, request.path, headers, body, response, started, text);
    const status = response.statusCode;
    const sentId = headers['x-request-id'];
    const requestLine = `${request.method} ${request.path.split('?')[0]}`;
    if (isAuditedChange(request.method, status, response.headers['idempotent-replayed'] === 'true'))
      auditLedger.changed({ baseUrl: this.baseUrl, requestId: sentId, requestLine });
    const settle = (outcome: AttemptOutcome, why?: string): void =>
      attempts.settle('request', sentId, requestLine, outcome, why);
    const refused = status >= 400 && status < 500;
    if (request.refusal && !refused) {
      settle('failed', `${request.refusal.what} was let through`);
      throw new Error(
        `${request.refusal.by} let ${request.refusal.what} through: ${requestLine} answered ${status} ${preview(parsed)} (request id ${sentId}); it must be refused with a 4xx before anything is done with it — see the "HTTP exchanges" attachment`,
      );
    }
    try {
      if (!request.skipContract)
        this.contract.validateResponse(request.method, request.path, status, contentType, parsed);
      const echoed = firstHeader(response.headers['x-request-id']);
      // The contract promises a sane id back as sent; a step that sends an odd one on purpose judges itself.
      if (this.options.checkRequestIdEcho !== false && SANE_REQUEST_ID.test(sentId) && echoed !== sentId)
        throw new Error(
          `the gateway replaced the request id: ${requestLine} was sent with X-Request-Id ${sentId}, its ${status} response carries ${echoed ?? 'none'}; a customer could not find the request in the platform's log — see the "HTTP exchanges" attachment`,
        );
    } catch (error) {
      settle('failed', (error as Error).message.split('\n')[0]);
      throw error;
    }
    if (status >= 500) settle('failed', `answered ${status}`);
    else if (refused && expecting === 'success') settle('failed', `answered ${status}`);
    else settle(refused ? 'refused-as-expected' : 'succeeded');
    return { status, headers: response.headers, body: parsed, requestId: sentId };
  }

  private async call<T>(method: Method, path: string, json?: unknown): Promise<T> {
    return this.expectSuccess(method, path, await this.exchange({ method, path, json }, 'success'));
  }

  /** The body of a 2xx, else an ApiError carrying the problem and the request id. */
  private expectSuccess<T>(method: Method, path: string, response: RawResponse): T {
    if (response.status >= 200 && response.status < 300) return response.body as T;
    const requestId = response.headers['x-request-id'];
    throw new ApiError(
      method,
      path,
      response.status,
      response.body as ProblemDetails | undefined,
      Array.isArray(requestId) ? requestId[0] : requestId,
    );
  }

  private record(
    method: string,
    path: string,
    requestHeaders: Record<string, string>,
    requestBody: string | Buffer | undefined,
    response: { statusCode: number; statusMessage?: string; headers: IncomingHttpHeaders } | string,
    started: number,
    responseText = '',
  ): void {
    const ms = Math.round(performance.now() - started);
    const outcome = typeof response === 'string' ? response : String(response.statusCode);
    const lines = [`${method} ${this.baseUrl}${redactQuery(path)}`, ...redactHeaders(requestHeaders)];
    if (requestBody !== undefined && requestBody.length > 0)
      lines.push('', redactText(requestBody.toString()));
    lines.push('', '');
    if (typeof response === 'string') {
      lines.push(response);
    } else {
      lines.push(
        `HTTP ${response.statusCode} ${response.statusMessage ?? ''} (${ms} ms)`.trim(),
        ...redactHeaders(response.headers),
      );
      if (responseText !== '') lines.push('', redactText(responseText));
    }
    traffic.record({
      protocol: 'HTTP',
      from: this.options.actor,
      to: 'platform API',
      summary: `${method} ${path.split('?')[0]} → ${outcome} (${ms} ms)`,
      detail: lines.join('\n'),
    });
  }
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (!/^application\/([\w.-]+\+)?json\b/i.test(contentType ?? '')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // the contract check then reports a string where an object was documented
  }
}

/** What the gateway echoes as sent (contracts/platform-api.yaml: 1–200 printable ASCII characters). */
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A body as a failure message quotes it: short, secrets redacted. */
function preview(body: unknown): string {
  if (body === undefined) return '(no body)';
  const text = typeof body === 'string' ? redactText(body) : JSON.stringify(redactJson(body));
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** The audit list's query string; request ids repeat `requestId`. */
function auditQuery(filter: AuditFilter): string {
  const query = new URLSearchParams();
  for (const id of filter.requestIds ?? []) query.append('requestId', id);
  for (const name of ['action', 'since', 'until', 'cursor', 'customerId'] as const) {
    const value = filter[name];
    if (value !== undefined) query.set(name, value);
  }
  if (filter.limit !== undefined) query.set('limit', String(filter.limit));
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/** One quota of a customer as the operations API reports it. */
export interface QuotaState {
  limit: number | null;
  windowMs: number;
  used: number;
  remaining: number | null;
  resetInMs: number;
}

/** GET /ops/v1/customers/{id}/quotas. */
export interface CustomerQuotas {
  customerId: string;
  source: 'own' | 'default';
  texts: QuotaState;
  callAttempts: QuotaState;
}
