/**
 * The SMS spam filter (TEST-INT-052), screening every text a customer submits (API or SMPP)
 * before it is accepted, as Jasmin's MT interceptors and content filters would: blocked link
 * domains, phishing phrases, protected (unregistered) alphanumeric sender ids, and velocity (the
 * same text to many recipients in a short window from a new customer). A refused text is
 * recorded as a rejected message, audited (`spam.blocked`) and announced (`message.rejected`); it
 * is never queued, so it never reaches a carrier.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus';
import { recordAudit } from '../core/audit';
import type { Db } from '../store/store';
import { insertQueued } from './acceptance';
import { MessageStore } from './message-store';
import { encodeText } from './sms-text';
import type { AcceptMessageInput } from './service';

export interface SpamSettings {
  /** A link to one of these domains, or to any subdomain of one, is refused. */
  blockedLinkDomains: string[];
  /** Phrases refused as phishing, matched as whole words, ignoring case, spacing and punctuation. */
  phishingPhrases: string[];
  /**
   * Alphanumeric sender ids their brand owners registered (the SenderID protection registry):
   * only a customer registered for one may send as it.
   */
  protectedSenderIds: Array<{ senderId: string; customerIds: string[] }>;
  velocity: {
    /** How many different recipients a new customer may send the same text to within windowMs. */
    maxRecipients: number;
    windowMs: number;
    /** A customer is "new" for this long after its creation. */
    newCustomerMs: number;
  };
}

/** Embedded defaults: example domains and brand ids, and a window short enough for a scenario. */
export const EMBEDDED_SPAM_SETTINGS: SpamSettings = {
  blockedLinkDomains: ['prize-claims.example', 'secure-login-update.example'],
  phishingPhrases: ['verify your account', 'your account has been suspended', 'confirm your bank details'],
  protectedSenderIds: [
    { senderId: 'HMRC', customerIds: [] },
    { senderId: 'PAYPAL', customerIds: [] },
  ],
  // A new business notifying a handful of people at once is normal (TEST-INT-024 texts seven);
  // dozens of identical texts within a minute from an unvetted account is what carriers flag.
  velocity: { maxRecipients: 20, windowMs: 60_000, newCustomerMs: 7 * 24 * 3_600_000 },
};

export type SpamRule = 'blocked-link' | 'phishing-phrase' | 'unregistered-sender' | 'velocity';

export interface SpamVerdict {
  rule: SpamRule;
  /** Why, in words the customer can act on. */
  reason: string;
}

/** Lower case, compatibility-normalised, every run of non-letters/digits one space, padded. */
function words(text: string): string {
  return ` ${text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()} `;
}

/** Host names in a text, with or without a scheme (`example.com/x`, `https://a.b.example`). */
function linkHosts(text: string): string[] {
  const hosts: string[] = [];
  const pattern = /(?:[a-z][a-z0-9+.-]*:\/\/)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})\b/giu;
  for (const match of text.normalize('NFKC').matchAll(pattern)) hosts.push((match[1] ?? '').toLowerCase());
  return hosts;
}

export class SpamFilter {
  constructor(
    private readonly db: Db,
    private readonly settings: SpamSettings,
  ) {}

  /** The rule a text breaks, or null. The platform's own texts (source platform) are not screened. */
  verdict(input: AcceptMessageInput, now: number = Date.now()): SpamVerdict | null {
    if (input.source === 'platform') return null;
    return (
      this.blockedLink(input.text) ??
      this.phishingPhrase(input.text) ??
      this.unregisteredSender(input.customerId, input.sender) ??
      this.velocity(input, now)
    );
  }

  private blockedLink(text: string): SpamVerdict | null {
    for (const host of linkHosts(text)) {
      const blocked = this.settings.blockedLinkDomains.find(
        (domain) => host === domain.toLowerCase() || host.endsWith(`.${domain.toLowerCase()}`),
      );
      if (blocked !== undefined)
        return {
          rule: 'blocked-link',
          reason: `links to ${blocked} are blocked (the text links to ${host})`,
        };
    }
    return null;
  }

