import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startGateway } from '../../platform/gateway';
import type { RunningRole } from '../../platform/role';
import { PlatformApi } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

// Two nodes of one role: a second gateway started over the same store and services, on its own
// port, serves the same customers and stops without taking the first one down.
let platform: TestPlatform;
let second: RunningRole<{ apiUrl: string }>;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  second = await startGateway(platform.deps, platform.core);
});

after(async () => {
  await second.stop();
  await platform.stop();
});

test('a second gateway node listens on its own port and serves the same customers', async () => {
  assert.notEqual(second.endpoints.apiUrl, platform.apiUrl, 'both gateway nodes got the same address');
  const created = await operatorApi(platform).createCustomer({
    name: `Two nodes ${randomBytes(3).toString('hex')}`,
    tier: 'api-only',
  });
  const throughSecond = new PlatformApi({
    baseUrl: second.endpoints.apiUrl,
    apiKey: created.apiKey,
    actor: created.name,
  });
  const seen = await throughSecond.getCustomer(created.id);
  assert.equal(seen.id, created.id, 'the second node did not find the customer the first one created');
});

test('stopping one gateway node leaves the other serving', async () => {
  const extra = await startGateway(platform.deps, platform.core);
  await extra.stop();
  const health = await operatorApi(platform).health();
  assert.equal(
    health.status,
    'ok',
    `the first node answered ${JSON.stringify(health)} after the other stopped`,
  );
});
