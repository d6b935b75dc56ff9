import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PlatformApi } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

let platform: TestPlatform;
let operator: PlatformApi;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

test('analytics: counts by status, delivery rate among final outcomes, nearest-rank latency, windows', async () => {
  const created = await operator.createCustomer({
    name: `Stats ${randomBytes(3).toString('hex')}`,
    tier: 'api-only',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const insert = platform.db.prepare(
    `INSERT INTO messages (id, customer_id, source, sender, recipient, text, encoding, parts, status, error_code,
       connector_id, carrier_message_ids, registered_delivery, accepted_at, done_at)
     VALUES (?, ?, 'api', 'ACME', '+447700900123', 'x', 'gsm7', 1, ?, NULL, NULL, '[]', 1, ?, ?)`,
  );
  const at = (second: number, ms = 0): string =>
    new Date(Date.UTC(2026, 0, 1, 12, 0, second, ms)).toISOString();
  // Delivered after 100, 200, … 1000 ms; one undeliverable, one still sent.
  for (let i = 1; i <= 10; i += 1)
    insert.run(`m${i}_${created.id}`, created.id, 'delivered', at(i), at(i, i * 100));
  insert.run(`u_${created.id}`, created.id, 'undeliverable', at(20), at(21));
  insert.run(`s_${created.id}`, created.id, 'sent', at(30), null);

  const all = await api.messageAnalytics();
  assert.equal(all.total, 12);
  assert.deepEqual(
    [all.counts.delivered, all.counts.undeliverable, all.counts.sent, all.counts.queued],
    [10, 1, 1, 0],
  );
  assert.equal(all.deliveryRate, 10 / 11);
  assert.deepEqual(all.deliveryLatencyMs, { p50: 500, p95: 1000, max: 1000, samples: 10 });

  const window = await api.messageAnalytics({ since: at(20), until: at(30) });
  assert.deepEqual([window.total, window.deliveryRate, window.deliveryLatencyMs], [1, 0, null]);
  const empty = await api.messageAnalytics({ since: at(40) });
  assert.deepEqual([empty.total, empty.deliveryRate, empty.deliveryLatencyMs], [0, null, null]);
  const bad = await api.raw({ method: 'GET', path: '/v1/analytics/messages?since=yesterday' });
  assert.equal(bad.status, 422);
});
