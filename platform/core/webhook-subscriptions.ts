/**
 * Webhook subscriptions: which URL gets which events in which dialect, with its signing secret.
 * Delivering them is the dispatcher's job (webhooks.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { NotFoundError } from '../errors';
import { InputReader } from '../input';
import { webhookUrlRefusal, type PeerAllowlist } from './peers';
import { WEBHOOK_FORMATS, webhookResource, type WebhookResource } from './resources';
import type { WebhookRow } from '../store/rows';
import { EVENT_FAMILIES, EVENT_TYPES } from './webhook-events';

export interface CreatedWebhook extends WebhookResource {
  secret: string;
}

export interface RotatedSecret {
  id: string;
  secret: string;
  /** Until then deliveries carry a signature with the previous secret as well. */
  previousSecretValidUntil: string;
}

export class WebhookSubscriptionServices {
  constructor(
    private readonly db: Db,
    /** Where webhooks may point: the platform posts there. */
    private readonly peers: PeerAllowlist,
  ) {}

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

  /**
   * A new signing secret; the old one keeps signing alongside it for `overlapMs`, so a receiver
   * can switch secrets at its own pace without refusing a genuine delivery in between.
   */
  rotateSecret(customerId: string, id: string, overlapMs: number, now = Date.now()): RotatedSecret {
    const secret = `whsec_${randomBytes(24).toString('hex')}`;
    const previousSecretValidUntil = new Date(now + overlapMs).toISOString();
    const changed = this.db
      .prepare(
        `UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?, secret = ?
          WHERE id = ? AND customer_id = ?`,
      )
      .run(previousSecretValidUntil, secret, id, customerId).changes;
    if (changed === 0) throw new NotFoundError('webhook', id);
    return { id, secret, previousSecretValidUntil };
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
}

function isKnownEventPattern(pattern: string): boolean {
  if ((EVENT_TYPES as readonly string[]).includes(pattern)) return true;
  return (EVENT_FAMILIES as readonly string[]).some((family) => pattern === `${family}.*`);
}
