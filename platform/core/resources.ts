import type { Db } from '../store/store';
import { NotFoundError } from '../errors';
import { templateVariables } from './templates';
import type {
  VoicemailRow,
  VerificationRow,
  CustomerRow,
  NumberRow,
  TrunkRow,
  SipAccountRow,
  RoutingRuleRow,
  CdrRow,
  MessageRow,
  TemplateRow,
  WebhookRow,
} from '../store/rows';

/**
 * The platform's public resources (what the API returns and webhooks carry), and the one place
 * that maps store rows to them, so GET responses and webhook payloads can never drift apart.
 */
export type CustomerTier = 'standard' | 'premium' | 'call-center' | 'api-only';
export const CUSTOMER_TIERS: readonly CustomerTier[] = ['standard', 'premium', 'call-center', 'api-only'];

export type NumberKind = 'local' | 'toll-free' | 'international' | 'short-code';
export const NUMBER_KINDS: readonly NumberKind[] = ['local', 'toll-free', 'international', 'short-code'];

export interface CustomerResource {
  id: string;
  name: string;
  tier: CustomerTier;
  createdAt: string;
  /** suspended: refused on every channel (API, SMPP, SIP) until the operator resumes it. */
  status: 'active' | 'suspended';
}

export interface NumberResource {
  number: string;
  kind: NumberKind;
  customerId: string;
  /** verification: calls reach the verification line; callback: CALL ME texts get a call back; null: none. */
  voiceService: 'verification' | 'callback' | null;
  /** The agent who takes the call back (callback numbers only). */
  callbackAgent: string | null;
  /** How long a verification line's codes are valid (null: the platform's default). */
  codeTtlSeconds: number | null;
  createdAt: string;
}

export interface VoicemailResource {
  id: string;
  mailbox: string;
  caller: string;
  receivedAt: string;
  durationMs: number;
  transcript: string | null;
  transcriptionStatus: string;
}

export interface VerificationResource {
  id: string;
  line: string;
  phone: string;
  /** pending, verified, failed (too many wrong codes) or expired (pending past expiresAt). */
  status: string;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
  verifiedAt: string | null;
}

export function voicemailResource(row: VoicemailRow): VoicemailResource {
  return {
    id: row.id,
    mailbox: row.mailbox,
    caller: row.caller,
    receivedAt: row.received_at,
    durationMs: row.duration_ms,
    transcript: row.transcript,
    transcriptionStatus: row.transcription_status,
  };
}

/** The code itself never leaves the platform except in the text to the caller. */
export function verificationResource(row: VerificationRow, now = Date.now()): VerificationResource {
  const expired = row.status === 'pending' && Date.parse(row.expires_at) <= now;
  return {
    id: row.id,
    line: row.line,
    phone: row.phone,
    status: expired ? 'expired' : row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    verifiedAt: row.verified_at,
  };
}

