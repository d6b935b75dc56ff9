import type { IWorld } from '@cucumber/cucumber';
import type { Attempt } from './attempts';

/**
 * Measurements for the plan's success metrics (end-to-end success, cross-service latency, data
 * consistency, failover time, message loss, audit trail). Steps record them as attachments of
 * their own media type, so they travel in Cucumber's message stream from every worker and are
 * summed up once after the run (scripts/run-summary.ts). Recording never asserts: targets are
 * judged in the summary and in benchmarks, not by timed scenarios.
 */

export const METRIC_MEDIA_TYPE = 'application/vnd.phase2.metric+json';

export type Metric =
  /** Time for something to cross services: API → handset, webhook after the network's report, … */
  | { kind: 'latency'; name: string; ms: number }
  /** A check that two views of the same data agree (API vs handsets, webhook vs API record). */
  | { kind: 'consistency'; name: string; passed: boolean }
  /** Time from a failure to service restored (crash → first success through the same address). */
  | { kind: 'failover'; name: string; ms: number; role?: string }
  /** The longest silence a party of a call heard across a failover, one direction. */
  | { kind: 'audio-gap'; name: string; ms: number; direction: string }
  /** Texts acknowledged around a failure, and how many of them arrived more than once. */
  | {
      kind: 'duplicates';
      name: string;
      texts: number;
      duplicated: number;
      /** Texts the SMSC itself reports re-sending from the in-flight window (the only excusable duplicates). */
      resentInFlight: number;
    }
  /** Texts the platform acknowledged, and how many of them reached a handset. */
  | { kind: 'delivery'; name: string; accepted: number; delivered: number }
  /**
   * A change the suite made through the API (a 2xx to a POST/PUT/PATCH/DELETE, by request id)
   * and how many entries of the platform's audit trail carry that request id: exactly 1 is right.
   */
  | { kind: 'audit'; name: string; requestId: string; entries: number }
  /** One call, text or API request and how it ended end to end (reporting/attempts.ts). */
  | ({ kind: 'attempt' } & Attempt);

export function recordMetric(world: Pick<IWorld, 'attach'>, metric: Metric): void {
  world.attach(JSON.stringify(metric), { mediaType: METRIC_MEDIA_TYPE, fileName: `Metric: ${metric.name}` });
}

/** Runs a consistency check and records whether it held; the check's own failure is rethrown. */
export async function consistencyCheck<T>(
  world: Pick<IWorld, 'attach'>,
  name: string,
  check: () => T | Promise<T>,
): Promise<T> {
  try {
    const outcome = await check();
    recordMetric(world, { kind: 'consistency', name, passed: true });
    return outcome;
  } catch (error) {
    recordMetric(world, { kind: 'consistency', name, passed: false });
    throw error;
  }
}
