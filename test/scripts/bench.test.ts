import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TARGET, judge, percentile, summarise, type Summary } from '../../scripts/bench-verdict';

test('percentile: nearest rank over unsorted samples', () => {
  const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(samples, 50), 5);
  assert.equal(percentile(samples, 95), 10);
  assert.equal(percentile(samples, 90), 9);
  assert.equal(percentile(samples, 100), 10);
  assert.equal(percentile([42], 50), 42);
  assert.deepEqual(samples, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6], 'the samples are not reordered');
});

test('percentile: no samples or a percentile out of range is an error, not a number', () => {
  assert.throws(() => percentile([], 50), /no samples/);
  assert.throws(() => percentile([1], 0), /not in/);
  assert.throws(() => percentile([1], 101), /not in/);
});

test('summarise: p50, p95 and max of 200 samples, to a tenth of a millisecond', () => {
  const samples = Array.from({ length: 200 }, (_, i) => i + 1 + 0.04);
  assert.deepEqual(summarise(samples), { count: 200, p50: 100, p95: 190, max: 200 });
});

const alone: Summary = { count: 200, p50: 1, p95: 2, max: 5 };
const clean = { alone, neighbourNot200: 0, flood429: 1000 };

test('judge: met at exactly p95 alone + the target, not met a tenth above it', () => {
  const at = { count: 200, p50: 3, p95: alone.p95 + TARGET.p95ExtraMs, max: 80 };
  assert.deepEqual(judge({ ...clean, flooded: at }), { met: true, reasons: [] });
  const over = judge({ ...clean, flooded: { ...at, p95: at.p95 + 0.1 } });
  assert.equal(over.met, false);
  assert.match(over.reasons.join(), /p95 under the flood 52\.1 ms > p95 alone 2 ms \+ 50 ms/);
});

test('judge: a neighbour answer other than 200, a flood never refused, or too few answers under it each fail it', () => {
  for (const [change, reason] of [
    [{ neighbourNot200: 1 }, /1 of the neighbour's requests were not answered 200/],
    [{ flood429: 0 }, /never over its limit/],
    [
      { flooded: { ...alone, count: TARGET.minSamplesUnderFlood - 1 } },
      /only 99 neighbour requests .* fewer than 100/,
    ],
  ] as const) {
    const verdict = judge({ ...clean, flooded: alone, ...change });
    assert.equal(verdict.met, false, JSON.stringify(change));
    assert.match(verdict.reasons.join(), reason);
  }
});