export interface SipAccountResource {
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

export interface RoutingRuleResource {
  id: string;
  prefix: string;
  trunkId: string;
  createdAt: string;
  updatedAt: string;
}

export interface TrunkResource {
  id: string;
  name: string;
  host: string;
  port: number;
  transport: 'udp';
  destinationPrefixes: string[];
  callerId: string | null;
  callerIdPresentation: 'allowed' | 'withheld';
  createdAt: string;
}

export interface CdrResource {
  id: string;
  sipCallId: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  direction: string;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationMs: number;
  billableSeconds: number;
  disposition: string;
  sipStatus: number;
  hangupBy: string | null;
  forwardedTo: string | null;
  transferredTo: string | null;
  media: Record<string, unknown>;
}

export interface MessageResource {
  id: string;
  from: string;
  to: string;
  text: string;
  encoding: string;
  parts: number;
  status: string;
  errorCode: string | null;
  acceptedAt: string;
  sentAt: string | null;
  doneAt: string | null;
}

export type WebhookFormat = 'phase2' | 'jasmin';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['phase2', 'jasmin'];

export interface WebhookResource {
  id: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  createdAt: string;
}

export interface TemplateResource {
  id: string;
  name: string;
  body: string;
  /** The {{variables}} the body uses, in order of first appearance. */
  variables: string[];
  createdAt: string;
  updatedAt: string;
}

export function templateResource(row: TemplateRow): TemplateResource {
  return {
    id: row.id,
    name: row.name,
    body: row.body,
    variables: templateVariables(row.body),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function customerResource(row: CustomerRow): CustomerResource {
  return {
    id: row.id,
    name: row.name,
    tier: row.tier as CustomerTier,
    createdAt: row.created_at,
    status: row.suspended_at === null ? 'active' : 'suspended',
  };
}

export function numberResource(row: NumberRow): NumberResource {
  return {
    number: row.e164,
    kind: row.kind as NumberKind,
    customerId: row.customer_id,
    voiceService:
      row.voice_service === 'verification' || row.voice_service === 'callback' ? row.voice_service : null,
    callbackAgent: row.callback_agent,
    codeTtlSeconds: row.code_ttl_seconds,
    createdAt: row.created_at,
  };
}

export function trunkResource(row: TrunkRow): TrunkResource {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    port: row.port,
    transport: 'udp',
    destinationPrefixes: parseJson<string[]>(
      row.destination_prefixes,
      `trunk ${row.id} destination_prefixes`,
    ),
    callerId: row.caller_id,
    callerIdPresentation: row.caller_id_presentation === 'withheld' ? 'withheld' : 'allowed',
    createdAt: row.created_at,
  };
}

export function sipAccountResource(row: SipAccountRow, domain: string): SipAccountResource {
  return {
    username: row.username,
    number: row.number,
    domain,
    mobile: row.mobile,
    missedCallSms: row.missed_call_sms === 1,
    forwardTo: row.forward_to,
    callerId: row.caller_id,
    voicemail: row.voicemail === 1,
    createdAt: row.created_at,
  };
}

export function routingRuleResource(row: RoutingRuleRow): RoutingRuleResource {
  return {
    id: row.id,
    prefix: row.prefix,
    trunkId: row.trunk_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function cdrResource(row: CdrRow): CdrResource {
  return {
    id: row.id,
    sipCallId: row.sip_call_id,
    caller: row.caller,
    callee: row.callee,
    trunkId: row.trunk_id,
    direction: row.direction,
    startedAt: row.started_at,
    answeredAt: row.answered_at,
    endedAt: row.ended_at,
    durationMs: row.duration_ms,
    billableSeconds: row.billable_seconds,
    disposition: row.disposition,
    sipStatus: row.sip_status,
    hangupBy: row.hangup_by,
    forwardedTo: row.forwarded_to,
    transferredTo: row.transferred_to,
    media: parseJson<Record<string, unknown>>(row.media, `cdr ${row.id} media`),
  };
}

export function messageResource(row: MessageRow): MessageResource {
  return {
    id: row.id,
    from: row.sender,
    to: row.recipient,
    text: row.text,
    encoding: row.encoding,
    parts: row.parts,
    status: row.status,
    errorCode: row.error_code,
    acceptedAt: row.accepted_at,
    sentAt: row.sent_at,
    doneAt: row.done_at,
  };
}

export function webhookResource(row: WebhookRow): WebhookResource {
  return {
    id: row.id,
    url: row.url,
    events: parseJson<string[]>(row.events, `webhook ${row.id} events`),
    format: row.format === 'jasmin' ? 'jasmin' : 'phase2',
    createdAt: row.created_at,
  };
}

/** A customer's own resource: where it is kept, the column that names it, what it is called in a 404. */
export interface OwnedResource {
  table: 'trunks' | 'routing_rules' | 'templates' | 'contact_lists' | 'campaigns' | 'sip_accounts';
  key: 'id' | 'username';
  what: string;
}

/** The customer's own row, or 404: another customer's resource is as absent as one never made. */
export function ownRow<Row>(db: Db, owned: OwnedResource, customerId: string, name: string): Row {
  const row = db
    .prepare(`SELECT * FROM ${owned.table} WHERE ${owned.key} = ? AND customer_id = ?`)
    .get(name, customerId) as Row | undefined;
  if (!row) throw new NotFoundError(owned.what, name);
  return row;
}

/** Reads a committed message for its owner; undefined when missing or someone else's. */
export function findMessage(db: Db, customerId: string, id: string): MessageResource | undefined {
  const row = db.prepare('SELECT * FROM messages WHERE id = ? AND customer_id = ?').get(id, customerId) as
    MessageRow | undefined;
  return row ? messageResource(row) : undefined;
}

export function findCdr(db: Db, customerId: string, id: string): CdrResource | undefined {
  const row = db.prepare('SELECT * FROM cdrs WHERE id = ? AND customer_id = ?').get(id, customerId) as
    CdrRow | undefined;
  return row ? cdrResource(row) : undefined;
}

/** JSON columns are written by this platform: a corrupt one is a bug, reported loudly (500 with the column named). */
function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`corrupt JSON in ${what}: ${(error as Error).message}`);
  }
}
