/**
 * A growing list of things that happened (webhooks received, messages on a handset, INVITEs at
 * the PSTN) that a step can wait on. Waiting is event-driven: the promise settles the moment a
 * matching item arrives, or fails after the timeout with a message naming what was awaited,
 * what arrived instead, and where to look.
 */
export interface WaitOptions<T = unknown> {
  /** What the step is waiting for, in business words: "a delivery report for message m-1". */
  awaited: string;
  timeoutMs: number;
  /** Where a person should look when it does not arrive (an attachment, a log). */
  lookAt?: string;
  /**
   * Which items belong to this wait's story (this scenario's endpoint, this call): only they are
   * listed as "arrived instead" on a timeout, so a long-lived double's other traffic does not
   * mislead. Default: every item.
   */
  relevant?: (item: T) => boolean;
}

export class WaitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

export class Observed<T> {
  private readonly items: T[] = [];
  private readonly waiters = new Set<(item: T) => void>();

  constructor(private readonly describe: (item: T) => string = (item) => JSON.stringify(item)) {}

  add(item: T): void {
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter(item);
  }

  all(): readonly T[] {
    return this.items;
  }

  filter(predicate: (item: T) => boolean): T[] {
    return this.items.filter(predicate);
  }

  /**
   * Drops the items that match (a finished scenario's, on a long-lived double) and returns how
   * many went. Waits in progress are unaffected: they only look at items arriving later.
   */
  forget(predicate: (item: T) => boolean): number {
    // Compacted in place: the array handed out by all() stays live.
    let kept = 0;
    for (const item of this.items) if (!predicate(item)) this.items[kept++] = item;
    const removed = this.items.length - kept;
    this.items.length = kept;
    return removed;
  }

  /** Resolves with the first item (already arrived or arriving) that matches. */
  waitFor(predicate: (item: T) => boolean, options: WaitOptions<T>): Promise<T> {
    const existing = this.items.find(predicate);
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(onItem);
        reject(new WaitTimeoutError(this.timeoutMessage(options)));
      }, options.timeoutMs);
      const onItem = (item: T): void => {
        if (!predicate(item)) return;
        clearTimeout(timer);
        this.waiters.delete(onItem);
        resolve(item);
      };
      this.waiters.add(onItem);
    });
  }

  /**
   * For absence, which has no event to wait for: resolves once `duringMs` has passed without a
   * matching item, and fails the moment one arrives (or if one already has). Only for a bounded
   * business duration that the platform's own behaviour defines, such as "while paused".
   */
  expectNone(
    predicate: (item: T) => boolean,
    options: { duringMs: number; unexpected: string; lookAt?: string },
  ): Promise<void> {
    const fail = (item: T): Error =>
      new Error(
        [
          `${options.unexpected}: ${this.describe(item)}.`,
          options.lookAt ? `Look at: ${options.lookAt}.` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    const existing = this.items.find(predicate);
    if (existing !== undefined) return Promise.reject(fail(existing));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(onItem);
        resolve();
      }, options.duringMs);
      const onItem = (item: T): void => {
        if (!predicate(item)) return;
        clearTimeout(timer);
        this.waiters.delete(onItem);
        reject(fail(item));
      };
      this.waiters.add(onItem);
    });
  }

  private timeoutMessage(options: WaitOptions<T>): string {
    const relevant = options.relevant;
    const candidates = relevant ? this.items.filter((item) => relevant(item)) : this.items;
    const others = this.items.length - candidates.length;
    const arrived = candidates.slice(-10).map((item) => `  - ${this.describe(item)}`);
    const unrelated = others > 0 ? ` (${others} unrelated item(s) not listed)` : '';
    return [
      `Timed out after ${options.timeoutMs} ms waiting for ${options.awaited}.`,
      arrived.length === 0
        ? `Nothing arrived instead${unrelated}.`
        : `Arrived instead (last ${arrived.length} of ${candidates.length}${unrelated}):\n${arrived.join('\n')}`,
      options.lookAt ? `Look at: ${options.lookAt}.` : '',
    ]
      .filter(Boolean)
      .join('\n');
  }
}
