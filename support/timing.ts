/**
 * Event-driven waiting for outcomes that only the platform's API can show (a CDR, a status):
 * ask again after each answer until the condition holds or the bound passes. The bound is a
 * business statement ("consistent within 2 s"), and the failure says what was last seen.
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
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await attempt();
      lastError = undefined;
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await pause(options.intervalMs ?? 50);
  }
  const seen =
    lastError !== undefined
      ? `the last attempt failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `the last answer was ${JSON.stringify(last)}`;
  throw new Error(
    `Waited ${options.timeoutMs} ms for ${options.awaited}; ${seen}.${options.lookAt ? ` Look at: ${options.lookAt}.` : ''}`,
  );
}
