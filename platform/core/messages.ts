/**
 * Messages: sending a text through the API (directly or from a template, after the sender,
 * opt-out and SMSC checks), reading one back, and message analytics over a time window.
 */
import type { QuotaCounters } from './customer-quotas';
import type { Db } from '../store/store';
import { ValidationError, NotFoundError, type FieldError } from '../errors';
import { InputReader, queryTime } from '../input';
import { SmscRejection, type SmscService } from '../smsc';
import { renderTemplate } from './templates';
import { isOptedOut } from './opt-outs';
import { findMessage, type MessageResource } from './resources';
import type { TemplateRow } from '../store/rows';
import type { SenderCheck } from './numbers';
import type { Bus } from '../bus';
import {
  recordSpamRejection,
  SpamFilter,
  type SpamOrigin,
  type SpamRule,
  type SpamSettings,
} from '../smsc/spam-filter';

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

export class MessageServices {
  private readonly spam: SpamFilter;

  constructor(
    private readonly db: Db,
    private readonly smsc: SmscService,
    private readonly senderProblem: SenderCheck,
    private readonly bus: Bus,
    spamSettings: SpamSettings,
    private readonly quotas: QuotaCounters,
  ) {
    this.spam = new SpamFilter(db, spamSettings);
  }

  sendMessage(
    customerId: string,
    body: unknown,
    origin: SpamOrigin = { requestId: null, sourceAddress: null },
  ): MessageResource {
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

    const message = {
      customerId,
      source: 'api' as const,
      sender: from,
      recipient: to,
      text,
      registeredDelivery: true,
    };
    // Screened after validation (an invalid request is not a spam attempt), before acceptance.
    const verdict = this.spam.verdict(message);
    if (verdict !== null) {
      const messageId = recordSpamRejection(this.db, this.bus, message, verdict, origin);
      throw new ValidationError(
        [
          {
            field: SPAM_FIELD[verdict.rule],
            message: `refused as spam (rule ${verdict.rule}): ${verdict.reason}`,
          },
        ],
        { rule: verdict.rule, messageId },
      );
    }
    // Last before acceptance: a text refused for any other reason uses none of the quota.
    this.quotas.take(customerId, 'texts');
    let accepted;
    try {
      accepted = this.smsc.acceptMessage(message);
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

  /**
   * Message analytics over the texts accepted in [since, until): counts by status, the delivery
   * rate among texts with a final outcome, and accept-to-delivered latency percentiles
   * (nearest rank) of the delivered ones, as the network's receipts dated them.
   */
  messageAnalytics(customerId: string, query: URLSearchParams): MessageAnalytics {
    const errors: FieldError[] = [];
    const since = queryTime(query, 'since', errors) ?? null;
    const until = queryTime(query, 'until', errors) ?? null;
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
}

const SPAM_FIELD: Record<SpamRule, string> = {
  'blocked-link': 'text',
  'phishing-phrase': 'text',
  'unregistered-sender': 'from',
  velocity: 'to',
};

const REJECTION_FIELD: Record<SmscRejection['reason'], string> = {
  'invalid-sender': 'from',
  'invalid-recipient': 'to',
  'invalid-text': 'text',
  'too-long': 'text',
  spam: 'text',
};
