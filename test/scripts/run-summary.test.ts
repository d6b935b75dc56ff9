import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentProperties, formatSummary, summariseRun } from '../../scripts/run-summary';

const metric = (body: object): string =>
  JSON.stringify({
    attachment: { mediaType: 'application/vnd.phase2.metric+json', body: JSON.stringify(body) },
  });
const runParameters = JSON.stringify({
  attachment: {
    mediaType: 'application/json',
    fileName: 'Run parameters',
    body: JSON.stringify({
      target: 'embedded',
      api: 'http://127.0.0.1:1',
      fakerSeed: 7,
      scenarioSeed: 1,
      worker: '0',
    }),
  },
});

test('metrics: percentiles, consistency, losses, audit; a metric without measurements says so', () => {
  const ndjson = [
    runParameters,
    ...[10, 20, 30, 40, 600].map((ms) => metric({ kind: 'latency', name: 'API → handset', ms })),
    metric({ kind: 'consistency', name: 'analytics', passed: true }),
    metric({ kind: 'consistency', name: 'analytics', passed: false }),
    metric({ kind: 'delivery', name: 'campaign', accepted: 5, delivered: 4 }),
    metric({ kind: 'audit', name: 'cdr', expected: 3, recorded: 3 }),
  ].join('\n');
  const summary = summariseRun(ndjson, { passed: 99, failed: 1, skipped: 2 }, new Date(0));
  const byName = Object.fromEntries(summary.metrics.map((m) => [m.metric, m]));
  assert.equal(byName['End-to-end success']?.measured, '99 % (99 of 100 scenarios)');
  assert.equal(byName['End-to-end success']?.verdict, 'missed', '99 % is not more than 99 %');
  assert.equal(byName['Cross-service latency']?.measured, 'p50 30 ms, p95 600 ms, max 600 ms (5 samples)');
  assert.equal(byName['Cross-service latency']?.verdict, 'missed');
  assert.equal(byName['Data consistency']?.measured, '50 % (1 of 2 checks)');
  assert.equal(byName['Failover time']?.measured, null);
  assert.equal(byName['Failover time']?.verdict, 'no measurements');
  assert.equal(byName['Messages lost']?.measured, '1 of 5 acknowledged texts');
  assert.equal(byName['Audit trail completeness']?.verdict, 'met');
  assert.deepEqual(summary.environment, { target: 'embedded', api: 'http://127.0.0.1:1', fakerSeed: '7' });
  assert.match(formatSummary(summary), /Failover time +< 30 s +no measurements in this run +—/);
  assert.match(
    environmentProperties(summary),
    /^metric\\:\\ Failover\\ time=no measurements in this run, target < 30 s$/m,
  );
});

test('an empty run measures nothing and claims nothing', () => {
  const summary = summariseRun('', { passed: 0, failed: 0, skipped: 0 });
  assert.ok(summary.metrics.every((m) => m.verdict === 'no measurements' && m.measured === null));
});
