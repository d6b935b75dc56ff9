/**
 * Per-customer quotas counted in the shared store, so every node of every role that takes a text
 * or a call attempt (gateway, SMSC, sip-edge; active-active nodes alike) draws on one allowance:
 * - texts: one quota for the API and SMPP together (Kong's response-ratelimiting and Jasmin's
 *   per-user throughput would count per channel; a customer could double its allowance);
 * - call attempts: initial INVITEs of all the customer's SIP accounts, as Kamailio's `pike` /
 *   `ratelimit` modules cap a source with an htable shared by the edge nodes (answered 503 with
 *   Retry-After).
 * Windows are fixed and aligned to the clock (Kong's timestamps); a refused attempt is not counted.
 */
import { NotFoundError, QuotaExceededError } from '../errors';
import { InputReader } from '../input';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { isStoreBusy, writeBehind } from '../store/write-behind';

export interface LimitSettings {
  /** Texts a customer may submit per window, API and SMPP together; null: no quota. */
  textsPerWindow: number | null;
  textWindowMs: number;
  /** Calls a customer's SIP accounts together may attempt per window; null: no limit. */
  callAttemptsPerWindow: number | null;
  callAttemptWindowMs: number;
}

/** Generous: only a scenario that sets a customer's own quota meets it; windows short enough to watch turn over. */
export const EMBEDDED_LIMITS: LimitSettings = {
  textsPerWindow: 1_000,
  textWindowMs: 10_000,
  callAttemptsPerWindow: 100,
  callAttemptWindowMs: 10_000,
};

export type QuotaKind = 'texts' | 'call-attempts';

/** One quota's state, as GET /ops/v1/customers/{id}/quotas shows it. */
export interface QuotaState {
  limit: number | null;
  windowMs: number;
  used: number;
  remaining: number | null;
  /** Until the current window closes and the count starts again. */
  resetInMs: number;
}

export interface CustomerQuotas {
  customerId: string;
  /** own: set by the operator for this customer; default: the platform's settings. */
  source: 'own' | 'default';
  texts: QuotaState;
  callAttempts: QuotaState;
}

/** What one counted attempt left: the figures the channel tells the customer. */
export interface Allowance {
  limit: number;
  remaining: number;
  /** Whole seconds until the window closes, at least 1 (Retry-After). */
  resetSeconds: number;
}

const MAX_QUOTA = 1_000_000;
/** Counters this many windows old are deleted now and then. */
const RETENTION_WINDOWS = 6;
const PRUNE_EVERY = 200;

export class QuotaCounters {
  private sincePrune = 0;

  constructor(
    private readonly db: Db,
    private readonly settings: LimitSettings,
    private readonly now: () => number = Date.now,
    /**
     * Set where the channel must go on without the store (SIP, SMPP): while the store is away an
     * attempt passes uncounted and is logged here, as Kong's fault_tolerant counting and
     * Kamailio's in-memory htable would let it; without it, the store's error is thrown.
     */
    private readonly failOpen?: (message: string) => void,
  ) {}

  /**
   * Counts one attempt of `kind` for the customer, or throws QuotaExceededError when the window is
   * used up. Check and count are one write transaction: two nodes never both take the last one.
   * Returns undefined when the customer has no limit of that kind.
   */
  take(customerId: string, kind: QuotaKind): Allowance | undefined {
    const { failOpen } = this;
    if (!failOpen) return this.count(customerId, kind);
    // Known to be away: do not stall the process for the busy timeout on every attempt.
    if (writeBehind(this.db, failOpen).status().outage) {
      failOpen(`${customerId}: ${kind} not counted: the store is away`);
      return undefined;
    }
    try {
      return this.count(customerId, kind);
    } catch (error) {
      if (!isStoreBusy(error)) throw error;
      failOpen(`${customerId}: ${kind} not counted: the store is busy (${(error as Error).message})`);
      return undefined;
    }
  }

