import type { RoleDeps } from '../role';
import type { PlatformEvents } from '../bus';
import { PeerAllowlist, webhookUrlRefusal } from './peers';
import { findCdr, findMessage } from './resources';
import {
  isEventType,
  newEventId,
  signatureHeader,
  subscriptionMatches,
  type EventType,
  type WebhookEventBody,
} from './webhook-events';
import { JASMIN_ACK, jasminDlrForm } from './jasmin-dlr';
import type { MessageRow } from '../smsc';
import { isStoreBusy, writeBehind } from '../store/write-behind';
import { ABORTED_BY_STOP, post, type AttemptResult } from './webhook-post';

/** What happened to one delivery attempt (for the platform log and for tests that wait on it). */
export interface DeliveryOutcome {
  eventId: string;
  webhookId: string;
  type: string;
  attempt: number;
  result: 'delivered' | 'retrying' | 'failed';
  /** HTTP status, or the transport error ("no response within 1000 ms"). */
  detail: string;
  nextAttemptInMs?: number;
}

export interface WebhookDispatcher {
  /**
   * Writes one outbox row per matching subscription of the customer and schedules delivery.
   * Returns the event id, or undefined when no subscription wants this type.
   */
  publish(customerId: string, type: EventType, data: unknown): string | undefined;
  onOutcome(listener: (outcome: DeliveryOutcome) => void): () => void;
  /** Stops listening and aborts attempts in flight; their rows stay pending and resume on the next start. */
  stop(): Promise<void>;
}

interface DueDelivery {
  event_id: string;
  webhook_id: string;
  type: string;
  payload: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: string | null;
  format: string;
}

/**
 * Signed, retried webhook delivery from an outbox (webhook_deliveries). Rows are the truth: a
 * row is pending until a subscriber answers 2xx or attempts run out, so deliveries survive a
 * restart. Each attempt takes a lease (next_attempt_at pushed past its timeout), so a crash
 * mid-attempt leads to a retry, never a lost event; subscribers dedupe by Phase2-Event-Id.
 */
