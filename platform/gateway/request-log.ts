import type { Caller } from '../core/services';
import type { Db } from '../store/store';

/** One request as the gateway saw it (Kong's access log line, readable by id). */
export interface RequestRecord {
  requestId: string;
  method: string;
  /** The path without the query string (a query may carry a key). */
  path: string;
  status: number;
  /** Who the key belonged to: anonymous when no valid key was presented. */
  role: 'anonymous' | Caller['role'];
  customerId: string | null;
  durationMs: number;
  receivedAt: string;
}

interface RequestRow {
  request_id: string;
  method: string;
  path: string;
  status: number;
  role: RequestRecord['role'];
  customer_id: string | null;
  duration_ms: number;
  received_at: string;
}

/** Records kept in memory while the store cannot take them, oldest dropped first. */
const BACKLOG_LIMIT = 1_000;
const PRUNE_EVERY = 500;

/**
 * The gateway's recent requests by request id, for GET /ops/v1/requests/{id}, kept in the shared
 * store so any gateway node answers for requests another (perhaps dead) node served. Bounded: the
 * newest `capacity` requests are kept. A request id a client reuses answers with its latest request.
 * While the store is unavailable, records wait in a small backlog and are written once it is back.
 */
export class RequestLog {
  private readonly backlog: RequestRecord[] = [];
  private sincePrune = 0;

  constructor(
    private readonly db: Db,
    private readonly capacity = 10_000,
  ) {}

  /**
   * Writes the record, or keeps it in the backlog when the store fails (or is already known to be
   * failing: `storeDown` spares a second wait on a store that just refused the request itself).
   * Throws nothing: the access log must never turn an answer into an error.
   */
  add(record: RequestRecord, storeDown = false): { stored: boolean; error?: unknown } {
    this.backlog.push(record);
    if (storeDown) {
      this.trimBacklog();
      return { stored: false };
    }
    try {
      this.db.transaction(() => {
        for (const pending of this.backlog) this.insert(pending);
        if ((this.sincePrune += this.backlog.length) >= PRUNE_EVERY) {
          this.sincePrune = 0;
          this.db
            .prepare(
              'DELETE FROM gateway_requests WHERE rowid IN (SELECT rowid FROM gateway_requests ORDER BY rowid DESC LIMIT -1 OFFSET ?)',
            )
            .run(this.capacity);
        }
      })();
      this.backlog.length = 0;
      return { stored: true };
    } catch (error) {
      this.trimBacklog();
      return { stored: false, error };
    }
  }

  find(requestId: string): RequestRecord | undefined {
    for (let i = this.backlog.length - 1; i >= 0; i--)
      if (this.backlog[i].requestId === requestId) return this.backlog[i];
    const row = this.db.prepare('SELECT * FROM gateway_requests WHERE request_id = ?').get(requestId) as
      RequestRow | undefined;
    return row && recordOf(row);
  }

  private insert(record: RequestRecord): void {
    // REPLACE gives a reused id a new rowid: it is the newest again, the last to be pruned.
    this.db
      .prepare(
        `INSERT OR REPLACE INTO gateway_requests (request_id, method, path, status, role, customer_id, duration_ms, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.requestId,
        record.method,
        record.path,
        record.status,
        record.role,
        record.customerId,
        record.durationMs,
        record.receivedAt,
      );
  }

  private trimBacklog(): void {
    if (this.backlog.length > BACKLOG_LIMIT) this.backlog.splice(0, this.backlog.length - BACKLOG_LIMIT);
  }
}

function recordOf(row: RequestRow): RequestRecord {
  return {
    requestId: row.request_id,
    method: row.method,
    path: row.path,
    status: row.status,
    role: row.role,
    customerId: row.customer_id,
    durationMs: row.duration_ms,
    receivedAt: row.received_at,
  };
}
