/**
 * Whether the store refused a write a moment ago. better-sqlite3 blocks the whole process while
 * it waits for a lock (up to the busy timeout), and a node blocked longer than the cluster's
 * dead-after interval is taken over; so once a write met an unavailable store, the gateway's
 * parts (rate limiting, idempotency, the handlers, the request log) stop writing for a back-off
 * interval instead of each waiting again: a request waits on a locked store at most once.
 */
export class StoreHealth {
  private downUntil = 0;

  constructor(
    private readonly now: () => number,
    private readonly backOffMs: number,
  ) {}

  /** True while writes should not be tried. */
  down(): boolean {
    return this.now() < this.downUntil;
  }

  /** A write met an unavailable store: stop writing for the back-off interval. */
  failed(): void {
    this.downUntil = this.now() + this.backOffMs;
  }
}
