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
    metric({ kind: 'audit', name: 'POST /v1/trunks', requestId: 'r1', entries: 1 }),
    metric({ kind: 'audit', name: 'PUT /v1/templates/{id}', requestId: 'r2', entries: 1 }),
  ].join('\n');
  const summary = summariseRun(ndjson, { passed: 99, failed: 1, skipped: 2 }, new Date(0));
  const byName = Object.fromEntries(summary.metrics.map((m) => [m.metric, m]));
  assert.equal(byName['Scenarios passed']?.measured, '99 % (99 of 100 scenarios)');
  assert.equal(byName['Scenarios passed']?.verdict, 'missed', '99 % is not more than 99 %');
  assert.equal(byName['End-to-end success']?.verdict, 'no measurements', 'no traffic was recorded');
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

test('audit trail completeness: each change by request id exactly once; missing and repeated entries miss it', () => {
  const audit = (requestId: string, entries: number): string =>
    metric({ kind: 'audit', name: `POST /v1/x (${requestId})`, requestId, entries });
  const summary = summariseRun(
    [audit('r1', 1), audit('r1', 1), audit('r2', 0), audit('r3', 2), audit('r4', 1)].join('\n'),
    { passed: 1, failed: 0, skipped: 0 },
  );
  const line = summary.metrics.find((m) => m.metric === 'Audit trail completeness');
  assert.equal(
    line?.measured,
    '50 % (2 of 4 changes made through the API recorded exactly once; 1 missing, 1 recorded more than once)',
  );
  assert.equal(line?.verdict, 'missed');
  assert.deepEqual(line?.sources, ['POST /v1/x (r2)', 'POST /v1/x (r3)']);
});

test('an empty run measures nothing and claims nothing', () => {
  const summary = summariseRun('', { passed: 0, failed: 0, skipped: 0 });
  assert.ok(summary.metrics.every((m) => m.verdict === 'no measurements' && m.measured === null));
});

test('end-to-end success counts traffic: attempts de-duplicated by key, expected refusals left out', () => {
  const attempt = (channel: string, key: string, outcome: string, why?: string): object => ({
    kind: 'attempt',
    channel,
    key,
    name: `${channel} ${key}`,
    outcome,
    ...(why ? { why } : {}),
  });
  // A scenario's attempts travel as one attachment, one metric a line.
  const scenario = (attempts: object[]): string =>
    JSON.stringify({
      attachment: {
        mediaType: 'application/vnd.phase2.metric+json',
        body: attempts.map((a) => JSON.stringify(a)).join('\n'),
      },
    });
  const texts = Array.from({ length: 100 }, (_, i) => attempt('text', `msg_${i}`, 'succeeded'));
  const requests = Array.from({ length: 99 }, (_, i) => attempt('request', `req_${i}`, 'succeeded'));
  const ndjson = [
    scenario([...texts.slice(0, 50), ...requests]),
    scenario(texts.slice(50)),
    // The same text seen again (a second sighting), and a refusal a negative test asked for.
    scenario([
      attempt('text', 'msg_7', 'succeeded'),
      attempt('request', 'req_refused', 'refused-as-expected'),
    ]),
    scenario([attempt('call', 'call-1@x', 'failed', 'one-way audio')]),
  ].join('\n');
  const line = summariseRun(ndjson, { passed: 4, failed: 0, skipped: 0 }).metrics.find(
    (m) => m.metric === 'End-to-end success',
  );
  assert.equal(
    line?.measured,
    '99.5 % (199 of 200 attempts: calls 0/1, texts 100/100, requests 99/99; 1 expected refusals left out); failed: call call-1@x [call-1@x]: one-way audio',
  );
  assert.equal(line?.verdict, 'met');
  assert.equal(line?.samples, 200);

  // One more failure, and the same attempt failing on a second sighting: its worst outcome stands.
  const worse = summariseRun(
    [ndjson, scenario([attempt('text', 'msg_3', 'failed', '2 copies on the handset')])].join('\n'),
    { passed: 4, failed: 0, skipped: 0 },
  ).metrics.find((m) => m.metric === 'End-to-end success');
  assert.match(String(worse?.measured), /^99 % \(198 of 200 attempts: calls 0\/1, texts 99\/100/);
  assert.equal(worse?.verdict, 'missed');
});

test('failover: slowest per role against 30 s, audio gaps per direction against 2 s, duplicates and losses counted', () => {
  const ndjson = [
    metric({ kind: 'failover', role: 'sip', name: 'SIP node crash → registration', ms: 640 }),
    metric({ kind: 'failover', role: 'sip', name: 'SIP node crash → call', ms: 910 }),
    metric({ kind: 'failover', role: 'smsc', name: 'SMSC node crash → text', ms: 31_200 }),
    metric({ kind: 'audio-gap', name: 'silence Alice heard', direction: 'Bob → Alice', ms: 420.4 }),
    metric({ kind: 'audio-gap', name: 'silence Bob heard', direction: 'Alice → Bob', ms: 380 }),
    metric({
      kind: 'duplicates',
      name: 'texts re-sent across an SMSC crash',
      texts: 10,
      duplicated: 2,
      resentInFlight: 1,
    }),
    metric({
      kind: 'delivery',
      name: 'texts acknowledged around an SMSC crash',
      accepted: 10,
      delivered: 10,
    }),
  ].join('\n');
  const byName = Object.fromEntries(
    summariseRun(ndjson, { passed: 1, failed: 0, skipped: 0 }).metrics.map((m) => [m.metric, m]),
  );
  assert.equal(
    byName['Failover time']?.measured,
    'max 31.2 s (3 measurements; slowest per role: sip 0.9 s, smsc 31.2 s)',
  );
  assert.equal(byName['Failover time']?.verdict, 'missed');
  assert.equal(
    byName['Audio gap across a media failover']?.measured,
    'max 420 ms (Bob → Alice 420 ms, Alice → Bob 380 ms)',
  );
  assert.equal(byName['Audio gap across a media failover']?.verdict, 'met');
  assert.equal(
    byName['Messages duplicated by a failover']?.measured,
    '2 of 10 texts acknowledged around a crash arrived twice; the SMSC reported 1 re-sent from its in-flight window',
  );
  // One duplicate more than the SMSC owned up to: sent twice where the protocol did not force it.
  assert.equal(byName['Messages duplicated by a failover']?.verdict, 'missed');
  const owned = summariseRun(
    metric({
      kind: 'duplicates',
      name: 'texts re-sent across an SMSC crash',
      texts: 10,
      duplicated: 1,
      resentInFlight: 1,
    }),
    { passed: 1, failed: 0, skipped: 0 },
  ).metrics.find((m) => m.metric === 'Messages duplicated by a failover');
  assert.equal(owned?.verdict, 'met', 'a duplicate the SMSC counted is the protocol window, reported');
  assert.equal(byName['Messages lost']?.verdict, 'met');
});
