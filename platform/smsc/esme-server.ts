import { createHash, timingSafeEqual } from 'node:crypto';
import { QuotaCounters } from '../core/customer-quotas';
import { QuotaExceededError } from '../errors';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PDU } from 'smpp';
import type { RoleDeps } from '../role';
import { nowIso } from '../store/store';
import { PendingConcatenations } from './concatenation';
import { MessageStore, type MessageRow } from './message-store';
import { formatReceiptText, MESSAGE_STATE, type ReceiptStat } from './receipts';
import { receiptRequestOf, SmscRejection, type AcceptMessageInput } from './service';
import type { SmscCore } from './smsc-core';
import { networkAddress } from './smsc-core';
import { validateAddresses } from './acceptance';
import { decodeByDataCoding, encodeGsm, MAX_PARTS, splitUdh } from './sms-text';
import { rawShortMessage, rawTlv, SmppLink, STATUS, statusName } from './smpp-link';
import { writeBehind } from '../store/write-behind';
import { recordSpamRejection, SpamFilter } from './spam-filter';
import { isOptedOut } from '../store/opt-out-list';
import { recordAudit, type AuditEntry } from '../core/audit';

type BindMode = 'transmitter' | 'receiver' | 'transceiver';

interface EsmeSession {
  link: SmppLink;
  /** The ESME's address, for the audit trail. */
  remoteAddress: string | null;
  bound: { systemId: string; customerId: string; mode: BindMode; throughputPerSecond: number | null } | null;
  /** Closes the connection unless it binds in time (cleared by the bind). */
  initTimer: NodeJS.Timeout | null;
}

/** Submits counted in the current one-second window of one account, across all its sessions. */
interface ThroughputWindow {
  startedAt: number;
  count: number;
}

/** A receipt the ESME did not acknowledge, due to be offered again. */
interface ReceiptRetry {
  attempt: number;
  timer: NodeJS.Timeout;
}

const MESSAGE_PAYLOAD_TAG = 0x0424;
const SMSC_SYSTEM_ID = 'PHASE2SMSC';
/** Receipt re-offers back off from retryDelayMs, doubling, up to this. */
const MAX_RECEIPT_RETRY_DELAY_MS = 30_000;

const REJECTION_STATUS: Record<SmscRejection['reason'], number> = {
  'invalid-sender': STATUS.ESME_RINVSRCADR,
  'invalid-recipient': STATUS.ESME_RINVDSTADR,
  'invalid-text': STATUS.ESME_RINVMSGLEN,
  'too-long': STATUS.ESME_RINVMSGLEN,
  // What a Jasmin MT interceptor answers a submit it refuses.
  spam: STATUS.ESME_RSUBMITFAIL,
};

const RECEIPT_STAT: Record<string, ReceiptStat> = {
  delivered: 'DELIVRD',
  undeliverable: 'UNDELIV',
  expired: 'EXPIRED',
  rejected: 'REJECTD',
  failed: 'UNDELIV',
};

/**
 * The SMPP server customers' ESMEs bind to: authentication against smpp_accounts, bind-state
 * enforcement, throttling, submit_sm into the SMSC core, and delivery receipts back to the
 * customer's receiver session (kept in the store until acknowledged).
 */
export class EsmeServer {
  private readonly server: Server;
  private readonly sessions = new Set<EsmeSession>();
  private readonly concatenations: PendingConcatenations;
  private readonly receiptsInFlight = new Set<string>();
  private readonly receiptRetries = new Map<string, ReceiptRetry>();
  /** Throttling is per account: opening more sessions must not multiply the allowed rate. */
  private readonly throughputWindows = new Map<string, ThroughputWindow>();
  private closing = false;
  private readonly spam: SpamFilter;
  /** The customer's text quota, shared with the API and every SMSC node (in the store). */
  private readonly quotas: QuotaCounters;

  constructor(
    private readonly deps: RoleDeps,
    private readonly core: SmscCore,
  ) {
    this.spam = new SpamFilter(deps.db, deps.config.security.spam);
    this.quotas = new QuotaCounters(deps.db, deps.config.security.limits, Date.now, (message) =>
      this.log(message),
    );
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', (error) => this.log(`server error: ${error.message}`));
    core.onFinalStatus((row) => this.offerReceipt(row));
    this.concatenations = new PendingConcatenations(
      deps.db,
      core,
      deps.config.smsc.concatenationTimeoutMs,
      (message) => this.log(message),
      this.spam,
    );
  }

