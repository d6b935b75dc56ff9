/**
 * Writes that must survive a store that stops accepting writes for a while (the primary is down,
 * reads still come from a replica): the CDR of a call that just ended, an SMSC status or receipt,
 * webhook bookkeeping, what a call in progress persists. Such a write must never throw into the
 * call or the SMPP session, and must land once the store is back, exactly once and in order.
 *
 * One queue per connection (so per process): a unit that fails with SQLITE_BUSY / SQLITE_LOCKED is
 * kept, and every unit arriving after it waits behind it. While anything waits, the connection's
 * busy timeout is cut to a probe's length: better-sqlite3 is synchronous, so every write blocks the
 * event loop (RTP, SIP timers) until it gets the lock or gives up. Only the write that discovers the
 * outage waits for the configured busy timeout; later ones queue or fail at once.
 *
 * A unit runs in one IMMEDIATE transaction: it takes the write lock before it reads, so it either
 * applies whole or not at all, and is simply run again. Units nested in a unit are part of it.
 * `then` runs once, after the unit committed: announce there (bus events, receipts), not inside.
 */
import type { Db } from './store';

export interface WriteBehindOptions {
  /** How often the head of the queue is tried again while the store refuses writes. */
  retryEveryMs: number;
  /** The busy timeout while an outage is suspected: a retry blocks the event loop at most this long. */
  probeBusyTimeoutMs: number;
  /** How often the queue's length and oldest age are logged while it is not empty. */
  reportEveryMs: number;
}

export const WRITE_BEHIND_DEFAULTS: WriteBehindOptions = {
  retryEveryMs: 50,
  probeBusyTimeoutMs: 1,
  reportEveryMs: 1_000,
};

export interface WriteBehindStatus {
  /** Units waiting for the store. */
  queued: number;
  /** Age of the oldest waiting unit; null when none waits. */
  oldestAgeMs: number | null;
  /** When the oldest waiting unit was first refused; null when none waits. */
  oldestSince: string | null;
  /** True from the first refused write until the queue is empty again. */
  outage: boolean;
  /** Units that had to wait, since the start. */
  deferred: number;
  /** Units that failed with another error while queued and were dropped (logged). */
  dropped: number;
  /** The last outage as this process saw it: from the first refusal to the queue being empty. */
  lastOutage: { from: string; to: string | null; deferred: number } | null;
}

interface Unit {
  label: string;
  at: number;
  execute: () => void;
  /** Set by runLatest: a later copy of the same key replaces this one while it waits. */
  key?: string;
}

/** True for the errors that mean "the store is there but not accepting this write now". */
export function isStoreBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

