import { EVIDENCE } from '../reporting/evidence';
import type { SuiteEnvironment } from '../support/environment';

/**
 * The one owner of waiting. Every wait of the suite takes its bound from the configuration
 * (PHASE2_WAIT_MS), and its failure names what was awaited, the last thing seen instead, and
 * the evidence to open. Drivers (inboxes, the webhook receiver, the telephone network) wait on
 * their own events with a `bound(...)`; what only the API can show is polled with `eventually`.
 */

/** An attachment a failure points at, or the platform's own log. */
export type Evidence = (typeof EVIDENCE)[keyof typeof EVIDENCE] | typeof PLATFORM_LOG;
export const PLATFORM_LOG = 'platform log';

export interface WaitOptions {
  /** Where to look when the wait fails. */
  lookAt: Evidence[];
  /** A bound of its own instead of the configured one (a business statement: "within 2 s"). */
  within?: number;
  /** Time the platform is meant to take first (a scheduled start, a timer), on top of the bound. */
  extraMs?: number;
}

/** What a driver's wait needs: what is awaited, for how long, where to look on failure. */
interface DriverWait {
  awaited: string;
  timeoutMs: number;
  lookAt: string;
}

/** Who waits: only the configured bound and the platform log's whereabouts matter here. */
type Waiter = { env: Pick<SuiteEnvironment, 'config' | 'platformLog'> };

/** `the "SMPP PDUs" and "HTTP exchanges" attachments and reports/platform-0.log` */
export function describeEvidence(waiter: Waiter, lookAt: Evidence[]): string {
  const attachments = lookAt.filter((e) => e !== PLATFORM_LOG).map((e) => `"${e}"`);
  const parts: string[] = [];
  if (attachments.length === 1) parts.push(`the ${attachments[0]} attachment`);
  if (attachments.length > 1)
    parts.push(`the ${attachments.slice(0, -1).join(', ')} and ${attachments.at(-1)} attachments`);
  if (lookAt.includes(PLATFORM_LOG)) parts.push(waiter.env.platformLog);
  return parts.join(' and ');
}

/** The bound of a wait on a driver's events. */
export function bound(waiter: Waiter, awaited: string, options: WaitOptions): DriverWait {
  return {
    awaited,
    timeoutMs: (options.within ?? waiter.env.config.waitMs) + Math.max(0, options.extraMs ?? 0),
    lookAt: describeEvidence(waiter, options.lookAt),
  };
}

/** The configured bound alone, for drivers that take only a number (a call to be answered, RTP to arrive). */
export function boundMs(waiter: Waiter, extraMs = 0): number {
  return waiter.env.config.waitMs + Math.max(0, extraMs);
}

const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Lets business time pass until an instant of the suite clock (halfway through a registration,
 * the moment it runs out). Never a wait for processing: that is what `bound` and `eventually` are for.
 */
export async function untilInstant(at: number): Promise<void> {
  const remaining = at - Date.now();
  if (remaining > 0) await pause(remaining + 1);
}

/**
 * Asks again after each answer until `accept` holds or the bound passes; the failure shows the
 * last answer. Errors are not retried: a contract violation or a refused request is an answer,
 * and it fails the step at once instead of being hidden by a later success.
 */
export async function eventually<T>(
  waiter: Waiter,
  awaited: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  options: WaitOptions & { intervalMs?: number },
): Promise<T> {
  const { timeoutMs, lookAt } = bound(waiter, awaited, options);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (accept(answer)) return answer;
    if (Date.now() >= deadline) {
      throw new Error(
        `Waited ${timeoutMs} ms for ${awaited}; the last answer was ${JSON.stringify(answer)}.` +
          (lookAt ? ` Look at: ${lookAt}.` : ''),
      );
    }
    // Each attempt is a real request: keep the pace modest.
    await pause(options.intervalMs ?? 50);
  }
}
