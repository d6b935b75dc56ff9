/**
 * Idempotency keys on the API's creating POSTs (the IETF httpapi Idempotency-Key draft, as
 * Stripe serves it): the first response to a key is kept in the shared store and replayed to
 * every retry, on whichever gateway node the retry lands.
 *
 * A key is claimed (in-progress) before the handler runs; the handler's writes and the stored
 * response then commit in ONE transaction. So an in-progress claim whose response was never
 * stored had no effect, and once its lease runs out (its node is presumed dead) a retry may run
 * in its place without doing the work twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../store/store';

/** What a request carrying a key must do. */
export type IdempotencyDecision =
  /** First use (or the key expired, or its holder died): run, then complete or release with `claim`. */
  | { kind: 'run'; claim: string }
  /** Answered before: send this again. */
  | { kind: 'replay'; response: StoredResponse }
  /** The key was first used for a different request. */
  | { kind: 'mismatch' }
  /** A request with this key is still running. */
  | { kind: 'in-progress' };

/** A response as it went on the wire. */
export interface StoredResponse {
  status: number;
  contentType: string | null;
  body: string | null;
}

interface KeyRow {
  fingerprint: string;
  state: 'in-progress' | 'done';
  lease_until: number;
  status: number | null;
  content_type: string | null;
  body: string | null;
  created_at: number;
}

const PRUNE_EVERY = 200;

export class IdempotencyKeys {
  private sincePrune = 0;

  constructor(
    private readonly db: Db,
    private readonly ttlMs: number,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Decides, atomically across gateway nodes, whether this request runs, replays or is refused. */
  begin(scope: string, key: string, fingerprint: string): IdempotencyDecision {
    return this.db
      .transaction((): IdempotencyDecision => {
        const at = this.now();
        if (++this.sincePrune >= PRUNE_EVERY) {
          this.sincePrune = 0;
          this.db.prepare('DELETE FROM idempotency_keys WHERE created_at <= ?').run(at - this.ttlMs);
        }
        const row = this.db
          .prepare(
            'SELECT fingerprint, state, lease_until, status, content_type, body, created_at FROM idempotency_keys WHERE scope = ? AND key = ?',
          )
          .get(scope, key) as KeyRow | undefined;
        const live = row && row.created_at > at - this.ttlMs;
        const abandoned = row?.state === 'in-progress' && row.lease_until <= at;
        if (row && live && !abandoned) {
          if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
          if (row.state === 'in-progress') return { kind: 'in-progress' };
          return {
            kind: 'replay',
            response: { status: row.status ?? 500, contentType: row.content_type, body: row.body },
          };
        }
        const claim = randomUUID();
        this.db
          .prepare(
            `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim, lease_until, created_at)
             VALUES (?, ?, ?, 'in-progress', ?, ?, ?)
             ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state,
               claim = excluded.claim, lease_until = excluded.lease_until, status = NULL,
               content_type = NULL, body = NULL, created_at = excluded.created_at`,
          )
          .run(scope, key, fingerprint, claim, at + this.leaseMs, at);
        return { kind: 'run', claim };
      })
      .immediate();
  }

  /**
   * Stores the response of a claimed key. Call it inside the transaction of the handler's own
   * writes, on that transaction's connection (`db`), so both commit or neither does.
   */
  complete(db: Db, scope: string, key: string, claim: string, response: StoredResponse): boolean {
    const updated = db
      .prepare(
        `UPDATE idempotency_keys SET state = 'done', status = ?, content_type = ?, body = ?
         WHERE scope = ? AND key = ? AND claim = ? AND state = 'in-progress'`,
      )
      .run(response.status, response.contentType, response.body, scope, key, claim);
    // false: the claim was lost (its lease ran out and a retry took over); the retry's outcome
    // stands, so the caller must roll this one's writes back.
    return updated.changes === 1;
  }

  /** Frees a claimed key whose request failed: nothing was done, so a retry runs afresh. */
  release(scope: string, key: string, claim: string): void {
    this.db
      .prepare(
        "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND claim = ? AND state = 'in-progress'",
      )
      .run(scope, key, claim);
  }
}

/**
 * The request an idempotency key stands for: method, path, query (without the API key) and the
 * body — JSON canonically (key order and spacing do not make another request), text as sent.
 */
export function requestFingerprint(
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): string {
  const sortedQuery = [...query.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalBody = typeof body === 'string' ? `text:${body}` : `json:${canonicalJson(body)}`;
  return createHash('sha256')
    .update(JSON.stringify([method, path, sortedQuery, canonicalBody]))
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The header's name, as the draft and Stripe spell it. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * The key a request sent: undefined when it sent none, an error text when the header is unusable.
 * The draft makes the value a structured-field string ("…"); a bare token (Stripe's form) is
 * accepted too.
 */
export function idempotencyKeyOf(value: string | string[] | undefined): { key?: string; error?: string } {
  if (value === undefined) return {};
  if (Array.isArray(value)) return { error: 'send one Idempotency-Key header, not several' };
  const trimmed = value.trim();
  const key = /^"(.*)"$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    return { error: 'the Idempotency-Key must be 1 to 255 printable ASCII characters without spaces' };
  return { key };
}
