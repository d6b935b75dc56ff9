/**
 * Event-driven waiting for outcomes that only the platform's API can show (a CDR, a status):
 * ask again after each answer until the condition holds or the bound passes. The bound is a
 * business statement ("consistent within 2 s"), and the failure says what was last seen.
 * Errors are not retried: a contract violation or a refused request is an answer, and it
 * fails the step at once instead of being hidden by a later success.
 */
export interface EventuallyOptions {
  awaited: string;
  timeoutMs: number;
  lookAt?: string;
  /** Pause between attempts; each attempt is a real request, so keep it modest. */
  intervalMs?: number;
}

const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

export async function eventually<T>(
  attempt: () => Promise<T>,
  accept: (value: T) => boolean,
  options: EventuallyOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const answer = await attempt();
    if (accept(answer)) return answer;
    if (Date.now() >= deadline) {
      throw new Error(
        `Waited ${options.timeoutMs} ms for ${options.awaited}; the last answer was ${JSON.stringify(answer)}.` +
          (options.lookAt ? ` Look at: ${options.lookAt}.` : ''),
      );
    }
    await pause(options.intervalMs ?? 50);
  }
}
