import type { Caller } from '../core/services';

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

/**
 * The gateway's recent requests by request id, for GET /ops/v1/requests/{id}: a bounded ring,
 * so a busy gateway forgets its oldest requests instead of growing. A request id a client
 * reuses answers with its latest request.
 */
export class RequestLog {
  private readonly records = new Map<string, RequestRecord>();

  constructor(private readonly capacity = 10_000) {}

  add(record: RequestRecord): void {
    this.records.delete(record.requestId); // re-inserted: the newest is the last to be evicted
    this.records.set(record.requestId, record);
    if (this.records.size > this.capacity) {
      const oldest = this.records.keys().next().value;
      if (oldest !== undefined) this.records.delete(oldest);
    }
  }

  find(requestId: string): RequestRecord | undefined {
    return this.records.get(requestId);
  }
}