  private count(customerId: string, kind: QuotaKind): Allowance | undefined {
    const { limit, windowMs } = this.quotaOf(customerId, kind);
    if (limit === null) return undefined;
    const at = this.now();
    const start = at - (at % windowMs);
    const resetSeconds = Math.max(1, Math.ceil((start + windowMs - at) / 1_000));
    const used = this.db
      .transaction(() => {
        const count = this.usage(customerId, kind, start);
        if (count >= limit) return count;
        this.db
          .prepare(
            `INSERT INTO customer_quota_counters (customer_id, kind, window_start, count) VALUES (?, ?, ?, 1)
             ON CONFLICT (customer_id, kind, window_start) DO UPDATE SET count = count + 1`,
          )
          .run(customerId, kind, start);
        if (++this.sincePrune >= PRUNE_EVERY) {
          this.sincePrune = 0;
          this.db
            .prepare('DELETE FROM customer_quota_counters WHERE window_start < ?')
            .run(at - RETENTION_WINDOWS * windowMs);
        }
        return count;
      })
      .immediate();
    if (used >= limit) throw new QuotaExceededError(kind, limit, windowMs, resetSeconds);
    return { limit, remaining: limit - used - 1, resetSeconds };
  }

  /** The quota in force: the customer's own when the operator set one, else the settings'. */
  quotaOf(customerId: string, kind: QuotaKind): { limit: number | null; windowMs: number } {
    const own = this.ownQuotas(customerId);
    return kind === 'texts'
      ? { limit: own ? own.texts : this.settings.textsPerWindow, windowMs: this.settings.textWindowMs }
      : {
          limit: own ? own.callAttempts : this.settings.callAttemptsPerWindow,
          windowMs: this.settings.callAttemptWindowMs,
        };
  }

  /** GET /ops/v1/customers/{id}/quotas: the quotas in force and how much of each window is used. */
  get(customerId: string): CustomerQuotas {
    this.requireCustomer(customerId);
    const at = this.now();
    const state = (kind: QuotaKind): QuotaState => {
      const { limit, windowMs } = this.quotaOf(customerId, kind);
      const start = at - (at % windowMs);
      const used = this.usage(customerId, kind, start);
      return {
        limit,
        windowMs,
        used,
        remaining: limit === null ? null : Math.max(0, limit - used),
        resetInMs: start + windowMs - at,
      };
    };
    return {
      customerId,
      source: this.ownQuotas(customerId) ? 'own' : 'default',
      texts: state('texts'),
      callAttempts: state('call-attempts'),
    };
  }

  /** PUT /ops/v1/customers/{id}/quotas: `{textsPerWindow, callAttemptsPerWindow}`, each a count or null (none). */
  set(customerId: string, body: unknown): CustomerQuotas {
    this.requireCustomer(customerId);
    const input = new InputReader(body, ['textsPerWindow', 'callAttemptsPerWindow']);
    const read = (field: 'textsPerWindow' | 'callAttemptsPerWindow'): number | null => {
      const value = (body as Record<string, unknown>)[field];
      if (value === undefined) {
        input.fail(field, 'is required: a number per window, or null for no limit');
        return null;
      }
      return value === null ? null : input.integer(field, 1, MAX_QUOTA);
    };
    const texts = read('textsPerWindow');
    const callAttempts = read('callAttemptsPerWindow');
    input.done();
    this.db
      .prepare(
        `INSERT INTO customer_quotas (customer_id, texts_per_window, call_attempts_per_window, updated_at)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET texts_per_window = excluded.texts_per_window,
           call_attempts_per_window = excluded.call_attempts_per_window, updated_at = excluded.updated_at`,
      )
      .run(customerId, texts, callAttempts, nowIso());
    return this.get(customerId);
  }

  /** DELETE /ops/v1/customers/{id}/quotas: back to the platform's settings. */
  reset(customerId: string): CustomerQuotas {
    this.requireCustomer(customerId);
    this.db.prepare('DELETE FROM customer_quotas WHERE customer_id = ?').run(customerId);
    return this.get(customerId);
  }

  private ownQuotas(customerId: string): { texts: number | null; callAttempts: number | null } | undefined {
    const row = this.db
      .prepare('SELECT texts_per_window, call_attempts_per_window FROM customer_quotas WHERE customer_id = ?')
      .get(customerId) as
      { texts_per_window: number | null; call_attempts_per_window: number | null } | undefined;
    return row ? { texts: row.texts_per_window, callAttempts: row.call_attempts_per_window } : undefined;
  }

  private usage(customerId: string, kind: QuotaKind, start: number): number {
    const row = this.db
      .prepare(
        'SELECT count FROM customer_quota_counters WHERE customer_id = ? AND kind = ? AND window_start = ?',
      )
      .get(customerId, kind, start) as { count: number } | undefined;
    return row?.count ?? 0;
  }

  private requireCustomer(customerId: string): void {
    if (!this.db.prepare('SELECT 1 FROM customers WHERE id = ?').get(customerId))
      throw new NotFoundError('customer', customerId);
  }
}