  /** Listens, and re-arms the expiry of concatenated sets a previous run left incomplete. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.concatenations.start();
        const address = this.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.concatenations.stop();
    for (const retry of this.receiptRetries.values()) clearTimeout(retry.timer);
    this.receiptRetries.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.link.destroy();
    await closed;
  }

  private onConnection(socket: Socket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const link = new SmppLink(
      socket,
      `ESME ${peer}`,
      { responseTimeoutMs: this.deps.config.smsc.responseTimeoutMs },
      (m) => this.log(m),
    );
    const initTimeoutMs = this.deps.config.smsc.sessionInitTimeoutMs;
    const session: EsmeSession = {
      link,
      remoteAddress: socket.remoteAddress ?? null,
      bound: null,
      initTimer: null,
    };
    session.initTimer = setTimeout(() => {
      session.initTimer = null;
      if (session.bound !== null) return;
      this.log(
        `ESME ${peer}: no bind within ${initTimeoutMs} ms of connecting (session init timer); closing`,
      );
      link.end();
    }, initTimeoutMs);
    this.sessions.add(session);
    link.on('close', () => {
      this.clearInitTimer(session);
      this.sessions.delete(session);
    });
    link.on('request', (pdu, frame) => this.onRequest(session, pdu, frame));
  }

  private clearInitTimer(session: EsmeSession): void {
    if (session.initTimer !== null) clearTimeout(session.initTimer);
    session.initTimer = null;
  }

  private onRequest(session: EsmeSession, pdu: PDU, frame: Buffer): void {
    const { link } = session;
    switch (pdu.command) {
      case 'bind_transmitter':
      case 'bind_receiver':
      case 'bind_transceiver':
        this.onBind(session, pdu);
        return;
      case 'enquire_link':
        link.respond(pdu, STATUS.ESME_ROK);
        return;
      case 'unbind':
        link.respond(pdu, STATUS.ESME_ROK);
        session.bound = null;
        link.end();
        return;
      case 'submit_sm':
        if (session.bound === null || session.bound.mode === 'receiver') {
          link.respond(pdu, STATUS.ESME_RINVBNDSTS);
          return;
        }
        this.onSubmit(session, pdu, frame);
        return;
      default:
        // Everything else the SMSC does not offer; before bind it is a bind-state error first.
        if (session.bound === null) link.respond(pdu, STATUS.ESME_RINVBNDSTS);
        else link.genericNack(pdu.sequence_number, STATUS.ESME_RINVCMDID);
    }
  }

  private onBind(session: EsmeSession, pdu: PDU): void {
    const mode = pdu.command.replace('bind_', '') as BindMode;
    if (session.bound !== null) {
      session.link.respond(pdu, STATUS.ESME_RALYBND);
      return;
    }
    const systemId = typeof pdu.system_id === 'string' ? pdu.system_id : '';
    const account = this.core.messages.account(systemId);
    if (account === undefined) {
      this.log(`bind_${mode} refused: unknown system_id ${JSON.stringify(systemId)}`);
      this.auditBindRefused(
        bindRefusalEntry(session.remoteAddress, mode, systemId, null, 'unknown-system-id'),
      );
      session.link.respond(pdu, STATUS.ESME_RINVSYSID);
      return;
    }
    if (!passwordMatches(pdu.password, account.password)) {
      this.log(`bind_${mode} refused: wrong password for ${systemId}`);
      this.auditBindRefused(
        bindRefusalEntry(session.remoteAddress, mode, systemId, account.customer_id, 'wrong-password'),
      );
      session.link.respond(pdu, STATUS.ESME_RINVPASWD);
      return;
    }
    // Only after the password is proven: a guesser must not learn that the account is suspended.
    if (account.suspended) {
      this.log(`bind_${mode} refused: customer ${account.customer_id} of ${systemId} is suspended`);
      this.auditBindRefused(
        bindRefusalEntry(session.remoteAddress, mode, systemId, account.customer_id, 'customer-suspended'),
      );
      session.link.respond(pdu, STATUS.ESME_RBINDFAIL);
      return;
    }
    session.bound = {
      systemId,
      customerId: account.customer_id,
      mode,
      throughputPerSecond: account.throughput_per_second,
    };
    this.clearInitTimer(session);
    session.link.respond(pdu, STATUS.ESME_ROK, { system_id: SMSC_SYSTEM_ID });
    this.log(`${systemId} bound as ${mode}`);
    if (mode !== 'transmitter') {
      for (const id of this.core.messages.receiptsOwed(account.customer_id)) {
        const row = this.core.messageRow(id);
        if (row !== undefined) this.offerReceipt(row);
      }
    }
  }

  /** A refused bind is recorded before it is answered; a trail that cannot be written is logged, the refusal stands. */
  private auditBindRefused(entry: AuditEntry): void {
    try {
      recordAudit(this.deps.db, entry);
    } catch (error) {
      this.log(`audit of a refused bind failed: ${(error as Error).message}`);
    }
  }