  private phishingPhrase(text: string): SpamVerdict | null {
    const said = words(text);
    const phrase = this.settings.phishingPhrases.find((p) => said.includes(words(p)));
    return phrase === undefined
      ? null
      : { rule: 'phishing-phrase', reason: `"${phrase}" is a phishing phrase` };
  }

  private unregisteredSender(customerId: string, sender: string): SpamVerdict | null {
    if (/^\+?\d+$/.test(sender)) return null;
    const key = sender.replace(/\s+/g, '').toUpperCase();
    const entry = this.settings.protectedSenderIds.find(
      (p) => p.senderId.replace(/\s+/g, '').toUpperCase() === key,
    );
    if (entry === undefined || entry.customerIds.includes(customerId)) return null;
    return {
      rule: 'unregistered-sender',
      reason: `sender id ${sender} is registered to its brand owner, not to you`,
    };
  }

  /** Counted from the store, so every node sees the same figure. */
  private velocity(input: AcceptMessageInput, now: number): SpamVerdict | null {
    if (input.source !== 'api' && input.source !== 'smpp') return null;
    const { maxRecipients, windowMs, newCustomerMs } = this.settings.velocity;
    const customer = this.db
      .prepare('SELECT created_at FROM customers WHERE id = ?')
      .get(input.customerId) as { created_at: string } | undefined;
    if (customer === undefined || now - Date.parse(customer.created_at) >= newCustomerMs) return null;
    const since = new Date(now - windowMs).toISOString();
    const { others } = this.db
      .prepare(
        `SELECT COUNT(DISTINCT recipient) AS others FROM messages
          WHERE customer_id = ? AND text = ? AND accepted_at >= ? AND status != 'rejected' AND recipient != ?`,
      )
      .get(input.customerId, input.text, since, input.recipient) as { others: number };
    if (others + 1 <= maxRecipients) return null;
    return {
      rule: 'velocity',
      reason: `a new customer may send the same text to at most ${maxRecipients} recipients within ${windowMs / 1000} s`,
    };
  }
}

/** Where a refused text came from, for the audit trail. */
export interface SpamOrigin {
  sourceAddress: string | null;
  requestId: string | null;
  /** A campaign's text: the campaign it belongs to (no request or address of its own). */
  campaignId?: string;
}

/**
 * Stores a refused text as a message with status rejected (error_code `spam:<rule>`) and audits
 * it (`spam.blocked`). Runs inside the caller's transaction when there is one; the caller
 * announces it afterwards. A receipt is owed only when the text's id was already acknowledged
 * (parts of a concatenated submit); otherwise the refusal itself was the answer.
 */
export function storeSpamRejection(
  db: Db,
  input: AcceptMessageInput,
  verdict: SpamVerdict,
  origin: SpamOrigin,
  id: string,
  receiptOwed: boolean,
): void {
  const at = new Date().toISOString();
  const encoded = encodeText(input.text);
  const parts = Math.max(1, encoded.segments.length);
  const store = new MessageStore(db);
  db.transaction(() => {
    insertQueued(
      store,
      receiptOwed ? input : { ...input, registeredDelivery: false },
      id,
      encoded.encoding,
      parts,
      at,
    );
    store.finish(id, 'rejected', `spam:${verdict.rule}`, at);
    recordAudit(db, {
      actor: { kind: 'customer', id: input.customerId },
      customerId: input.customerId,
      channel: input.source === 'smpp' ? 'smpp' : 'api',
      action: 'spam.blocked',
      target: id,
      sourceAddress: origin.sourceAddress,
      requestId: origin.requestId,
      detail: {
        rule: verdict.rule,
        reason: verdict.reason,
        sender: input.sender,
        recipient: input.recipient,
        ...(origin.campaignId !== undefined ? { campaignId: origin.campaignId } : {}),
      },
    });
  }).immediate();
}

/** Stores a refused text (storeSpamRejection) and announces it (message.rejected). Returns its id. */
export function recordSpamRejection(
  db: Db,
  bus: Bus,
  input: AcceptMessageInput,
  verdict: SpamVerdict,
  origin: SpamOrigin,
): string {
  const id = `msg_${randomUUID()}`;
  storeSpamRejection(db, input, verdict, origin, id, false);
  bus.emit('message.status', { messageId: id, customerId: input.customerId, status: 'rejected' });
  return id;
}
