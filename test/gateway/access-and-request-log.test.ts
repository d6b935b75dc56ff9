/**
 * The gateway's access rules read from both sides: every operator route of the route table is
 * marked `x-access: operator` in the contract (and no other), refuses every customer key with
 * 403, and every request can be found in the gateway's request log by the id its caller gave it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { routeTable } from '../../platform/gateway/routes';
import type { CoreServices } from '../../platform/core/services';
import { fillTemplate, platformContract } from '../../world/http/contract';
import { randomBytes, randomUUID } from 'node:crypto';
import { PlatformApi as Api, type CreatedCustomer } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

let platform: TestPlatform;
let operator: Api;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

/** A fresh customer, its key and its client. */
async function newCustomer(): Promise<{ created: CreatedCustomer; api: Api }> {
  const created = await operator.createCustomer({
    name: `Probe ${randomBytes(3).toString('hex')}`,
    tier: 'api-only',
  });
  return { created, api: new Api({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name }) };
}

/** The gateway's operator routes, as `METHOD /template`; handlers are never called here. */
function operatorRoutesOfTheGateway(): string[] {
  return routeTable({
    services: {} as CoreServices, // only the table's shape is read
    version: 'test',
    settings: () => ({}),
    contractYaml: '',
    findRequest: () => undefined,
    rateLimits: { get: () => undefined, set: () => undefined, reset: () => undefined },
    audit: {
      list: () => undefined,
      verify: () => undefined,
      drills: false,
      tamper: () => undefined,
      restore: () => false,
    },
    webhookSecretOverlapMs: 0,
  })
    .filter((route) => route.access === 'operator')
    .map((route) => `${route.method} ${route.path}`)
    .sort();
}

test('the contract marks exactly the gateway’s operator routes with x-access: operator', () => {
  const marked = platformContract()
    .operationsWithAccess('operator')
    .map((op) => `${op.method} ${op.template}`)
    .sort();
  assert.ok(marked.length >= 9, `operator operations in the contract: ${marked.join(', ')}`);
  assert.deepEqual(marked, operatorRoutesOfTheGateway());
});

test('every operator route refuses a customer’s key with 403 before any service runs', async () => {
  const { api, created } = await newCustomer();
  const before = await operator.listConnectors();
  for (const op of platformContract().operationsWithAccess('operator')) {
    const path = fillTemplate(op.template, (name) => (name === 'id' ? created.id : '+999'));
    const response = await api.raw({ method: op.method as 'GET', path, json: op.jsonBody ? {} : undefined });
    assert.equal(response.status, 403, `${op.method} ${path} with a customer's key`);
    assert.match(String((response.body as { detail?: string }).detail), /for the platform operator/);
  }
  assert.deepEqual(await operator.listConnectors(), before);
});

test('the request log has each request under the id its caller sent, with caller, status and duration', async () => {
  const { api, created } = await newCustomer();
  const sent = `trace-${randomUUID()}`;
  const trunks = await api.raw({ method: 'GET', path: '/v1/trunks', headers: { 'X-Request-Id': sent } });
  assert.equal(trunks.headers['x-request-id'], sent);
  const logged = await operator.raw({ method: 'GET', path: `/ops/v1/requests/${sent}` });
  assert.equal(logged.status, 200);
  const record = logged.body as Record<string, unknown>;
  assert.deepEqual(
    { ...record, durationMs: typeof record.durationMs, receivedAt: typeof record.receivedAt },
    {
      requestId: sent,
      method: 'GET',
      path: '/v1/trunks',
      status: 200,
      role: 'customer',
      customerId: created.id,
      durationMs: 'number',
      receivedAt: 'string',
    },
  );

  // A keyless request: logged as anonymous, its path without the query string.
  const keyless = `trace-${randomUUID()}`;
  await api.raw({
    method: 'GET',
    path: '/v1/trunks?limit=1',
    apiKey: null,
    headers: { 'X-Request-Id': keyless },
  });
  const refused = (await operator.raw({ method: 'GET', path: `/ops/v1/requests/${keyless}` })).body;
  assert.deepEqual(
    { ...(refused as object), durationMs: 0, receivedAt: '' },
    {
      requestId: keyless,
      method: 'GET',
      path: '/v1/trunks',
      status: 401,
      role: 'anonymous',
      customerId: null,
      durationMs: 0,
      receivedAt: '',
    },
  );
  const unknown = await operator.raw({ method: 'GET', path: `/ops/v1/requests/never-${randomUUID()}` });
  assert.equal(unknown.status, 404);
});
