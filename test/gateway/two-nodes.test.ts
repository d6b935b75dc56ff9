import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startGateway } from '../../platform/gateway';
import type { RunningRole } from '../../platform/role';
import { PlatformApi, type CreatedCustomer } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

// Two nodes of one role: a second gateway started over the same store and services, on its own
// port, serves the same customers, shares the first one's counters, idempotency keys and request
// log, and stops without taking the first one down.
let platform: TestPlatform;
let second: RunningRole<{ apiUrl: string }>;
// Both nodes read one frozen clock, so a rate-limit window never turns over in mid-test.
let clock = Date.parse('2030-01-01T12:00:30.000Z');
const now = (): number => clock;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false, now });
  second = await startGateway(platform.deps, platform.core, { now });
});

after(async () => {
  await second.stop();
  await platform.stop();
});

/** A new customer and its client on each node. */
async function customerOnBothNodes(): Promise<{
  created: CreatedCustomer;
  nodes: [PlatformApi, PlatformApi];
}> {
  const created = await operatorApi(platform).createCustomer({
    name: `Two nodes ${randomBytes(3).toString('hex')}`,
    tier: 'api-only',
  });
  const on = (baseUrl: string): PlatformApi =>
    new PlatformApi({ baseUrl, apiKey: created.apiKey, actor: created.name });
  return { created, nodes: [on(platform.apiUrl), on(second.endpoints.apiUrl)] };
}

test('a second gateway node listens on its own port and serves the same customers', async () => {
  assert.notEqual(second.endpoints.apiUrl, platform.apiUrl, 'both gateway nodes got the same address');
  const { created, nodes } = await customerOnBothNodes();
  const seen = await nodes[1].getCustomer(created.id);
  assert.equal(seen.id, created.id, 'the second node did not find the customer the first one created');
});

test('rate-limit counters are shared: N requests a window across both nodes, not N per node', async () => {
  const { created, nodes } = await customerOnBothNodes();
  await operatorApi(platform).raw({
    method: 'PUT',
    path: `/ops/v1/customers/${created.id}/rate-limits`,
    json: { perSecond: null, perMinute: 4 },
  });
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await nodes[i % 2].raw({ method: 'GET', path: '/v1/trunks' }));
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200, 429, 429],
    'six requests alternating between the nodes under a limit of 4 a minute',
  );
  assert.deepEqual(
    answers.map((a) => a.headers['x-ratelimit-remaining-minute']),
    ['3', '2', '1', '0', '0', '0'],
  );
  assert.equal(answers[0].headers['x-ratelimit-limit-minute'], '4');
  assert.equal(answers[0].headers['ratelimit-limit'], '4');
  assert.equal(answers[0].headers['ratelimit-reset'], '30', 'the minute window has 30 s left');
  assert.equal(answers[0].headers['x-ratelimit-limit-second'], undefined, 'no per-second limit was set');
  assert.deepEqual(answers[4].body, { message: 'API rate limit exceeded' });
  assert.equal(answers[5].headers['retry-after'], '30');

  clock += 30_000; // the next minute: a fresh window on either node
  const later = await nodes[1].raw({ method: 'GET', path: '/v1/trunks' });
  assert.equal(later.status, 200, 'a new minute did not open a new window');
  assert.equal(later.headers['x-ratelimit-remaining-minute'], '3');
});

test('an Idempotency-Key honoured by one node is honoured by the other: one text, one answer', async () => {
  const { created, nodes } = await customerOnBothNodes();
  const key = randomUUID();
  const text = { from: 'Acme', to: '+447700900123', text: 'Your parcel is on its way' };
  const first = await nodes[0].raw({
    method: 'POST',
    path: '/v1/messages',
    json: text,
    headers: { 'Idempotency-Key': key },
  });
  assert.equal(first.status, 202);
  assert.equal(first.headers['idempotent-replayed'], undefined, 'a first request is no replay');
  const retry = await nodes[1].raw({
    method: 'POST',
    path: '/v1/messages',
    json: { text: text.text, to: text.to, from: text.from }, // same request, other key order
    headers: { 'Idempotency-Key': `"${key}"` }, // the draft's quoted form of the same key
  });
  assert.equal(retry.status, 202);
  assert.deepEqual(retry.body, first.body, 'the retry did not get the first answer');
  assert.equal(retry.headers['idempotent-replayed'], 'true');
  const texts = platform.db
    .prepare('SELECT count(*) AS n FROM messages WHERE customer_id = ?')
    .get(created.id) as { n: number };
  assert.equal(texts.n, 1, 'the retry on the other node queued a second text');

  const reused = await nodes[1].raw({
    method: 'POST',
    path: '/v1/messages',
    json: { ...text, text: 'Something else' },
    headers: { 'Idempotency-Key': key },
  });
  assert.equal(reused.status, 422);
  assert.deepEqual(
    (reused.body as { errors: Array<{ field: string }> }).errors.map((e) => e.field),
    ['Idempotency-Key'],
  );
});

test('the request log is one for both nodes: a request served by one is found on the other', async () => {
  const { created, nodes } = await customerOnBothNodes();
  const sent = `two-nodes-${randomUUID()}`;
  await nodes[0].raw({ method: 'GET', path: '/v1/numbers', headers: { 'X-Request-Id': sent } });
  const onSecond = new PlatformApi({
    baseUrl: second.endpoints.apiUrl,
    apiKey: platform.adminApiKey,
    actor: 'operator',
  });
  const logged = await onSecond.raw({ method: 'GET', path: `/ops/v1/requests/${sent}` });
  assert.equal(logged.status, 200, `the second node did not find request ${sent} served by the first`);
  assert.deepEqual(
    { ...(logged.body as object), durationMs: 0, receivedAt: '' },
    {
      requestId: sent,
      method: 'GET',
      path: '/v1/numbers',
      status: 200,
      role: 'customer',
      customerId: created.id,
      durationMs: 0,
      receivedAt: '',
    },
  );
});

test('stopping one gateway node leaves the other serving', async () => {
  const extra = await startGateway(platform.deps, platform.core, { now });
  await extra.stop();
  const health = await operatorApi(platform).health();
  assert.equal(
    health.status,
    'ok',
    `the first node answered ${JSON.stringify(health)} after the other stopped`,
  );
});
