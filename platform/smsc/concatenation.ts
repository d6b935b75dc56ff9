import { randomUUID } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { storeSpamRejection, type SpamFilter } from './spam-filter';
import { receiptRequestOf, registeredDeliveryValue, SmscRejection, type ReceiptRequest } from './service';
import type { SmscCore } from './smsc-core';
import { decodeByDataCoding } from './sms-text';
import { writeTransaction } from './write-transaction';

/** error_code of a concatenated message whose parts did not all arrive in time. */
export const INCOMPLETE_CONCATENATION = 'INCOMPLETE_CONCATENATION';

/**
 * One part of a concatenated submit_sm from a customer's ESME, undecoded: a character may straddle
 * two parts (a UTF-16 surrogate pair, a GSM escape), so the text is decoded from all parts at once.
 */
export interface ConcatenatedPart {
  customerId: string;
  sender: string;
  recipient: string;
  registeredDelivery: ReceiptRequest;
  reference: number;
  total: number;
  /** 1-based. */
  sequence: number;
  /** short_message after the UDH. */
  payload: Buffer;
  dataCoding: number;
  /** Where the completing part came from: a refused set's audit entry names it. */
  sourceAddress?: string | null;
}

interface GroupKey {
  customer_id: string;
  sender: string;
  recipient: string;
  reference: number;
  total: number;
}

interface PartRow extends GroupKey {
  sequence: number;
  message_id: string;
  text: string;
  payload: Buffer;
  data_coding: number;
  registered_delivery: number;
  received_at: string;
}

interface AddOutcome {
  messageId: string;
  completed: boolean;
  refused: SmscRejection | null;
}

const KEY_WHERE =
  'customer_id = @customer_id AND sender = @sender AND recipient = @recipient AND reference = @reference AND total = @total';

/**
 * Reassembly of concatenated submits, persisted: every part is stored in the same transaction as
 * the decision to acknowledge it, so a restart loses nothing the customer was told we accepted.
 * The last part turns the set into one messages row (same transaction). A set still incomplete
 * `timeoutMs` after its first part becomes a failed message (error_code INCOMPLETE_CONCATENATION)
 * holding the text that did arrive: nothing goes to the handset, the customer sees the failure
 * (status, and a receipt when one was requested), and the log names the missing parts.
 */
