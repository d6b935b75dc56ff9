/**
 * Kong's rate-limiting plugin with the "cluster" policy: every gateway node counts a customer's
 * requests in the shared store, so two nodes allow N requests a window in total, not N each, and
 * a node that takes over from a dead one continues the dead node's counts.
 */
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { NotFoundError } from '../errors';
import { InputReader } from '../input';
import type { GatewayPlugin, PluginExit, PluginRequest } from './plugins';
import { isStoreUnavailable } from './problems';
import { StoreHealth } from './store-health';

export interface RateLimits {
  /** Requests per fixed one-second window; null: unlimited. */
  perSecond: number | null;
  /** Requests per fixed one-minute window; null: unlimited. */
  perMinute: number | null;
}

/** The limits in force for one customer, as the operations API shows them. */
export interface CustomerRateLimits extends RateLimits {
  customerId: string;
  /** own: set by the operator for this customer; default: the platform's configured defaults. */
  source: 'own' | 'default';
}

/** Kong's windows: aligned to the clock, as its `timestamp.get_timestamps` does. */
const WINDOWS = [
  { period: 'second', ms: 1_000, suffix: 'Second', limit: (l: RateLimits) => l.perSecond },
  { period: 'minute', ms: 60_000, suffix: 'Minute', limit: (l: RateLimits) => l.perMinute },
] as const;

/** Kong's message for a refused request. */
export const RATE_LIMITED_MESSAGE = 'API rate limit exceeded';

/** Counters this much older than the longest window are deleted, now and then. */
const COUNTER_RETENTION_MS = 2 * 60_000;
const PRUNE_EVERY = 500;

/** The highest limit an operator may set (a typo of an extra zero is still a number, not infinity). */
const MAX_LIMIT = 1_000_000;

export class RateLimiting implements GatewayPlugin {
  readonly name = 'rate-limiting';
  private sincePrune = 0;

  constructor(
    private readonly db: Db,
    private readonly defaults: RateLimits,
    private readonly now: () => number = Date.now,
    /** Shared with the rest of the gateway: while the store is down, requests pass uncounted. */
    private readonly store = new StoreHealth(now, 1_000),
  ) {}

  /**
   * Counts the request against each window of its customer's limits, or refuses it (429) when a
   * window is used up; a refused request is not counted (Kong's order: read usage, then count).
   * The operator's key is not a consumer and is never limited.
   */
  access(request: PluginRequest): { exit?: PluginExit; headers?: Record<string, string> } | undefined {
    if (request.caller.role !== 'customer') return undefined;
    const identifier = request.caller.customerId;
    const at = this.now();
    const windows = WINDOWS.flatMap((window) => {
      const limit = window.limit(this.limitsOf(identifier));
      return limit === null ? [] : [{ ...window, limit, start: at - (at % window.ms) }];
    });
    if (windows.length === 0 || this.store.down()) return undefined;

    // One write transaction: the check and the count are atomic across every node on the store.
    const usage = this.countOrRefuse(() =>
      this.db.transaction(() => {
        const used = windows.map((window) => this.usage(identifier, window.period, window.start));
        const stop = windows.findIndex((window, index) => window.limit - used[index] <= 0);
        if (stop < 0) for (const window of windows) this.count(identifier, window.period, window.start);
        if (++this.sincePrune >= PRUNE_EVERY) {
          this.sincePrune = 0;
          this.db
            .prepare('DELETE FROM gateway_rate_counters WHERE window_start < ?')
            .run(at - COUNTER_RETENTION_MS);
        }
        return { used, stop };
      }),
    );
    if (!usage) return undefined;

    const headers: Record<string, string> = {};
    // The window the standard RateLimit-* headers describe: the fewest remaining, a tie going to
    // the longer window (Kong's choice), so a client that obeys it never meets the other.
    let shown: { limit: number; remaining: number; reset: number; ms: number } | undefined;
    windows.forEach((window, index) => {
      const counted = usage.stop < 0 || usage.stop === index ? 1 : 0;
      const remaining = Math.max(0, window.limit - usage.used[index] - counted);
      headers[`X-RateLimit-Limit-${window.suffix}`] = String(window.limit);
      headers[`X-RateLimit-Remaining-${window.suffix}`] = String(remaining);
      if (!shown || remaining < shown.remaining || (remaining === shown.remaining && window.ms > shown.ms)) {
        const reset = Math.max(1, window.ms / 1_000 - Math.floor((at - window.start) / 1_000));
        shown = { limit: window.limit, remaining, reset, ms: window.ms };
      }
    });
    if (shown) {
      headers['RateLimit-Limit'] = String(shown.limit);
      headers['RateLimit-Remaining'] = String(shown.remaining);
      headers['RateLimit-Reset'] = String(shown.reset);
    }
    if (usage.stop < 0) return { headers };
    return {
      headers,
      exit: {
        status: 429,
        body: { message: RATE_LIMITED_MESSAGE },
        headers: { 'Retry-After': headers['RateLimit-Reset'] },
      },
    };
  }