export class WriteBehind {
  private readonly queue: Unit[] = [];
  private readonly normalBusyTimeoutMs: number;
  private depth = 0;
  /** Effects of units nested in the running one: run once the outermost unit committed. */
  private pendingThens: Array<() => void> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private deferred = 0;
  private dropped = 0;
  private outageStarted: number | null = null;
  private deferredThisOutage = 0;
  private lastOutage: WriteBehindStatus['lastOutage'] = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: (message: string) => void,
    private readonly options: WriteBehindOptions = WRITE_BEHIND_DEFAULTS,
  ) {
    this.normalBusyTimeoutMs = db.pragma('busy_timeout', { simple: true }) as number;
  }

  /** Units waiting for the store (0 when it accepts writes). */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Applies `write` now, or keeps it (in order) when the store refuses writes or earlier units
   * still wait. `then` gets the unit's result once it committed. Errors other than the store
   * being busy are thrown to the caller, as a plain write would.
   */
  run<T>(label: string, write: () => T, then?: (result: T) => void): 'applied' | 'queued' {
    return this.submit(label, write, then, undefined);
  }

  /**
   * For state where only the latest copy matters (a call's snapshot, relay counters): like run,
   * but a copy of the same key still waiting is dropped (this one queues in its own turn), so a
   * long outage does not pile up copies nobody will read.
   */
  runLatest(key: string, label: string, write: () => void): 'applied' | 'queued' {
    if (this.depth === 0) {
      const waiting = this.queue.findIndex((unit) => unit.key === key);
      if (waiting >= 0) this.queue.splice(waiting, 1);
    }
    return this.submit(label, write, undefined, key);
  }

  private submit<T>(
    label: string,
    write: () => T,
    then: ((result: T) => void) | undefined,
    key: string | undefined,
  ): 'applied' | 'queued' {
    const execute = (): void => {
      const result = this.db.transaction(write).immediate();
      if (then) this.pendingThens.push(() => then(result));
    };
    if (this.depth > 0) {
      // Part of the unit that is running: it commits or retries as one.
      execute();
      return 'applied';
    }
    if (this.queue.length > 0 || this.stopped) {
      this.enqueue({ label, at: Date.now(), execute, key });
      return 'queued';
    }
    let effects: Array<() => void>;
    try {
      effects = this.executeUnit(execute);
    } catch (error) {
      if (!isStoreBusy(error)) throw error;
      this.enqueue({ label, at: Date.now(), execute, key });
      return 'queued';
    }
    this.runEffects(effects);
    return 'applied';
  }

  status(): WriteBehindStatus {
    return {
      queued: this.queue.length,
      oldestAgeMs: this.queue.length > 0 ? Date.now() - this.queue[0].at : null,
      oldestSince: this.queue.length > 0 ? new Date(this.queue[0].at).toISOString() : null,
      outage: this.outageStarted !== null,
      deferred: this.deferred,
      dropped: this.dropped,
      lastOutage: this.lastOutage ? { ...this.lastOutage } : null,
    };
  }

  /** Resolves when nothing waits (at once when nothing does). */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops retrying (the process is stopping); what still waits is logged, it is not written. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.reportTimer);
    if (this.queue.length > 0)
      this.log(
        `write-behind stopped with ${this.queue.length} write(s) not applied: ${this.queue.map((u) => u.label).join(', ')}`,
      );
  }

  /** Commits one unit; returns its effects, which the caller runs once the unit left the queue. */
  private executeUnit(execute: () => void): Array<() => void> {
    this.depth += 1;
    this.pendingThens = [];
    try {
      execute();
      return this.pendingThens;
    } finally {
      this.pendingThens = [];
      this.depth -= 1;
    }
  }

  private runEffects(effects: Array<() => void>): void {
    for (const effect of effects) {
      try {
        effect();
      } catch (error) {
        this.log(`write-behind: an effect after a committed write failed: ${describe(error)}`);
      }
    }
  }

  private enqueue(unit: Unit): void {
    this.queue.push(unit);
    this.deferred += 1;
    if (this.outageStarted === null) {
      this.outageStarted = Date.now();
      this.deferredThisOutage = 0;
      this.lastOutage = { from: new Date(this.outageStarted).toISOString(), to: null, deferred: 0 };
      // Every later write on this connection fails fast instead of freezing the process.
      this.db.pragma(`busy_timeout = ${this.options.probeBusyTimeoutMs}`);
      this.log(`store refuses writes: "${unit.label}" and what follows it wait, retried in order`);
      this.reportTimer = setInterval(() => this.report(), this.options.reportEveryMs);
      this.reportTimer.unref();
    }
    this.deferredThisOutage += 1;
    if (this.lastOutage) this.lastOutage.deferred = this.deferredThisOutage;
    if (!this.stopped && this.retryTimer === undefined)
      this.retryTimer = setTimeout(() => this.retry(), this.options.retryEveryMs);
  }

  private retry(): void {
    this.retryTimer = undefined;
    while (this.queue.length > 0 && !this.stopped) {
      const head = this.queue[0];
      let effects: Array<() => void> = [];
      try {
        effects = this.executeUnit(head.execute);
      } catch (error) {
        if (isStoreBusy(error)) {
          this.retryTimer ??= setTimeout(() => this.retry(), this.options.retryEveryMs);
          return;
        }
        this.dropped += 1;
        this.log(
          `write-behind: "${head.label}" failed for another reason and is dropped: ${describe(error)}`,
        );
      }
      this.queue.shift();
      this.runEffects(effects);
    }
    if (this.queue.length === 0) this.recovered();
  }

  private recovered(): void {
    if (this.outageStarted === null) return;
    const tookMs = Date.now() - this.outageStarted;
    this.outageStarted = null;
    clearInterval(this.reportTimer);
    this.db.pragma(`busy_timeout = ${this.normalBusyTimeoutMs}`);
    if (this.lastOutage) this.lastOutage.to = new Date().toISOString();
    this.log(
      `store accepts writes again: ${this.deferredThisOutage} waiting write(s) applied in order, ${tookMs} ms after the first refusal`,
    );
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private report(): void {
    if (this.queue.length === 0) return;
    this.log(
      `write-behind: ${this.queue.length} write(s) waiting for the store, oldest "${this.queue[0].label}" for ${Date.now() - this.queue[0].at} ms`,
    );
  }
}

const queues = new WeakMap<Db, WriteBehind>();

/**
 * The connection's one queue (created on first use, with the log of whoever asks first): every
 * writer of a process shares it, so their writes keep their order across roles.
 */
export function writeBehind(db: Db, log: (message: string) => void): WriteBehind {
  let queue = queues.get(db);
  if (queue === undefined) {
    queue = new WriteBehind(db, log);
    queues.set(db, queue);
  }
  return queue;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