  private throttled(session: EsmeSession): boolean {
    const bound = session.bound;
    const limit = bound?.throughputPerSecond ?? null;
    if (bound === null || limit === null) return false;
    const now = Date.now();
    let window = this.throughputWindows.get(bound.systemId);
    if (window === undefined || now - window.startedAt >= 1000) {
      window = { startedAt: now, count: 0 };
      this.throughputWindows.set(bound.systemId, window);
    }
    window.count += 1;
    return window.count > limit;
  }

  private onSubmit(session: EsmeSession, pdu: PDU, frame: Buffer): void {
    const bound = session.bound;
    if (bound === null) return;
    const { link } = session;
    if (this.core.messages.customerSuspended(bound.customerId)) {
      this.log(`${bound.systemId}: submit_sm refused: customer ${bound.customerId} is suspended`);
      link.respond(pdu, STATUS.ESME_RSUBMITFAIL);
      return;
    }
    if (this.throttled(session)) {
      link.respond(pdu, STATUS.ESME_RTHROTTLED);
      return;
    }
    let payload: Buffer;
    try {
      payload = rawShortMessage(frame);
      if (payload.length === 0) payload = rawTlv(frame, MESSAGE_PAYLOAD_TAG) ?? payload;
    } catch (error) {
      this.log(`${bound.systemId}: malformed submit_sm: ${String(error)}`);
      link.respond(pdu, STATUS.ESME_RINVMSGLEN);
      return;
    }
    const esmClass = Number(pdu.esm_class ?? 0);
    let body = payload;
    let concatenation = null;
    if ((esmClass & 0x40) !== 0) {
      try {
        ({ concatenation, payload: body } = splitUdh(payload));
      } catch (error) {
        this.log(`${bound.systemId}: bad UDH: ${String(error)}`);
        link.respond(pdu, STATUS.ESME_RINVESMCLASS);
        return;
      }
    }
    const dataCoding = Number(pdu.data_coding ?? 0);
    const text = decodeByDataCoding(dataCoding, body);
    if (text === null) {
      link.respond(pdu, STATUS.ESME_RINVDCS);
      return;
    }
    const sender = networkAddress(pdu.source_addr, pdu.source_addr_ton);
    const recipient = networkAddress(pdu.destination_addr, pdu.dest_addr_ton);
    const registeredDelivery = receiptRequestOf(Number(pdu.registered_delivery ?? 0));
    // The API refuses texts to someone who texted STOP; SMPP must not be the way around it.
    if (isOptedOut(this.deps.db, bound.customerId, recipient)) {
      this.log(
        `${bound.systemId}: submit_sm to ${recipient} refused: opted out of ${bound.customerId}'s texts`,
      );
      link.respond(pdu, STATUS.ESME_RINVDSTADR);
      return;
    }
    try {
      if (concatenation === null || concatenation.total <= 1) {
        const message = {
          customerId: bound.customerId,
          source: 'smpp' as const,
          sender,
          recipient,
          text,
          registeredDelivery,
        };
        if (this.refusedAsSpam(session, pdu, message)) return;
        if (this.overQuota(session, pdu)) return;
        const accepted = this.core.acceptMessage(message);
        link.respond(pdu, STATUS.ESME_ROK, { message_id: accepted.id });
        return;
      }
      if (
        concatenation.total > MAX_PARTS ||
        concatenation.sequence < 1 ||
        concatenation.sequence > concatenation.total
      ) {
        link.respond(pdu, STATUS.ESME_RINVMSGLEN);
        return;
      }
      validateAddresses(sender, recipient);
      // A concatenated text uses one of the quota, taken with its first part.
      if (concatenation.sequence === 1 && this.overQuota(session, pdu)) return;
      // Persisted before the response: an acknowledged part survives a restart.
      const messageId = this.concatenations.add({
        customerId: bound.customerId,
        sender,
        recipient,
        registeredDelivery,
        reference: concatenation.reference,
        total: concatenation.total,
        sequence: concatenation.sequence,
        // Undecoded: the set is decoded as one text once complete.
        payload: Buffer.from(body),
        dataCoding,
        sourceAddress: session.remoteAddress,
      });
      link.respond(pdu, STATUS.ESME_ROK, { message_id: messageId });
    } catch (error) {
      if (error instanceof SmscRejection) {
        this.log(`${bound.systemId}: submit_sm refused (${error.reason}): ${error.message}`);
        link.respond(pdu, REJECTION_STATUS[error.reason]);
        return;
      }
      this.log(
        `${bound.systemId}: submit_sm failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      link.respond(pdu, STATUS.ESME_RSYSERR);
    }
  }

  /**
   * Takes one of the customer's texts quota (shared with the API); a used-up quota is answered
   * ESME_RTHROTTLED, Jasmin's answer for throughput beyond the user's limit: resubmit later. True when refused.
   */
  private overQuota(session: EsmeSession, pdu: PDU): boolean {
    const bound = session.bound;
    if (bound === null) return true;
    try {
      this.quotas.take(bound.customerId, 'texts');
      return false;
    } catch (error) {
      if (!(error instanceof QuotaExceededError)) throw error;
      this.log(`${bound.systemId}: submit_sm throttled: ${error.message}`);
      session.link.respond(pdu, STATUS.ESME_RTHROTTLED);
      return true;
    }
  }

  /**
   * Screens a text before acceptance; a spam text is answered with ESME_RSUBMITFAIL (the filter
   * refused it, as Jasmin's interceptor answers) and recorded as rejected. True when refused.
   */
  private refusedAsSpam(session: EsmeSession, pdu: PDU, message: AcceptMessageInput): boolean {
    const verdict = this.spam.verdict(message);
    if (verdict === null) return false;
    const id = recordSpamRejection(this.deps.db, this.deps.bus, message, verdict, {
      sourceAddress: session.remoteAddress,
      requestId: null,
    });
    this.log(
      `${message.customerId}: submit_sm to ${message.recipient} refused as spam (${verdict.rule}): ${verdict.reason}; recorded as ${id}`,
    );
    session.link.respond(pdu, REJECTION_STATUS.spam);
    return true;
  }

  /**
   * Sends the receipt for a finished message if the customer wants one for this outcome and has a
   * receiver bound; else it stays owed until they bind one. A receipt the receiver does not
   * acknowledge is offered again with backoff while a receiver stays bound.
   */
  private offerReceipt(row: MessageRow, attempt = 0): void {
    if (row.source !== 'smpp' || !MessageStore.receiptWanted(row) || row.receipt_sent_at !== null) return;
    if (this.closing || this.receiptsInFlight.has(row.id)) return;
    const scheduled = this.receiptRetries.get(row.id);
    if (scheduled !== undefined) {
      // Offered now (e.g. a new bind): the scheduled re-offer is redundant.
      clearTimeout(scheduled.timer);
      this.receiptRetries.delete(row.id);
    }
    const session = [...this.sessions].find(
      (s) =>
        s.bound !== null &&
        s.bound.customerId === row.customer_id &&
        s.bound.mode !== 'transmitter' &&
        s.link.isOpen,
    );
    if (session === undefined) {
      this.log(`${row.id}: receipt kept until ${row.customer_id} binds a receiver`);
      return;
    }
    const stat = RECEIPT_STAT[row.status] ?? 'UNKNOWN';
    const err = /^\d{1,3}$/.test(row.error_code ?? '')
      ? (row.error_code as string)
      : row.error_code
        ? String(STATUS[row.error_code] ?? 0)
        : '000';
    const text = formatReceiptText({
      id: row.id,
      stat,
      err,
      submittedAt: row.accepted_at,
      doneAt: row.done_at ?? nowIso(),
      text: row.text,
    });
    const source = row.recipient.slice(1);
    this.receiptsInFlight.add(row.id);
    session.link
      .request('deliver_sm', {
        service_type: '',
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: source,
        dest_addr_ton: row.sender.startsWith('+') ? 1 : 5,
        dest_addr_npi: row.sender.startsWith('+') ? 1 : 0,
        destination_addr: row.sender.replace(/^\+/, ''),
        esm_class: 0x04,
        data_coding: 0,
        short_message: encodeGsm(text),
        receipted_message_id: row.id,
        message_state: MESSAGE_STATE[stat],
      })
      .then(
        (response) => {
          if (response.command_status === STATUS.ESME_ROK) {
            writeBehind(this.deps.db, (m) => this.log(m)).run(`receipt of ${row.id} sent`, () =>
              this.core.messages.markReceiptSent(row.id, nowIso()),
            );
            return null;
          }
          return `refused by the ESME with ${statusName(response.command_status)}`;
        },
        (error: unknown) => `not acknowledged (${String(error)})`,
      )
      .then((failure) => {
        this.receiptsInFlight.delete(row.id);
        if (failure !== null) this.retryReceipt(row.id, attempt, failure);
      })
      .catch((error: unknown) => this.log(`${row.id}: receipt bookkeeping failed: ${String(error)}`));
  }

  private retryReceipt(id: string, attempt: number, failure: string): void {
    if (this.closing) return;
    const delay = Math.min(this.deps.config.smsc.retryDelayMs * 2 ** attempt, MAX_RECEIPT_RETRY_DELAY_MS);
    this.log(`${id}: receipt ${failure}; offered again in ${delay} ms (kept for the next bind meanwhile)`);
    const timer = setTimeout(() => {
      this.receiptRetries.delete(id);
      const row = this.core.messageRow(id);
      if (row !== undefined) this.offerReceipt(row, attempt + 1);
    }, delay);
    this.receiptRetries.set(id, { attempt, timer });
  }

  private log(message: string): void {
    this.deps.log('smsc', message);
  }
}

/** ESMEs send international numbers without '+' (TON 1); the platform stores E.164 with it. */
/**
 * Compares a bind password without leaking, through timing, how much of it matched: both sides
 * are hashed first, so timingSafeEqual always gets equal lengths.
 */
export function passwordMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export type BindRefusal = 'unknown-system-id' | 'wrong-password' | 'customer-suspended';

const BIND_REFUSAL_WORDS: Record<BindRefusal, string> = {
  'unknown-system-id': 'no SMPP account has this system_id',
  'wrong-password': 'wrong password',
  'customer-suspended': 'the customer is suspended by the platform operator',
};

/**
 * The audit entry of a refused bind (as Jasmin's and Kong's auth failures are logged): a failed
 * authentication is `auth.failed` (in the account owner's trail when the system_id is theirs), a
 * proven account of a suspended customer is `access.denied`. The password is never recorded.
 */
export function bindRefusalEntry(
  sourceAddress: string | null,
  mode: BindMode,
  systemId: string,
  customerId: string | null,
  refusal: BindRefusal,
): AuditEntry {
  const denied = refusal === 'customer-suspended';
  return {
    actor:
      denied && customerId !== null ? { kind: 'customer', id: customerId } : { kind: 'anonymous', id: null },
    customerId,
    channel: 'smpp',
    action: denied ? 'access.denied' : 'auth.failed',
    target: systemId,
    sourceAddress,
    requestId: null,
    detail: { command: `bind_${mode}`, refusal, reason: BIND_REFUSAL_WORDS[refusal] },
  };
}
