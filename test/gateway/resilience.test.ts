/**
 * The gateway's own guarantees, on one node: Idempotency-Key semantics (replay, reuse, in
 * progress, expiry, a failed request keeps nothing) and a 503 with Retry-After, never a 500 or a
 * hang, while another connection holds the store's write lock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { startGateway } from '../../platform/gateway';
import { IdempotencyKeys, requestFingerprint } from '../../platform/gateway/idempotency';
import { PlatformApi } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

const TTL_MS = 60_000;
const LEASE_MS = 5_000;
let platform: TestPlatform;
let clock = Date.parse('2030-01-01T12:00:00.000Z');
const now = (): number => clock;

before(async () => {
  platform = await startTestPlatform(
    { api: { idempotencyKeyTtlMs: TTL_MS, idempotencyLeaseMs: LEASE_MS } },
    { webhooks: false, now },
  );
});

after(async () => {
  await platform.stop();
});

const text = { from: 'Acme', to: '+447700900123', text: 'Your code is 1234' };

function send(api: PlatformApi, key: string, body: unknown = text) {
  return api.raw({ method: 'POST', path: '/v1/messages', json: body, headers: { 'Idempotency-Key': key } });
}

function textsOf(customerId: string): number {
  return (
    platform.db.prepare('SELECT count(*) AS n FROM messages WHERE customer_id = ?').get(customerId) as {
      n: number;
    }
  ).n;
}

/** A new customer: its client and id. */
async function newCustomer(
  prefix: string,
): Promise<{ api: PlatformApi; customerId: string; apiKey: string }> {
  const created = await operatorApi(platform).createCustomer({
    name: `${prefix} ${randomUUID().slice(0, 6)}`,
    tier: 'api-only',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  return { api, customerId: created.id, apiKey: created.apiKey };
}

test('the settings show the gateway’s defaults', async () => {
  const settings = (await operatorApi(platform).raw({ method: 'GET', path: '/ops/v1/settings' })).body as {
    api: unknown;
  };
  assert.deepEqual(settings.api, {
    rateLimits: platform.config.api.rateLimits,
    idempotencyKeyTtlMs: TTL_MS,
    idempotencyLeaseMs: LEASE_MS,
    storeRetryAfterSeconds: platform.config.api.storeRetryAfterSeconds,
  });
});

test('a key is per customer: another customer’s same key is a request of its own', async () => {
  const [a, b] = [(await newCustomer('Keys A')).api, (await newCustomer('Keys B')).api];
  const key = randomUUID();
  const first = await send(a, key);
  const other = await send(b, key);
  assert.equal(other.status, 202);
  assert.equal(other.headers['idempotent-replayed'], undefined);
  assert.notEqual((other.body as { id: string }).id, (first.body as { id: string }).id);
});

test('a request still holding its key makes a retry wait (409), until its lease runs out', async () => {
  const { api, customerId } = await newCustomer('In progress');
  const key = randomUUID();
  // A node took the key and has not finished (or died): the claim is in the store, nothing else.
  const keys = new IdempotencyKeys(platform.db, TTL_MS, LEASE_MS, now);
  const held = keys.begin(
    customerId,
    key,
    requestFingerprint('POST', '/v1/messages', new URLSearchParams(), text),
  );
  assert.equal(held.kind, 'run');
  const retry = await send(api, key);
  assert.equal(retry.status, 409);
  assert.equal(retry.headers['retry-after'], '1');
  assert.equal(textsOf(customerId), 0);

  clock += LEASE_MS; // its node is presumed dead: the claim never committed a text, so the retry runs
  const taken = await send(api, key);
  assert.equal(taken.status, 202);
  assert.equal(taken.headers['idempotent-replayed'], undefined);
  assert.equal(textsOf(customerId), 1);
});

test('a failed request keeps nothing; a key expires after its lifetime', async () => {
  const { api, customerId } = await newCustomer('Expiry');
  const key = randomUUID();
  const refused = await send(api, key, { ...text, to: 'not a number' });
  assert.equal(refused.status, 422);
  const fixed = await send(api, key);
  assert.equal(fixed.status, 202, 'the key of a refused request was kept');
  assert.equal((await send(api, key)).headers['idempotent-replayed'], 'true');

  clock += TTL_MS;
  const afterExpiry = await send(api, key);
  assert.equal(afterExpiry.status, 202);
  assert.equal(afterExpiry.headers['idempotent-replayed'], undefined, 'an expired key was replayed');
  assert.equal(textsOf(customerId), 2);
});

test('an unusable Idempotency-Key is refused before anything is done', async () => {
  const { api, customerId } = await newCustomer('Bad key');
  for (const key of ['', 'has space', 'x'.repeat(256)]) {
    const answer = await send(api, key);
    assert.equal(answer.status, 400, `Idempotency-Key ${JSON.stringify(key.slice(0, 20))}`);
  }
  assert.equal(textsOf(customerId), 0);
});

test('a locked store: writes get 503 with Retry-After (never a 500 or a hang), reads go on, and the API recovers', async () => {
  const { customerId, apiKey } = await newCustomer('Store down');
  // A gateway node whose connections wait 100 ms for a lock (it takes the platform's setting).
  platform.db.pragma('busy_timeout = 100');
  const node = await startGateway(platform.deps, platform.core, { now });
  const api = new PlatformApi({ baseUrl: node.endpoints.apiUrl, apiKey, actor: 'Store down' });
  const blocker = new Database(platform.config.store.file);
  try {
    blocker.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    const started = performance.now();
    const refused = await send(api, 'during-outage');
    const elapsed = performance.now() - started;
    assert.equal(refused.status, 503, `answered ${refused.status} ${JSON.stringify(refused.body)}`);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    assert.equal(refused.headers['retry-after'], String(platform.config.api.storeRetryAfterSeconds));
    assert.ok(elapsed < 5_000, `the 503 took ${Math.round(elapsed)} ms`);
    // Reads go on, uncounted (Kong's fault-tolerant rate limiting); writes fail fast within
    // Retry-After instead of each waiting on the lock again.
    const read = await api.raw({
      method: 'GET',
      path: '/v1/trunks',
      headers: { 'X-Request-Id': 'outage-2' },
    });
    assert.equal(read.status, 200, `a read during the outage answered ${read.status}`);
    assert.equal(read.headers['ratelimit-remaining'], undefined, 'a count the store refused was reported');
    const write = await send(api, 'during-outage');
    assert.equal(write.status, 503);
    // Answered at once, without another wait on the lock (the store was not asked).
    assert.match(String((write.body as { detail?: string }).detail), /did not answer; retry in 1 s/);

    clock += platform.config.api.storeRetryAfterSeconds * 1_000;
    blocker.exec('ROLLBACK'); // the store is back
    const retried = await send(api, 'during-outage');
    assert.equal(retried.status, 202, 'the retry after the outage did not run afresh');
    assert.equal(textsOf(customerId), 1);
    // Requests answered during the outage reach the request log once the store is back.
    const logged = await operatorApi(platform).raw({ method: 'GET', path: '/ops/v1/requests/outage-2' });
    assert.equal(logged.status, 200);
    assert.equal((logged.body as { status: number }).status, 200);
  } finally {
    if (blocker.inTransaction) blocker.exec('ROLLBACK');
    blocker.close();
    await node.stop();
    platform.db.pragma('busy_timeout = 5000');
  }
});

test('the operator sets, reads and drops a customer’s own rate limits', async () => {
  const { customerId } = await newCustomer('Limits');
  const operator = operatorApi(platform);
  const path = `/ops/v1/customers/${customerId}/rate-limits`;
  const defaults = { customerId, ...platform.config.api.rateLimits, source: 'default' };
  assert.deepEqual((await operator.raw({ method: 'GET', path })).body, defaults);
  const own = { customerId, perSecond: 2, perMinute: null, source: 'own' };
  const set = await operator.raw({ method: 'PUT', path, json: { perSecond: 2, perMinute: null } });
  assert.deepEqual(set.body, own);
  assert.deepEqual((await operator.raw({ method: 'GET', path })).body, own);
  const wrong = await operator.raw({ method: 'PUT', path, json: { perSecond: 0 } });
  assert.equal(wrong.status, 422);
  assert.deepEqual((wrong.body as { errors: Array<{ field: string }> }).errors.map((e) => e.field).sort(), [
    'perMinute',
    'perSecond',
  ]);
  assert.deepEqual((await operator.raw({ method: 'DELETE', path })).body, defaults);
  const unknown = await operator.raw({ method: 'GET', path: '/ops/v1/customers/cus_nobody/rate-limits' });
  assert.equal(unknown.status, 404);
});

test('a request whose key was taken over after its lease may not keep its answer', () => {
  const keys = new IdempotencyKeys(platform.db, TTL_MS, LEASE_MS, now);
  const print = requestFingerprint('POST', '/v1/trunks', new URLSearchParams(), { name: 'x' });
  const slow = keys.begin('cus_lease', 'k', print);
  clock += LEASE_MS;
  const retry = keys.begin('cus_lease', 'k', print);
  assert.ok(slow.kind === 'run' && retry.kind === 'run', `${slow.kind}, ${retry.kind}`);
  const answer = { status: 201, contentType: 'application/json', body: '{}' };
  assert.equal(keys.complete(platform.db, 'cus_lease', 'k', slow.claim, answer), false);
  assert.equal(keys.complete(platform.db, 'cus_lease', 'k', retry.claim, answer), true);
  assert.equal(keys.begin('cus_lease', 'k', print).kind, 'replay');
});
