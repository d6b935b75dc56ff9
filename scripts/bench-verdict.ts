/**
 * The arithmetic of `npm run bench` (scripts/bench.ts), apart so its unit test loads no platform:
 * percentiles of the answer times and the verdict against the target.
 */

/**
 * The target: the neighbour's p95 under the flood at most its p95 alone plus 50 ms. Refusing a
 * request over its limit is the gateway's cheapest answer (Kong's rate-limiting plugin answers
 * before proxying), so a flood of them may cost a neighbour some queueing on a shared 2-core
 * machine, but not a delay a person or a retrying client would notice: 50 ms is half the 100 ms
 * at which an interactive answer starts to feel slowed, and well above the queueing behind a
 * score of cheap refusals in flight. Every neighbour answer must also be 200: the flood must not
 * touch its allowance.
 */
export const TARGET = {
  p95ExtraMs: 50,
  /** Fewer answers than this under the flood make its p95 a guess, not a measurement. */
  minSamplesUnderFlood: 100,
};

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentile (the value at or below which p % of the samples lie). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not in (0, 100]`);
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
}

export function summarise(samples: readonly number[]): Summary {
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return {
    count: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    max: round(Math.max(...samples)),
  };
}

export interface Verdict {
  met: boolean;
  reasons: string[];
}

/** Met when p95 under the flood ≤ p95 alone + TARGET, every neighbour answer was 200 and the flood was refused. */
export function judge(input: {
  alone: Summary;
  flooded: Summary;
  neighbourNot200: number;
  flood429: number;
}): Verdict {
  const reasons: string[] = [];
  const allowed = input.alone.p95 + TARGET.p95ExtraMs;
  if (input.flooded.p95 > allowed)
    reasons.push(
      `p95 under the flood ${input.flooded.p95} ms > p95 alone ${input.alone.p95} ms + ${TARGET.p95ExtraMs} ms`,
    );
  if (input.neighbourNot200 > 0)
    reasons.push(`${input.neighbourNot200} of the neighbour's requests were not answered 200`);
  if (input.flood429 === 0)
    reasons.push('no flood request was refused 429: the flooder was never over its limit');
  if (input.flooded.count < TARGET.minSamplesUnderFlood)
    reasons.push(
      `only ${input.flooded.count} neighbour requests were answered during the flood, fewer than ${TARGET.minSamplesUnderFlood}`,
    );
  return { met: reasons.length === 0, reasons };
}