export function startWebhookDispatcher(
  deps: Pick<RoleDeps, 'db' | 'bus' | 'config' | 'log'>,
): WebhookDispatcher {
  const { db, bus, log } = deps;
  const settings = deps.config.webhooks;
  // Defence in depth: the API refuses such URLs, but a row may predate a narrower allowlist.
  const peers = new PeerAllowlist(deps.config.network.allowedPeerHosts);
  const listeners = new Set<(outcome: DeliveryOutcome) => void>();
  const inFlight = new Map<string, { abort: () => void; settled: Promise<void> }>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const writes = writeBehind(db, (message) => log('store', message));
  const subscriptionsOf = db.prepare('SELECT id, events, format FROM webhooks WHERE customer_id = ?');
  const messageRow = db.prepare('SELECT * FROM messages WHERE id = ?');
  const insertDelivery = db.prepare(
    `INSERT INTO webhook_deliveries (event_id, webhook_id, type, ordering_key, payload, status, attempts, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)`,
  );
  const selectDue = db.prepare(
    `SELECT d.event_id, d.webhook_id, d.type, d.payload, d.attempts, w.url, w.secret, w.format,
            w.previous_secret, w.previous_secret_until
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= ?
        -- One resource's events reach a subscriber in order: "delivered" waits while "sent" is retried.
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                         WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
                           AND e.status = 'pending' AND e.rowid < d.rowid)
      ORDER BY d.next_attempt_at LIMIT 100`,
  );
  const selectNextDue = db.prepare(
    `SELECT MIN(d.next_attempt_at) AS at FROM webhook_deliveries d
      WHERE d.status = 'pending'
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                         WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
                           AND e.status = 'pending' AND e.rowid < d.rowid)`,
  );
  const lease = db.prepare(
    'UPDATE webhook_deliveries SET next_attempt_at = ? WHERE event_id = ? AND webhook_id = ?',
  );
  const markDelivered = db.prepare(
    `UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, delivered_at = ?, last_error = NULL WHERE event_id = ? AND webhook_id = ?`,
  );
  const markRetry = db.prepare(
    `UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE event_id = ? AND webhook_id = ?`,
  );
  const markFailed = db.prepare(
    `UPDATE webhook_deliveries SET status = 'failed', attempts = ?, last_error = ? WHERE event_id = ? AND webhook_id = ?`,
  );

  function publish(customerId: string, type: EventType, data: unknown): string | undefined {
    const subscriptions = (
      subscriptionsOf.all(customerId) as Array<{ id: string; events: string; format: string }>
    ).filter((s) => subscriptionMatches(JSON.parse(s.events) as string[], type));
    if (subscriptions.length === 0) return undefined;
    const body: WebhookEventBody = { id: newEventId(), type, createdAt: new Date().toISOString(), data };
    const payload = JSON.stringify(body);
    const now = new Date().toISOString();
    const about = (data as { id?: unknown } | null)?.id;
    const orderingKey = typeof about === 'string' ? about : body.id;
    // Jasmin-dialect subscribers get the form Jasmin would send, built from the committed message.
    const jasminForm = (): string | undefined => {
      const row = typeof about === 'string' ? (messageRow.get(about) as MessageRow | undefined) : undefined;
      return row ? jasminDlrForm(type, row) : undefined;
    };
    // While the store refuses writes the event waits (in order) and is dispatched once it landed.
    writes.run(
      `webhook event ${body.id}`,
      () => {
        for (const subscription of subscriptions) {
          const subscriberPayload = subscription.format === 'jasmin' ? jasminForm() : payload;
          if (subscriberPayload === undefined) continue; // an event the dialect does not report
          insertDelivery.run(body.id, subscription.id, type, orderingKey, subscriberPayload, now);
        }
      },
      pump,
    );
    return body.id;
  }

  /** Starts every due attempt, then sleeps until the next one is due (a protocol retry delay, not a wait). */
  function pump(): void {
    if (stopped) return;
    // No attempt without its lease: dispatch resumes once the store accepts writes again.
    if (writes.pending > 0) {
      resumeWhenWritable();
      return;
    }
    try {
      const now = Date.now();
      for (const row of selectDue.all(new Date(now).toISOString()) as DueDelivery[]) {
        const key = `${row.event_id}|${row.webhook_id}`;
        if (inFlight.has(key)) continue;
        const refusal = webhookUrlRefusal(row.url, peers);
        if (refusal) {
          refuse(row, refusal);
          continue;
        }
        // The lease outlives the attempt's timeout, so only a crash lets it expire.
        lease.run(new Date(now + settings.timeoutMs + 1_000).toISOString(), row.event_id, row.webhook_id);
        startAttempt(key, row);
      }
      const next = (selectNextDue.get() as { at: string | null }).at;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (next !== null) timer = setTimeout(pump, Math.max(0, Date.parse(next) - Date.now()));
    } catch (error) {
      if (isStoreBusy(error)) resumeWhenWritable();
      else log('webhooks', `dispatch failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  let resumeQueued = false;
  function resumeWhenWritable(): void {
    if (resumeQueued) return;
    resumeQueued = true;
    writes.run(
      'webhook dispatch',
      () => undefined,
      () => {
        resumeQueued = false;
        pump();
      },
    );
  }

  function startAttempt(key: string, row: DueDelivery): void {
    const timestamp = Date.now();
    let abort: () => void = () => undefined;
    const result = new Promise<AttemptResult>((resolve) => {
      abort = post(
        row.url,
        row.payload,
        row.format === 'jasmin'
          ? // Jasmin's callback is an unsigned form POST; the receiver proves receipt with ACK/Jasmin.
            {
              'Content-Type': 'application/x-www-form-urlencoded',
              'User-Agent': 'phase2-webhooks/1 (jasmin dlr)',
            }
          : {
              'Content-Type': 'application/json',
              'User-Agent': 'phase2-webhooks/1',
              'Phase2-Event-Id': row.event_id,
              'Phase2-Event-Type': row.type,
              'Phase2-Signature': signatureHeader(
                row.secret,
                row.payload,
                timestamp,
                overlapping(row, timestamp) ?? undefined,
              ),
            },
        settings.timeoutMs,
        resolve,
      );
    });
    const settled = result.then((outcome) => {
      inFlight.delete(key);
      record(row, outcome);
      pump();
    });
    inFlight.set(key, { abort: () => abort(), settled });
  }

  function record(row: DueDelivery, outcome: AttemptResult): void {
    try {
      if ('error' in outcome && outcome.error === ABORTED_BY_STOP) {
        // Not the subscriber's fault: retry right away after the next start, without using up an attempt.
        writes.run(`webhook ${row.event_id} lease`, () =>
          lease.run(new Date().toISOString(), row.event_id, row.webhook_id),
        );
        return;
      }
      const attempt = row.attempts + 1;
      const acknowledged =
        'status' in outcome &&
        outcome.status >= 200 &&
        outcome.status < 300 &&
        (row.format !== 'jasmin' || outcome.body.trim() === JASMIN_ACK);
      const detail =
        'status' in outcome
          ? `HTTP ${outcome.status}${'status' in outcome && !acknowledged && outcome.status < 300 ? ` without ${JASMIN_ACK}` : ''}`
          : outcome.error;
      if (acknowledged) {
        const at = new Date().toISOString();
        writes.run(`webhook ${row.event_id} delivered`, () =>
          markDelivered.run(attempt, at, row.event_id, row.webhook_id),
        );
        emit({
          eventId: row.event_id,
          webhookId: row.webhook_id,
          type: row.type,
          attempt,
          result: 'delivered',
          detail,
        });
        return;
      }
      if (attempt >= settings.maxAttempts) {
        writes.run(`webhook ${row.event_id} failed`, () =>
          markFailed.run(attempt, detail, row.event_id, row.webhook_id),
        );
        log(
          'webhooks',
          `${row.type} ${row.event_id} → ${row.webhook_id} (${row.url}) failed for good after ${attempt} attempts: ${detail}`,
        );
        emit({
          eventId: row.event_id,
          webhookId: row.webhook_id,
          type: row.type,
          attempt,
          result: 'failed',
          detail,
        });
        return;
      }
      const delay = settings.retryBaseMs * 2 ** (attempt - 1);
      const next = new Date(Date.now() + delay).toISOString();
      writes.run(`webhook ${row.event_id} retry`, () =>
        markRetry.run(attempt, next, detail, row.event_id, row.webhook_id),
      );
      log(
        'webhooks',
        `${row.type} ${row.event_id} → ${row.webhook_id} (${row.url}) attempt ${attempt} failed: ${detail}; retry in ${delay} ms`,
      );
      emit({
        eventId: row.event_id,
        webhookId: row.webhook_id,
        type: row.type,
        attempt,
        result: 'retrying',
        detail,
        nextAttemptInMs: delay,
      });
    } catch (error) {
      log(
        'webhooks',
        `could not record the outcome of ${row.event_id} → ${row.webhook_id}: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }

  /** Fails a delivery to a URL the platform may not reach, without sending anything. */
  function refuse(row: DueDelivery, refusal: string): void {
    const detail = `refused, no request sent: the webhook url ${refusal}`;
    markFailed.run(row.attempts, detail, row.event_id, row.webhook_id);
    log('webhooks', `${row.type} ${row.event_id} → ${row.webhook_id} (${row.url}) ${detail}`);
    emit({
      eventId: row.event_id,
      webhookId: row.webhook_id,
      type: row.type,
      attempt: row.attempts,
      result: 'failed',
      detail,
    });
  }

  function emit(outcome: DeliveryOutcome): void {
    for (const listener of listeners) {
      try {
        listener(outcome);
      } catch (error) {
        log('webhooks', `an outcome listener threw: ${String(error)}`);
      }
    }
  }

  const onMessageStatus = (event: PlatformEvents['message.status']): void => {
    const type = `message.${event.status}`;
    if (!isEventType(type)) return; // 'queued' and other internal states are not webhook events
    const message = findMessage(db, event.customerId, event.messageId);
    if (!message) {
      log(
        'webhooks',
        `message.status for ${event.messageId} (customer ${event.customerId}) but no such message: event dropped`,
      );
      return;
    }
    safely(() => publish(event.customerId, type, message), `${type} for ${event.messageId}`);
  };

  const onCallCompleted = (event: PlatformEvents['call.completed']): void => {
    const cdr = findCdr(db, event.customerId, event.cdrId);
    if (!cdr) {
      log(
        'webhooks',
        `call.completed for ${event.cdrId} (customer ${event.customerId}) but no such CDR: event dropped`,
      );
      return;
    }
    safely(() => publish(event.customerId, 'call.completed', cdr), `call.completed for ${event.cdrId}`);
  };

  const onSecurityAlert = (event: PlatformEvents['security.alert']): void => {
    safely(() => publish(event.customerId, event.type, event.data), `${event.type} for ${event.customerId}`);
  };

  /** A bus listener must never throw into the role that emitted the event. */
  function safely(work: () => unknown, what: string): void {
    try {
      work();
    } catch (error) {
      log('webhooks', `could not publish ${what}: ${(error as Error).stack ?? String(error)}`);
    }
  }

  bus.on('message.status', onMessageStatus);
  bus.on('call.completed', onCallCompleted);
  bus.on('security.alert', onSecurityAlert);
  pump(); // resumes deliveries left pending by a previous run

  return {
    publish,
    onOutcome(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      bus.off('message.status', onMessageStatus);
      bus.off('call.completed', onCallCompleted);
      bus.off('security.alert', onSecurityAlert);
      if (timer) clearTimeout(timer);
      const pending = [...inFlight.values()];
      for (const attempt of pending) attempt.abort();
      await Promise.all(pending.map((attempt) => attempt.settled));
    },
  };
}

/** The previous signing secret while its rotation overlap lasts, else null. */
function overlapping(row: DueDelivery, nowMs: number): string | null {
  if (row.previous_secret === null || row.previous_secret_until === null) return null;
  return Date.parse(row.previous_secret_until) > nowMs ? row.previous_secret : null;
}