export class PendingConcatenations {
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly core: SmscCore,
    private readonly timeoutMs: number,
    private readonly log: (message: string) => void,
    /** Screens each completed text, as a single submit is screened (a long text is no way around it). */
    private readonly spam: SpamFilter | null = null,
  ) {}

  /** Arms the expiry of every set left incomplete by a previous run (counted from its first part). */
  start(): void {
    const groups = this.db
      .prepare(
        `SELECT customer_id, sender, recipient, reference, total, MIN(received_at) AS first_at
         FROM smpp_concat_parts GROUP BY customer_id, sender, recipient, reference, total`,
      )
      .all() as Array<GroupKey & { first_at: string }>;
    if (groups.length > 0)
      this.log(`${groups.length} incomplete concatenated message(s) restored from the store`);
    for (const { first_at: firstAt, ...key } of groups) {
      this.armExpiry(key, Date.parse(firstAt) + this.timeoutMs - Date.now());
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
  }

  /**
   * Persists a part and returns the message id the whole text gets (answer the part with it).
   * The part completing its set accepts the message in the same transaction. Throws
   * SmscRejection when the completed text is refused; the set is then recorded as failed (rejected, for spam) under
   * the id its earlier parts were acknowledged with, and this part must be answered with an error.
   */
  add(part: ConcatenatedPart): string {
    const key: GroupKey = {
      customer_id: part.customerId,
      sender: part.sender,
      recipient: part.recipient,
      reference: part.reference,
      total: part.total,
    };
    const outcome = writeTransaction(this.db, (): AddOutcome => {
      const existing = this.db
        .prepare(`SELECT message_id FROM smpp_concat_parts WHERE ${KEY_WHERE} LIMIT 1`)
        .get(key) as { message_id: string } | undefined;
      const messageId = existing?.message_id ?? `msg_${randomUUID()}`;
      // A resent part (the ESME missed our response) replaces the stored one.
      this.db
        .prepare(
          `INSERT INTO smpp_concat_parts (customer_id, sender, recipient, reference, total, sequence, message_id,
             text, payload, data_coding, registered_delivery, received_at)
           VALUES (@customer_id, @sender, @recipient, @reference, @total, @sequence, @message_id, @text,
             @payload, @data_coding, @registered_delivery, @received_at)
           ON CONFLICT (customer_id, sender, recipient, reference, total, sequence)
           DO UPDATE SET text = excluded.text, payload = excluded.payload, data_coding = excluded.data_coding,
             registered_delivery = excluded.registered_delivery`,
        )
        .run({
          ...key,
          sequence: part.sequence,
          message_id: messageId,
          text: decodeByDataCoding(part.dataCoding, part.payload) ?? '',
          payload: part.payload,
          data_coding: part.dataCoding,
          registered_delivery: registeredDeliveryValue(part.registeredDelivery),
          received_at: nowIso(),
        });
      const parts = this.parts(key);
      if (parts.length < part.total) return { messageId, completed: false, refused: null };
      const input = this.messageInput(key, parts);
      let refused: SmscRejection | null = null;
      const verdict = this.spam?.verdict(input) ?? null;
      if (verdict !== null) {
        // Its parts were acknowledged with this id: the rejected record owes a receipt if one was asked for.
        storeSpamRejection(
          this.db,
          input,
          verdict,
          { sourceAddress: part.sourceAddress ?? null, requestId: null },
          messageId,
          true,
        );
        this.deleteParts(key);
        return {
          messageId,
          completed: true,
          refused: new SmscRejection('spam', `refused as spam (rule ${verdict.rule}): ${verdict.reason}`),
        };
      }
      try {
        this.core.acceptWithId(input, messageId);
      } catch (error) {
        if (!(error instanceof SmscRejection)) throw error;
        refused = error;
        this.core.insertFailed(input, messageId, error.reason.toUpperCase().replace(/-/g, '_'));
      }
      this.deleteParts(key);
      return { messageId, completed: true, refused };
    });
    if (!outcome.completed) {
      if (!this.expiries.has(groupName(key))) this.armExpiry(key, this.timeoutMs);
      return outcome.messageId;
    }
    this.disarm(key);
    const rejection = outcome.refused;
    if (rejection !== null) {
      this.log(
        `${outcome.messageId}: concatenated message from ${key.customer_id} refused once complete (${rejection.reason}): ${rejection.message}; recorded as ${rejection.reason === 'spam' ? 'rejected' : 'failed'}`,
      );
      this.core.announceFinal(outcome.messageId);
      throw rejection;
    }
    return outcome.messageId;
  }

  private armExpiry(key: GroupKey, delayMs: number): void {
    if (this.stopped) return;
    const name = groupName(key);
    const existing = this.expiries.get(name);
    if (existing !== undefined) clearTimeout(existing);
    this.expiries.set(
      name,
      setTimeout(
        () => {
          this.expiries.delete(name);
          try {
            this.expire(key);
          } catch (error) {
            // Left in the store: the next start re-arms the expiry.
            this.log(
              `expiring concatenated set ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
            );
          }
        },
        Math.max(0, delayMs),
      ),
    );
  }

  private disarm(key: GroupKey): void {
    const name = groupName(key);
    const timer = this.expiries.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.expiries.delete(name);
  }

  private expire(key: GroupKey): void {
    const expired = writeTransaction(this.db, (): { messageId: string; missing: number[] } | null => {
      const parts = this.parts(key);
      if (parts.length === 0) return null; // completed meanwhile
      const messageId = parts[0].message_id;
      const present = new Set(parts.map((p) => p.sequence));
      const missing: number[] = [];
      for (let sequence = 1; sequence <= key.total; sequence += 1)
        if (!present.has(sequence)) missing.push(sequence);
      this.core.insertFailed(this.messageInput(key, parts), messageId, INCOMPLETE_CONCATENATION);
      this.deleteParts(key);
      return { messageId, missing };
    });
    if (expired === null) return;
    this.log(
      `${expired.messageId}: concatenated message from ${key.customer_id} (${key.sender} → ${key.recipient}, ref ${key.reference}) ` +
        `incomplete after ${this.timeoutMs} ms: part(s) ${expired.missing.join(', ')} of ${key.total} never arrived; ` +
        `recorded as failed (${INCOMPLETE_CONCATENATION}), nothing sent to the handset`,
    );
    this.core.announceFinal(expired.messageId);
  }

  private parts(key: GroupKey): PartRow[] {
    return this.db
      .prepare(`SELECT * FROM smpp_concat_parts WHERE ${KEY_WHERE} ORDER BY sequence`)
      .all(key) as PartRow[];
  }

  private deleteParts(key: GroupKey): void {
    this.db.prepare(`DELETE FROM smpp_concat_parts WHERE ${KEY_WHERE}`).run(key);
  }

  /**
   * The message the parts make: their payloads joined in sequence order and decoded once. The
   * broadest receipt request of any part applies (always > failure only > none).
   */
  private messageInput(key: GroupKey, parts: PartRow[]): Parameters<SmscCore['acceptWithId']>[0] {
    const requests = parts.map((p) => receiptRequestOf(p.registered_delivery));
    return {
      customerId: key.customer_id,
      source: 'smpp',
      sender: key.sender,
      recipient: key.recipient,
      text: this.joinedText(parts),
      registeredDelivery: requests.includes(true)
        ? true
        : requests.includes('failure-only')
          ? 'failure-only'
          : false,
    };
  }

  private joinedText(parts: PartRow[]): string {
    const dataCoding = parts[0].data_coding;
    if (parts.every((p) => p.data_coding === dataCoding)) {
      const text = decodeByDataCoding(dataCoding, Buffer.concat(parts.map((p) => p.payload)));
      if (text !== null) return text;
    }
    // Mixed codings (a broken ESME): no character can straddle parts that differ, so part by part.
    this.log(
      `concatenated set ${groupName(parts[0])} mixes data_coding ${[...new Set(parts.map((p) => p.data_coding))].join('/')}; decoded part by part`,
    );
    return parts.map((p) => decodeByDataCoding(p.data_coding, p.payload) ?? '').join('');
  }
}

function groupName(key: GroupKey): string {
  return JSON.stringify([key.customer_id, key.sender, key.recipient, key.reference, key.total]);
}