  /**
   * Runs the counting transaction. A store that cannot take the count (locked, failing) lets the
   * request through uncounted, as Kong's fault_tolerant (its default) does, and the plugin stops
   * trying for a while: every attempt would block the process for the whole busy timeout. Reads
   * go on being served; a request that must write meets the store's refusal in its own handler.
   */
  private countOrRefuse<T>(count: () => { immediate(): T }): T | undefined {
    try {
      return count().immediate();
    } catch (error) {
      if (!isStoreUnavailable(error)) throw error;
      this.store.failed();
      return undefined;
    }
  }

  /** The limits in force for a customer: its own when the operator set them, else the defaults. */
  limitsOf(customerId: string): RateLimits {
    return this.ownLimits(customerId) ?? this.defaults;
  }

  private ownLimits(customerId: string): RateLimits | undefined {
    const row = this.db
      .prepare('SELECT per_second, per_minute FROM gateway_rate_limits WHERE customer_id = ?')
      .get(customerId) as { per_second: number | null; per_minute: number | null } | undefined;
    return row ? { perSecond: row.per_second, perMinute: row.per_minute } : undefined;
  }

  /** GET /ops/v1/customers/{id}/rate-limits. */
  getLimits(customerId: string): CustomerRateLimits {
    this.requireCustomer(customerId);
    const own = this.ownLimits(customerId);
    return { customerId, ...(own ?? this.defaults), source: own ? 'own' : 'default' };
  }

  /** PUT /ops/v1/customers/{id}/rate-limits: `{perSecond, perMinute}`, each a count or null (unlimited). */
  setLimits(customerId: string, body: unknown): CustomerRateLimits {
    this.requireCustomer(customerId);
    const input = new InputReader(body, ['perSecond', 'perMinute']);
    const read = (field: 'perSecond' | 'perMinute'): number | null => {
      const value = (body as Record<string, unknown>)[field];
      if (value === undefined) {
        input.fail(field, 'is required: a number of requests, or null for no limit');
        return null;
      }
      return value === null ? null : input.integer(field, 1, MAX_LIMIT);
    };
    const perSecond = read('perSecond');
    const perMinute = read('perMinute');
    input.done();
    this.db
      .prepare(
        `INSERT INTO gateway_rate_limits (customer_id, per_second, per_minute, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET per_second = excluded.per_second,
           per_minute = excluded.per_minute, updated_at = excluded.updated_at`,
      )
      .run(customerId, perSecond, perMinute, nowIso());
    return { customerId, perSecond, perMinute, source: 'own' };
  }

  /** DELETE /ops/v1/customers/{id}/rate-limits: back to the platform's defaults. */
  resetLimits(customerId: string): CustomerRateLimits {
    this.requireCustomer(customerId);
    this.db.prepare('DELETE FROM gateway_rate_limits WHERE customer_id = ?').run(customerId);
    return { customerId, ...this.defaults, source: 'default' };
  }

  private requireCustomer(customerId: string): void {
    if (!this.db.prepare('SELECT 1 FROM customers WHERE id = ?').get(customerId))
      throw new NotFoundError('customer', customerId);
  }

  private usage(identifier: string, period: string, start: number): number {
    const row = this.db
      .prepare(
        'SELECT count FROM gateway_rate_counters WHERE identifier = ? AND period = ? AND window_start = ?',
      )
      .get(identifier, period, start) as { count: number } | undefined;
    return row?.count ?? 0;
  }

  private count(identifier: string, period: string, start: number): void {
    this.db
      .prepare(
        `INSERT INTO gateway_rate_counters (identifier, period, window_start, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (identifier, period, window_start) DO UPDATE SET count = count + 1`,
      )
      .run(identifier, period, start);
  }
}
