/**
 * A growing list of things that happened (webhooks received, messages on a handset, INVITEs at
 * the PSTN) that a step can wait on. Waiting is event-driven: the promise settles the moment a
 * matching item arrives, or fails after the timeout with a message naming what was awaited,
 * what arrived instead, and where to look.
 */
export interface WaitOptions {
  /** What the step is waiting for, in business words: "a delivery report for message m-1". */
  awaited: string;
  timeoutMs: number;
  /** Where a person should look when it does not arrive (an attachment, a log). */
  lookAt?: string;
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

  /** Resolves with the first item (already arrived or arriving) that matches. */
  waitFor(predicate: (item: T) => boolean, options: WaitOptions): Promise<T> {
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

  private timeoutMessage(options: WaitOptions): string {
    const arrived = this.items.slice(-10).map((item) => `  - ${this.describe(item)}`);
    return [
      `Timed out after ${options.timeoutMs} ms waiting for ${options.awaited}.`,
      arrived.length === 0
        ? 'Nothing arrived instead.'
        : `Arrived instead (last ${arrived.length} of ${this.items.length}):\n${arrived.join('\n')}`,
      options.lookAt ? `Look at: ${options.lookAt}.` : '',
    ]
      .filter(Boolean)
      .join('\n');
  }
}
