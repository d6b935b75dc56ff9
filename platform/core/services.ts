import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { SmscRejection, type ConnectorStatus, type SmscService } from '../smsc/service';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { InputReader } from '../input';
import { renderTemplate } from './templates';
import { E164 } from '../phone-numbers';
import { isOptedOut } from './opt-outs';
import { UNFINISHED_CAMPAIGN_STATUSES } from './campaigns';
import { webhookUrlRefusal, type PeerAllowlist } from './peers';
import {
  CUSTOMER_TIERS,
  NUMBER_KINDS,
  cdrResource,
  customerResource,
  findCdr,
  findMessage,
  numberResource,
  routingRuleResource,
  sipAccountResource,
  verificationResource,
  voicemailResource,
  trunkResource,
  webhookResource,
  type CdrResource,
  type CdrRow,
  type CustomerResource,
  type CustomerRow,
  type MessageResource,
  type NumberResource,
  type NumberRow,
  type RoutingRuleResource,
  type RoutingRuleRow,
  type SipAccountResource,
  type SipAccountRow,
  type TemplateResource,
  type TemplateRow,
  templateResource,
  type VerificationResource,
  type VerificationRow,
  type VoicemailResource,
  type VoicemailRow,
  type TrunkResource,
  type TrunkRow,
  type WebhookResource,
  type WebhookRow,
  WEBHOOK_FORMATS,
} from './resources';
import { EVENT_FAMILIES, EVENT_TYPES } from './webhook-events';

/** Who is asking: the operator (admin key) or one customer (its own key). */
export type Caller = { role: 'operator' } | { role: 'customer'; customerId: string };

export interface CreatedCustomer extends CustomerResource {
  apiKey: string;
  smpp: { systemId: string; password: string };
}

export interface CreatedWebhook extends WebhookResource {
  secret: string;
}

/** Message analytics over a time window (GET /v1/analytics/messages). */
export interface MessageAnalytics {
  since: string | null;
  until: string | null;
  /** Only this campaign's texts, when asked for. */
  campaignId: string | null;
  total: number;
  counts: Record<string, number>;
  /** Delivered among the texts with a final outcome; null when none has one yet. */
  deliveryRate: number | null;
  deliveryLatencyMs: { p50: number; p95: number; max: number; samples: number } | null;
}

/** A call in progress as the API shows it. */
export interface LiveCallResource {
  id: string;
  sipCallId: string;
  direction: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  state: 'ringing' | 'answered';
  held: boolean;
  startedAt: string;
  answeredAt: string | null;
}

/** What the API may do to calls in progress (the sip-edge implements it). */
export interface LiveCallControl {
  list(customerId: string): LiveCallResource[];
  /** Hangs up both legs (BYE once answered, else the caller gets 480); false when no such live call. */
  hangup(customerId: string, callId: string): boolean;
  /** Stops (held) or restarts media both ways at the relay; undefined when no such answered call. */
  setHeld(customerId: string, callId: string, held: boolean): LiveCallResource | undefined;
  /** Blind transfer: the customer's party is released and the other party is connected to `target`. */
  transfer(
    customerId: string,
    callId: string,
    target: string,
  ): Promise<'transferred' | 'no-such-call' | 'no-route'>;
}

export interface CdrFilter {
  sipCallId?: string;
  caller?: string;
  callee?: string;
  disposition?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: { startedAt: string; id: string };
}

const E164_HINT = 'must be an E.164 number: + and 8 to 15 digits, such as +14155550100';
const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const HOST = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+)$/;
const IDENTIFIER = /^[A-Za-z0-9._-]{1,64}$/;
const DISPOSITIONS = ['answered', 'no-answer', 'busy', 'failed', 'cancelled'] as const;
const PRESENTATIONS = ['allowed', 'withheld'] as const;
const MESSAGE_STATUSES = [
  'queued',
  'sent',
  'delivered',
  'undeliverable',
  'expired',
  'rejected',
  'failed',
] as const;
const FINAL_MESSAGE_STATUSES = ['delivered', 'undeliverable', 'expired', 'rejected', 'failed'] as const;
const VOICE_SERVICES = ['verification', 'callback'] as const;
const PREFIX = /^\+?\d{1,15}$/;
const PREFIX_HINT = 'must be a number prefix: an optional + and 1 to 15 digits';
/** Settings of a SIP account that can be given at creation and changed later. */
const ACCOUNT_SETTINGS = ['mobile', 'missedCallSms', 'forwardTo', 'callerId', 'voicemail'] as const;
export const MAX_CDR_PAGE = 500;
const DEFAULT_CDR_PAGE = 50;

/**
 * The platform's business services behind the API: every rule about who may own what lives here,
 * independent of HTTP. Input arrives as untrusted JSON (`unknown`) and is validated field by field.
 */
export class CoreServices {
  constructor(
    private readonly db: Db,
    private readonly smsc: SmscService,
    private readonly sipDomain: string,
    /** Where trunks, webhooks and connectors may point: the platform sends traffic there. */
    private readonly peers: PeerAllowlist,
    private readonly calls: LiveCallControl,
  ) {}

  // ---- customers ----

  createCustomer(body: unknown): CreatedCustomer {
    const input = new InputReader(body, ['name', 'tier']);
    const name = input.string('name', { maxLength: 200 });
    const tier = input.oneOf('tier', CUSTOMER_TIERS);
    input.done();

    const customer: CustomerResource = {
      id: `cus_${randomBytes(8).toString('hex')}`,
      name,
      tier,
      createdAt: nowIso(),
    };
    const apiKey = randomBytes(24).toString('hex');
    // SMPP limits: system_id ≤ 15 octets, password ≤ 8 octets.
    const smpp = {
      systemId: `esme${randomBytes(5).toString('hex')}`,
      password: randomBytes(6).toString('base64url'),
    };
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)')
        .run(customer.id, name, tier, customer.createdAt);
      this.db
        .prepare('INSERT INTO api_keys (key, customer_id, created_at) VALUES (?, ?, ?)')
        .run(apiKey, customer.id, customer.createdAt);
      this.db
        .prepare(
          'INSERT INTO smpp_accounts (system_id, customer_id, password, throughput_per_second) VALUES (?, ?, ?, NULL)',
        )
        .run(smpp.systemId, customer.id, smpp.password);
    })();
    return { ...customer, apiKey, smpp };
  }

  /** The operator sees every customer; a customer sees only itself (others are "not found", never "forbidden"). */
  getCustomer(caller: Caller, id: string): CustomerResource {
    if (caller.role === 'customer' && caller.customerId !== id) throw new NotFoundError('customer', id);
    const row = this.db.prepare('SELECT * FROM customers WHERE id = ?').get(id) as CustomerRow | undefined;
    if (!row) throw new NotFoundError('customer', id);
    return customerResource(row);
  }

  /** Resolves an API key to its caller; undefined for an unknown key. */
  callerForKey(key: string): Caller | undefined {
    const row = this.db.prepare('SELECT customer_id FROM api_keys WHERE key = ?').get(key) as
      { customer_id: string | null } | undefined;
    if (!row) return undefined;
    return row.customer_id === null
      ? { role: 'operator' }
      : { role: 'customer', customerId: row.customer_id };
  }

  // ---- numbers ----

  addNumber(customerId: string, body: unknown): NumberResource {
    const input = new InputReader(body, ['number', 'kind']);
    const kind = input.oneOf('kind', NUMBER_KINDS);
    const number =
      kind === 'short-code'
        ? input.string('number', {
            pattern: SHORT_CODE,
            patternHint: 'must be a short code of 3 to 8 digits',
          })
        : input.string('number', { pattern: E164, patternHint: E164_HINT });
    input.done();

    const owner = this.db.prepare('SELECT customer_id FROM numbers WHERE e164 = ?').get(number) as
      { customer_id: string } | undefined;
    if (owner) throw new ConflictError(`number ${number} is already assigned`);
    const row: NumberRow = {
      e164: number,
      customer_id: customerId,
      kind,
      voice_service: null,
      callback_agent: null,
      code_ttl_seconds: null,
      created_at: nowIso(),
    };
    this.db
      .prepare('INSERT INTO numbers (e164, customer_id, kind, created_at) VALUES (?, ?, ?, ?)')
      .run(row.e164, row.customer_id, row.kind, row.created_at);
    return numberResource(row);
  }

  /**
   * Dedicates a number to a voice service: 'verification' (the verification line) or 'callback'
   * (texts of CALL ME get a call back from `agent`, one of the customer's SIP users); null gives
   * it back to its SIP account.
   */
  updateNumber(customerId: string, number: string, body: unknown): NumberResource {
    const row = this.db
      .prepare('SELECT * FROM numbers WHERE e164 = ? AND customer_id = ?')
      .get(number, customerId) as NumberRow | undefined;
    if (!row) throw new NotFoundError('number', number);
    const input = new InputReader(body, ['voiceService', 'agent', 'codeTtlSeconds']);
    const service = input.nullableOneOf('voiceService', VOICE_SERVICES);
    const agent = input.optionalString('agent', { pattern: IDENTIFIER });
    if (service === 'callback' && agent === undefined)
      input.fail('agent', 'is required for a callback number: the SIP username of the agent who calls back');
    if (agent !== undefined && service !== 'callback') input.fail('agent', 'is only for a callback number');
    const codeTtlSeconds = input.has('codeTtlSeconds') ? input.integer('codeTtlSeconds', 1, 3600) : null;
    if (codeTtlSeconds !== null && service !== 'verification')
      input.fail('codeTtlSeconds', 'is only for a verification line');
    if (
      agent !== undefined &&
      !this.db
        .prepare('SELECT 1 FROM sip_accounts WHERE username = ? AND customer_id = ?')
        .get(agent, customerId)
    )
      input.fail('agent', `${agent} is not one of your SIP users`);
    input.done();
    const updated: NumberRow = {
      ...row,
      voice_service: service,
      callback_agent: agent ?? null,
      code_ttl_seconds: codeTtlSeconds,
    };
    this.db
      .prepare(
        `UPDATE numbers SET voice_service = @voice_service, callback_agent = @callback_agent,
           code_ttl_seconds = @code_ttl_seconds WHERE e164 = @e164`,
      )
      .run(updated);
    return numberResource(updated);
  }

  listVoicemails(customerId: string, query: URLSearchParams): VoicemailResource[] {
    const mailbox = query.get('mailbox');
    const rows = this.db
      .prepare(
        `SELECT id, customer_id, mailbox, caller, sip_call_id, received_at, duration_ms, transcript, transcription_status
         FROM voicemails WHERE customer_id = ? AND (? IS NULL OR mailbox = ?) ORDER BY received_at DESC, id DESC LIMIT 500`,
      )
      .all(customerId, mailbox, mailbox) as VoicemailRow[];
    return rows.map(voicemailResource);
  }

  getVoicemail(customerId: string, id: string): VoicemailResource {
    const found = this.voicemailRow(customerId, id);
    if (!found) throw new NotFoundError('voicemail', id);
    return voicemailResource(found);
  }

  private voicemailRow(customerId: string, id: string): VoicemailRow | undefined {
    return this.db
      .prepare(
        `SELECT id, customer_id, mailbox, caller, sip_call_id, received_at, duration_ms, transcript, transcription_status
         FROM voicemails WHERE customer_id = ? AND id = ?`,
      )
      .get(customerId, id) as VoicemailRow | undefined;
  }

  listVerifications(customerId: string, query: URLSearchParams): VerificationResource[] {
    const phone = query.get('phone');
    const rows = this.db
      .prepare(
        'SELECT * FROM verifications WHERE customer_id = ? AND (? IS NULL OR phone = ?) ORDER BY created_at DESC, id DESC LIMIT 500',
      )
      .all(customerId, phone, phone) as VerificationRow[];
    return rows.map((row) => verificationResource(row));
  }

  getVerification(customerId: string, id: string): VerificationResource {
    const row = this.db
      .prepare('SELECT * FROM verifications WHERE customer_id = ? AND id = ?')
      .get(customerId, id) as VerificationRow | undefined;
    if (!row) throw new NotFoundError('verification', id);
    return verificationResource(row);
  }

  listNumbers(customerId: string): NumberResource[] {
    const rows = this.db
      .prepare('SELECT * FROM numbers WHERE customer_id = ? ORDER BY created_at, e164')
      .all(customerId) as NumberRow[];
    return rows.map(numberResource);
  }

  // ---- voice ----

  createSipAccount(customerId: string, body: unknown): SipAccountResource {
    const input = new InputReader(body, ['username', 'password', 'number', ...ACCOUNT_SETTINGS]);
    const username = input.string('username', {
      pattern: IDENTIFIER,
      patternHint: 'must be 1 to 64 letters, digits, dots, dashes or underscores',
    });
    input.string('password', { minLength: 8, maxLength: 128 });
    const number = input.string('number', { pattern: E164, patternHint: E164_HINT });
    if (number && !this.owns(customerId, number))
      input.fail('number', `${number} is not one of your numbers`);
    const settings = this.readAccountSettings(customerId, input);
    input.done();
    const password = (body as { password: string }).password;

    const taken = this.db.prepare('SELECT 1 FROM sip_accounts WHERE username = ?').get(username);
    if (taken) throw new ConflictError(`SIP username ${username} is already taken`);
    const row: SipAccountRow = {
      username,
      customer_id: customerId,
      password,
      number,
      mobile: settings.mobile ?? null,
      missed_call_sms: settings.missedCallSms ? 1 : 0,
      forward_to: settings.forwardTo ?? null,
      caller_id: settings.callerId ?? null,
      voicemail: settings.voicemail ? 1 : 0,
      created_at: nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO sip_accounts (username, customer_id, password, number, mobile, missed_call_sms, forward_to, caller_id, voicemail, created_at)
         VALUES (@username, @customer_id, @password, @number, @mobile, @missed_call_sms, @forward_to, @caller_id, @voicemail, @created_at)`,
      )
      .run(row);
    return sipAccountResource(row, this.sipDomain);
  }

  getSipAccount(customerId: string, username: string): SipAccountResource {
    return sipAccountResource(this.sipAccountRow(customerId, username), this.sipDomain);
  }

  /** Changes the settings sent; a setting sent as null is cleared. */
  updateSipAccount(customerId: string, username: string, body: unknown): SipAccountResource {
    const row = this.sipAccountRow(customerId, username);
    const input = new InputReader(body, ACCOUNT_SETTINGS);
    const settings = this.readAccountSettings(customerId, input);
    input.done();
    const updated: SipAccountRow = {
      ...row,
      mobile: settings.mobile === undefined ? row.mobile : settings.mobile,
      missed_call_sms:
        settings.missedCallSms === undefined ? row.missed_call_sms : settings.missedCallSms ? 1 : 0,
      forward_to: settings.forwardTo === undefined ? row.forward_to : settings.forwardTo,
      caller_id: settings.callerId === undefined ? row.caller_id : settings.callerId,
      voicemail: settings.voicemail === undefined ? row.voicemail : settings.voicemail ? 1 : 0,
    };
    if (updated.missed_call_sms === 1 && updated.mobile === null)
      throw new ValidationError([
        { field: 'missedCallSms', message: 'needs a mobile number to send the texts to: set mobile too' },
      ]);
    this.db
      .prepare(
        `UPDATE sip_accounts SET mobile = @mobile, missed_call_sms = @missed_call_sms, forward_to = @forward_to,
           caller_id = @caller_id, voicemail = @voicemail WHERE username = @username`,
      )
      .run(updated);
    return sipAccountResource(updated, this.sipDomain);
  }

  private sipAccountRow(customerId: string, username: string): SipAccountRow {
    const row = this.db
      .prepare('SELECT * FROM sip_accounts WHERE username = ? AND customer_id = ?')
      .get(username, customerId) as SipAccountRow | undefined;
    if (!row) throw new NotFoundError('SIP account', username);
    return row;
  }

  private readAccountSettings(
    customerId: string,
    input: InputReader,
  ): {
    mobile?: string | null;
    missedCallSms?: boolean;
    forwardTo?: string | null;
    callerId?: string | null;
    voicemail?: boolean;
  } {
    const mobile = input.nullableString('mobile', { pattern: E164, patternHint: E164_HINT });
    const missedCallSms = input.optionalBoolean('missedCallSms');
    if (missedCallSms === true && input.has('mobile') && mobile === null)
      input.fail('missedCallSms', 'needs a mobile number to send the texts to');
    const forwardTo = input.nullableString('forwardTo', { pattern: E164, patternHint: E164_HINT });
    const callerId = input.nullableString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (typeof callerId === 'string' && !this.owns(customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const voicemail = input.optionalBoolean('voicemail');
    return { mobile, missedCallSms, forwardTo, callerId, voicemail };
  }

  createTrunk(customerId: string, body: unknown): TrunkResource {
    const input = new InputReader(body, [
      'name',
      'host',
      'port',
      'transport',
      'destinationPrefixes',
      'callerId',
      'callerIdPresentation',
    ]);
    const name = input.string('name', { maxLength: 200 });
    const host = input.string('host', {
      maxLength: 253,
      pattern: HOST,
      patternHint: 'must be a host name or an IP address',
    });
    if (host && !this.peers.allows(host)) input.fail('host', `${host} ${this.peers.rule()}`);
    const port = input.integer('port', 1, 65535);
    input.oneOf('transport', ['udp'] as const);
    const destinationPrefixes = input.stringArray('destinationPrefixes', {
      optional: true,
      pattern: PREFIX,
      patternHint: PREFIX_HINT,
    });
    const callerId = input.optionalString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (callerId !== undefined && !this.owns(customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const presentation = input.optionalOneOf('callerIdPresentation', PRESENTATIONS) ?? 'allowed';
    input.done();

    const row: TrunkRow = {
      id: `trk_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name,
      host,
      port,
      transport: 'udp',
      destination_prefixes: JSON.stringify(destinationPrefixes),
      caller_id: callerId ?? null,
      caller_id_presentation: presentation,
      created_at: nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO trunks (id, customer_id, name, host, port, transport, destination_prefixes, caller_id, caller_id_presentation, created_at)
         VALUES (@id, @customer_id, @name, @host, @port, @transport, @destination_prefixes, @caller_id, @caller_id_presentation, @created_at)`,
      )
      .run(row);
    return trunkResource(row);
  }

  /** Changes the routing and caller-ID settings sent; callerId null goes back to the caller's own number. */
  updateTrunk(customerId: string, id: string, body: unknown): TrunkResource {
    const row = this.trunkRow(customerId, id);
    const input = new InputReader(body, ['name', 'destinationPrefixes', 'callerId', 'callerIdPresentation']);
    const name = input.optionalString('name', { maxLength: 200 });
    const prefixes = input.has('destinationPrefixes')
      ? input.stringArray('destinationPrefixes', { pattern: PREFIX, patternHint: PREFIX_HINT })
      : undefined;
    const callerId = input.nullableString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (typeof callerId === 'string' && !this.owns(customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const presentation = input.optionalOneOf('callerIdPresentation', PRESENTATIONS);
    input.done();
    const updated: TrunkRow = {
      ...row,
      name: name ?? row.name,
      destination_prefixes: prefixes === undefined ? row.destination_prefixes : JSON.stringify(prefixes),
      caller_id: callerId === undefined ? row.caller_id : callerId,
      caller_id_presentation: presentation ?? row.caller_id_presentation,
    };
    this.db
      .prepare(
        `UPDATE trunks SET name = @name, destination_prefixes = @destination_prefixes, caller_id = @caller_id,
           caller_id_presentation = @caller_id_presentation WHERE id = @id`,
      )
      .run(updated);
    return trunkResource(updated);
  }

  private trunkRow(customerId: string, id: string): TrunkRow {
    const row = this.db
      .prepare('SELECT * FROM trunks WHERE id = ? AND customer_id = ?')
      .get(id, customerId) as TrunkRow | undefined;
    if (!row) throw new NotFoundError('trunk', id);
    return row;
  }

  // ---- routing rules ----

  createRoutingRule(customerId: string, body: unknown): RoutingRuleResource {
    const { prefix, trunkId } = this.readRoutingRule(customerId, body);
    const now = nowIso();
    const row: RoutingRuleRow = {
      id: `rr_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      prefix,
      trunk_id: trunkId,
      created_at: now,
      updated_at: now,
    };
    this.refuseDuplicatePrefix(customerId, prefix, row.id);
    this.db
      .prepare(
        `INSERT INTO routing_rules (id, customer_id, prefix, trunk_id, created_at, updated_at)
         VALUES (@id, @customer_id, @prefix, @trunk_id, @created_at, @updated_at)`,
      )
      .run(row);
    return routingRuleResource(row);
  }

  listRoutingRules(customerId: string): RoutingRuleResource[] {
    const rows = this.db
      .prepare('SELECT * FROM routing_rules WHERE customer_id = ? ORDER BY prefix')
      .all(customerId) as RoutingRuleRow[];
    return rows.map(routingRuleResource);
  }

  /** Replaces a rule in one statement: the next call routes by the new rule, never by neither. */
  replaceRoutingRule(customerId: string, id: string, body: unknown): RoutingRuleResource {
    const row = this.routingRuleRow(customerId, id);
    const { prefix, trunkId } = this.readRoutingRule(customerId, body);
    this.refuseDuplicatePrefix(customerId, prefix, id);
    const updated: RoutingRuleRow = { ...row, prefix, trunk_id: trunkId, updated_at: nowIso() };
    this.db
      .prepare(
        'UPDATE routing_rules SET prefix = @prefix, trunk_id = @trunk_id, updated_at = @updated_at WHERE id = @id',
      )
      .run(updated);
    return routingRuleResource(updated);
  }

  deleteRoutingRule(customerId: string, id: string): void {
    this.routingRuleRow(customerId, id);
    this.db.prepare('DELETE FROM routing_rules WHERE id = ?').run(id);
  }

  private routingRuleRow(customerId: string, id: string): RoutingRuleRow {
    const row = this.db
      .prepare('SELECT * FROM routing_rules WHERE id = ? AND customer_id = ?')
      .get(id, customerId) as RoutingRuleRow | undefined;
    if (!row) throw new NotFoundError('routing rule', id);
    return row;
  }

  private readRoutingRule(customerId: string, body: unknown): { prefix: string; trunkId: string } {
    const input = new InputReader(body, ['prefix', 'trunkId']);
    const prefix = input.string('prefix', {
      pattern: /^\+[0-9]{1,15}$/,
      patternHint: 'must be an E.164 prefix: + and 1 to 15 digits, such as +44',
    });
    const trunkId = input.string('trunkId');
    if (
      trunkId &&
      !this.db.prepare('SELECT 1 FROM trunks WHERE id = ? AND customer_id = ?').get(trunkId, customerId)
    )
      input.fail('trunkId', `${trunkId} is not one of your trunks`);
    input.done();
    return { prefix, trunkId };
  }

  private refuseDuplicatePrefix(customerId: string, prefix: string, exceptId: string): void {
    const other = this.db
      .prepare('SELECT id FROM routing_rules WHERE customer_id = ? AND prefix = ? AND id <> ?')
      .get(customerId, prefix, exceptId) as { id: string } | undefined;
    if (other)
      throw new ConflictError(`routing rule ${other.id} already routes ${prefix}: change that rule instead`);
  }

  // ---- live calls ----

  listLiveCalls(customerId: string): LiveCallResource[] {
    return this.calls.list(customerId);
  }

  getLiveCall(customerId: string, id: string): LiveCallResource {
    const call = this.calls.list(customerId).find((c) => c.id === id);
    if (!call) throw new NotFoundError('live call', id);
    return call;
  }

  hangupLiveCall(customerId: string, id: string): void {
    if (!this.calls.hangup(customerId, id)) throw new NotFoundError('live call', id);
  }

  holdLiveCall(customerId: string, id: string, held: boolean): LiveCallResource {
    const call = this.calls.setHeld(customerId, id, held);
    if (!call) throw new NotFoundError('answered live call', id);
    return call;
  }

  async transferLiveCall(customerId: string, id: string, body: unknown): Promise<{ id: string; to: string }> {
    const input = new InputReader(body, ['to']);
    const to = input.string('to', {
      pattern: /^(\+[1-9][0-9]{7,14}|[A-Za-z0-9._-]{1,64})$/,
      patternHint: 'must be an E.164 number or one of your SIP usernames',
    });
    input.done();
    const outcome = await this.calls.transfer(customerId, id, to);
    if (outcome === 'no-such-call') throw new NotFoundError('answered live call', id);
    if (outcome === 'no-route')
      throw new ValidationError([
        {
          field: 'to',
          message: `${to} is neither a registered user of yours nor reachable over your trunks`,
        },
      ]);
    return { id, to };
  }

  listTrunks(customerId: string): TrunkResource[] {
    const rows = this.db
      .prepare('SELECT * FROM trunks WHERE customer_id = ? ORDER BY created_at, id')
      .all(customerId) as TrunkRow[];
    return rows.map(trunkResource);
  }

  getTrunk(customerId: string, id: string): TrunkResource {
    return trunkResource(this.trunkRow(customerId, id));
  }

  /** Reads CDR filters from a query string; bad values are a 422 naming the parameter. */
  parseCdrFilter(query: URLSearchParams): CdrFilter {
    const errors: Array<{ field: string; message: string }> = [];
    const text = (name: string): string | undefined => query.get(name) ?? undefined;
    const time = (name: string): string | undefined => {
      const raw = query.get(name);
      if (raw === null) return undefined;
      const parsed = Date.parse(raw);
      if (Number.isNaN(parsed)) {
        errors.push({ field: name, message: 'must be an ISO-8601 date-time such as 2025-01-31T12:00:00Z' });
        return undefined;
      }
      return new Date(parsed).toISOString();
    };
    const filter: CdrFilter = {
      sipCallId: text('sipCallId'),
      caller: text('caller'),
      callee: text('callee'),
      disposition: text('disposition'),
      since: time('since'),
      until: time('until'),
      limit: DEFAULT_CDR_PAGE,
    };
    if (
      filter.disposition !== undefined &&
      !(DISPOSITIONS as readonly string[]).includes(filter.disposition)
    ) {
      errors.push({ field: 'disposition', message: `must be one of: ${DISPOSITIONS.join(', ')}` });
    }
    const limit = query.get('limit');
    if (limit !== null) {
      const value = Number(limit);
      if (!/^\d+$/.test(limit) || value < 1 || value > MAX_CDR_PAGE) {
        errors.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_CDR_PAGE}` });
      } else {
        filter.limit = value;
      }
    }
    const cursor = query.get('cursor');
    if (cursor !== null) {
      filter.cursor = decodeCursor(cursor);
      if (!filter.cursor) errors.push({ field: 'cursor', message: 'is not a cursor this API returned' });
    }
    if (errors.length > 0) throw new ValidationError(errors);
    return filter;
  }

  /** Newest first; the cursor is the (startedAt, id) of the last row returned, so pages never skip or repeat. */
  listCdrs(customerId: string, filter: CdrFilter): { items: CdrResource[]; nextCursor: string | null } {
    const where = ['customer_id = @customerId'];
    const params: Record<string, string | number> = { customerId, limit: filter.limit + 1 };
    const equal = (column: string, name: keyof CdrFilter): void => {
      const value = filter[name];
      if (typeof value === 'string') {
        where.push(`${column} = @${name}`);
        params[name] = value;
      }
    };
    equal('sip_call_id', 'sipCallId');
    equal('caller', 'caller');
    equal('callee', 'callee');
    equal('disposition', 'disposition');
    if (filter.since) {
      where.push('started_at >= @since');
      params.since = filter.since;
    }
    if (filter.until) {
      where.push('started_at < @until');
      params.until = filter.until;
    }
    if (filter.cursor) {
      where.push('(started_at < @cursorAt OR (started_at = @cursorAt AND id < @cursorId))');
      params.cursorAt = filter.cursor.startedAt;
      params.cursorId = filter.cursor.id;
    }
    const rows = this.db
      .prepare(
        `SELECT * FROM cdrs WHERE ${where.join(' AND ')} ORDER BY started_at DESC, id DESC LIMIT @limit`,
      )
      .all(params) as CdrRow[];
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > filter.limit && last ? encodeCursor({ startedAt: last.started_at, id: last.id }) : null;
    return { items: page.map(cdrResource), nextCursor };
  }

  getCdr(customerId: string, id: string): CdrResource {
    const cdr = findCdr(this.db, customerId, id);
    if (!cdr) throw new NotFoundError('call record', id);
    return cdr;
  }

  // ---- messaging ----

  sendMessage(customerId: string, body: unknown): MessageResource {
    const input = new InputReader(body, ['from', 'to', 'text', 'mediaUrl', 'templateId', 'variables']);
    const from = input.string('from');
    const to = input.string('to');
    const text = input.has('templateId')
      ? this.renderForSend(customerId, input, body as Record<string, unknown>)
      : input.string('text', { minLength: 0 });
    // Asked for by name so the answer is an explanation, not "unknown field".
    if (input.has('mediaUrl'))
      input.fail(
        'mediaUrl',
        'picture messages (MMS) are not supported: the mobile networks behind this platform carry text only; send the text without mediaUrl',
      );
    const senderProblem = from ? this.senderProblem(customerId, from) : undefined;
    if (senderProblem) input.fail('from', senderProblem);
    if (to && isOptedOut(this.db, customerId, to))
      input.fail(
        'to',
        `${to} has opted out of your texts (replied STOP, or recorded through /v1/opt-outs); they get texts again once they reply START`,
      );
    input.done();

    let accepted;
    try {
      accepted = this.smsc.acceptMessage({
        customerId,
        source: 'api',
        sender: from,
        recipient: to,
        text,
        registeredDelivery: true,
      });
    } catch (error) {
      if (error instanceof SmscRejection)
        throw new ValidationError([{ field: REJECTION_FIELD[error.reason], message: error.message }]);
      throw error;
    }
    const stored = findMessage(this.db, customerId, accepted.id);
    if (!stored) throw new Error(`the SMSC accepted message ${accepted.id} but the store has no row for it`);
    return stored;
  }

  /** The text of a send by template: the template rendered with `variables`; each missing one is named. */
  private renderForSend(customerId: string, input: InputReader, body: Record<string, unknown>): string {
    if (input.has('text')) input.fail('text', 'send either a text or a templateId, not both');
    const templateId = input.string('templateId');
    const values = body.variables ?? {};
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      input.fail('variables', 'must be an object of variable names to text values');
      return '';
    }
    const strings: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === 'string') strings[name] = value;
      else input.fail(`variables.${name}`, 'must be a string');
    }
    const template = this.db
      .prepare('SELECT * FROM templates WHERE id = ? AND customer_id = ?')
      .get(templateId, customerId) as TemplateRow | undefined;
    if (!template) {
      if (templateId) input.fail('templateId', `${templateId} is not one of your templates`);
      return '';
    }
    const rendered = renderTemplate(template.body, strings);
    for (const name of rendered.missing)
      input.fail(`variables.${name}`, `template "${template.name}" uses {{${name}}}: give it a value`);
    return rendered.text;
  }

  // ---- templates ----

  createTemplate(customerId: string, body: unknown): TemplateResource {
    const { name, text } = this.readTemplate(body);
    const now = nowIso();
    const row: TemplateRow = {
      id: `tpl_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name,
      body: text,
      created_at: now,
      updated_at: now,
    };
    this.refuseDuplicateTemplateName(customerId, name, row.id);
    this.db
      .prepare(
        'INSERT INTO templates (id, customer_id, name, body, created_at, updated_at) VALUES (@id, @customer_id, @name, @body, @created_at, @updated_at)',
      )
      .run(row);
    return templateResource(row);
  }

  listTemplates(customerId: string): TemplateResource[] {
    const rows = this.db
      .prepare('SELECT * FROM templates WHERE customer_id = ? ORDER BY name')
      .all(customerId) as TemplateRow[];
    return rows.map(templateResource);
  }

  getTemplate(customerId: string, id: string): TemplateResource {
    return templateResource(this.templateRow(customerId, id));
  }

  replaceTemplate(customerId: string, id: string, body: unknown): TemplateResource {
    const row = this.templateRow(customerId, id);
    const { name, text } = this.readTemplate(body);
    this.refuseDuplicateTemplateName(customerId, name, id);
    const updated: TemplateRow = { ...row, name, body: text, updated_at: nowIso() };
    this.db
      .prepare('UPDATE templates SET name = @name, body = @body, updated_at = @updated_at WHERE id = @id')
      .run(updated);
    return templateResource(updated);
  }

  /** A template an unfinished campaign sends cannot be deleted: the campaign renders it for each contact. */
  deleteTemplate(customerId: string, id: string): void {
    this.templateRow(customerId, id);
    const user = this.db
      .prepare(
        `SELECT id, status FROM campaigns WHERE template_id = ? AND status IN (${UNFINISHED_CAMPAIGN_STATUSES.map(() => '?').join(', ')}) ORDER BY created_at LIMIT 1`,
      )
      .get(id, ...UNFINISHED_CAMPAIGN_STATUSES) as { id: string; status: string } | undefined;
    if (user)
      throw new ConflictError(
        `template ${id} is used by campaign ${user.id}, which is ${user.status}: cancel the campaign or let it complete first`,
      );
    this.db.prepare('DELETE FROM templates WHERE id = ?').run(id);
  }

  private templateRow(customerId: string, id: string): TemplateRow {
    const row = this.db
      .prepare('SELECT * FROM templates WHERE id = ? AND customer_id = ?')
      .get(id, customerId) as TemplateRow | undefined;
    if (!row) throw new NotFoundError('template', id);
    return row;
  }

  private readTemplate(body: unknown): { name: string; text: string } {
    const input = new InputReader(body, ['name', 'body']);
    const name = input.string('name', { maxLength: 100 });
    const text = input.string('body', { maxLength: 1600 });
    input.done();
    return { name, text };
  }

  private refuseDuplicateTemplateName(customerId: string, name: string, exceptId: string): void {
    const other = this.db
      .prepare('SELECT id FROM templates WHERE customer_id = ? AND name = ? AND id <> ?')
      .get(customerId, name, exceptId) as { id: string } | undefined;
    if (other) throw new ConflictError(`template ${other.id} is already called "${name}"`);
  }

  /**
   * Message analytics over the texts accepted in [since, until): counts by status, the delivery
   * rate among texts with a final outcome, and accept-to-delivered latency percentiles
   * (nearest rank) of the delivered ones, as the network's receipts dated them.
   */
  messageAnalytics(customerId: string, query: URLSearchParams): MessageAnalytics {
    const errors: Array<{ field: string; message: string }> = [];
    const time = (name: string): string | null => {
      const raw = query.get(name);
      if (raw === null) return null;
      const parsed = Date.parse(raw);
      if (Number.isNaN(parsed)) {
        errors.push({ field: name, message: 'must be an ISO-8601 date-time such as 2025-01-31T12:00:00Z' });
        return null;
      }
      return new Date(parsed).toISOString();
    };
    const since = time('since');
    const until = time('until');
    const campaignId = query.get('campaignId');
    if (
      campaignId !== null &&
      !this.db.prepare('SELECT 1 FROM campaigns WHERE id = ? AND customer_id = ?').get(campaignId, customerId)
    )
      errors.push({ field: 'campaignId', message: `${campaignId} is not one of your campaigns` });
    if (errors.length > 0) throw new ValidationError(errors);
    const rows = this.db
      .prepare(
        `SELECT status, accepted_at, done_at FROM messages
          WHERE customer_id = @customerId AND (@since IS NULL OR accepted_at >= @since)
            AND (@until IS NULL OR accepted_at < @until)
            AND (@campaignId IS NULL OR id IN (SELECT message_id FROM campaign_contacts WHERE campaign_id = @campaignId))`,
      )
      .all({ customerId, since, until, campaignId }) as Array<{
      status: string;
      accepted_at: string;
      done_at: string | null;
    }>;
    const counts: Record<string, number> = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0]));
    for (const row of rows) counts[row.status] = (counts[row.status] ?? 0) + 1;
    const finals = FINAL_MESSAGE_STATUSES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    const latencies = rows
      .filter((r) => r.status === 'delivered' && r.done_at !== null)
      .map((r) => Date.parse(r.done_at ?? '') - Date.parse(r.accepted_at))
      .sort((a, b) => a - b);
    const rank = (p: number): number =>
      latencies[Math.max(0, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0;
    return {
      since,
      until,
      campaignId,
      total: rows.length,
      counts,
      deliveryRate: finals === 0 ? null : (counts.delivered ?? 0) / finals,
      deliveryLatencyMs:
        latencies.length === 0
          ? null
          : {
              p50: rank(50),
              p95: rank(95),
              max: latencies[latencies.length - 1] ?? 0,
              samples: latencies.length,
            },
    };
  }

  getMessage(customerId: string, id: string): MessageResource {
    const message = findMessage(this.db, customerId, id);
    if (!message) throw new NotFoundError('message', id);
    return message;
  }

  // ---- webhooks ----

  createWebhook(customerId: string, body: unknown): CreatedWebhook {
    const input = new InputReader(body, ['url', 'events', 'format']);
    const url = input.string('url', { maxLength: 2048 });
    const format = input.optionalOneOf('format', WEBHOOK_FORMATS) ?? 'phase2';
    const refusal = url ? webhookUrlRefusal(url, this.peers) : undefined;
    if (refusal) input.fail('url', refusal);
    const events = input.stringArray('events', { minItems: 1 });
    events.forEach((pattern, index) => {
      if (!isKnownEventPattern(pattern)) {
        input.fail(
          `events[${index}]`,
          `must be an event type (${EVENT_TYPES.join(', ')}) or a family wildcard (${EVENT_FAMILIES.map((f) => `${f}.*`).join(', ')})`,
        );
      }
    });
    if (format === 'jasmin' && events.some((pattern) => !pattern.startsWith('message.')))
      input.fail('events', "Jasmin's DLR dialect carries message reports only: subscribe to message events");
    input.done();

    const row: WebhookRow = {
      id: `wh_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      url,
      secret: `whsec_${randomBytes(24).toString('hex')}`,
      events: JSON.stringify([...new Set(events)]),
      format,
      created_at: nowIso(),
    };
    this.db
      .prepare(
        'INSERT INTO webhooks (id, customer_id, url, secret, events, format, created_at) VALUES (@id, @customer_id, @url, @secret, @events, @format, @created_at)',
      )
      .run(row);
    return { ...webhookResource(row), secret: row.secret };
  }

  listWebhooks(customerId: string): WebhookResource[] {
    const rows = this.db
      .prepare('SELECT * FROM webhooks WHERE customer_id = ? ORDER BY created_at, id')
      .all(customerId) as WebhookRow[];
    return rows.map(webhookResource);
  }

  /** Deleting a subscription discards its outbox rows too (they reference it). */
  deleteWebhook(customerId: string, id: string): void {
    const removed = this.db.transaction(() => {
      const owned = this.db
        .prepare('SELECT 1 FROM webhooks WHERE id = ? AND customer_id = ?')
        .get(id, customerId);
      if (!owned) return false;
      this.db.prepare('DELETE FROM webhook_deliveries WHERE webhook_id = ?').run(id);
      this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id);
      return true;
    })();
    if (!removed) throw new NotFoundError('webhook', id);
  }

  // ---- operations ----

  /** Jasmin's per-user throughput: above it, submit_sm is refused with ESME_RTHROTTLED (read at bind). */
  setSmppThroughput(customerId: string, body: unknown): { customerId: string; perSecond: number | null } {
    if (!this.db.prepare('SELECT 1 FROM customers WHERE id = ?').get(customerId))
      throw new NotFoundError('customer', customerId);
    const input = new InputReader(body, ['perSecond']);
    const perSecond =
      (body as Record<string, unknown>).perSecond === null ? null : input.integer('perSecond', 1, 100_000);
    input.done();
    this.db
      .prepare('UPDATE smpp_accounts SET throughput_per_second = ? WHERE customer_id = ?')
      .run(perSecond, customerId);
    return { customerId, perSecond };
  }

  putConnector(id: string, body: unknown): ConnectorStatus {
    const input = new InputReader(body, ['host', 'port', 'systemId', 'password']);
    if (!IDENTIFIER.test(id))
      input.fail('id', 'must be 1 to 64 letters, digits, dots, dashes or underscores');
    const host = input.string('host', {
      maxLength: 253,
      pattern: HOST,
      patternHint: 'must be a host name or an IP address',
    });
    if (host && !this.peers.allows(host)) input.fail('host', `${host} ${this.peers.rule()}`);
    const port = input.integer('port', 1, 65535);
    const systemId = input.string('systemId', { maxLength: 15 });
    const password = input.string('password', { minLength: 0, maxLength: 8 });
    input.done();

    this.smsc.upsertConnector({ id, host, port, systemId, password });
    const status = this.smsc.connectors().find((c) => c.id === id);
    if (!status) throw new Error(`the SMSC did not list connector ${id} right after it was upserted`);
    return status;
  }

  listConnectors(): ConnectorStatus[] {
    return this.smsc.connectors();
  }

  /** Unbinds and forgets a connector and its routes; its queued messages wait for another route. */
  async deleteConnector(id: string): Promise<void> {
    if (!(await this.smsc.removeConnector(id))) throw new NotFoundError('connector', id);
  }

  /** Removes the route with exactly this prefix. */
  deleteRoute(prefix: string): void {
    if (!this.smsc.removeRoute(prefix)) throw new NotFoundError('route', prefix);
  }

  putRoute(body: unknown): { prefix: string; connectorId: string } {
    const input = new InputReader(body, ['prefix', 'connectorId']);
    const prefix = input.string('prefix', {
      minLength: 0,
      pattern: /^\+?\d{0,15}$/,
      patternHint: "must be a number prefix (an optional + and up to 15 digits), or '' for the default route",
    });
    const connectorId = input.string('connectorId');
    if (connectorId && !this.smsc.connectors().some((c) => c.id === connectorId))
      input.fail('connectorId', `no connector ${connectorId}: create it first`);
    input.done();
    this.smsc.setRoute(prefix, connectorId);
    return { prefix, connectorId };
  }

  /** Why `from` cannot be this customer's sender, or undefined: one of its numbers, or an alphanumeric sender id. */
  senderProblem(customerId: string, from: string): string | undefined {
    const looksNumeric = /^\+?\d+$/.test(from);
    if (looksNumeric && !this.owns(customerId, from)) return `${from} is not one of your numbers`;
    if (!looksNumeric && !ALPHANUMERIC_SENDER.test(from))
      return 'must be one of your numbers or an alphanumeric sender id (1 to 11 letters, digits or spaces, at least one letter)';
    return undefined;
  }

  private owns(customerId: string, number: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM numbers WHERE e164 = ? AND customer_id = ?').get(number, customerId) !==
      undefined
    );
  }
}

const REJECTION_FIELD: Record<SmscRejection['reason'], string> = {
  'invalid-sender': 'from',
  'invalid-recipient': 'to',
  'invalid-text': 'text',
  'too-long': 'text',
};

function isKnownEventPattern(pattern: string): boolean {
  if ((EVENT_TYPES as readonly string[]).includes(pattern)) return true;
  return (EVENT_FAMILIES as readonly string[]).some((family) => pattern === `${family}.*`);
}

function encodeCursor(position: { startedAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([position.startedAt, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): { startedAt: string; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
    ) {
      return { startedAt: value[0], id: value[1] };
    }
  } catch {
    // Not base64url JSON: reported to the caller as an invalid cursor below.
  }
  return undefined;
}
