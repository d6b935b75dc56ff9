import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApiError, PlatformApi, type CreatedCustomer } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';
import { signatureHeader } from '../../platform/core/webhook-events';

let platform: TestPlatform;
let operator: PlatformApi;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

async function newCustomer(): Promise<{ created: CreatedCustomer; api: PlatformApi }> {
  const created = await operator.createCustomer({
    name: `Id ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  return { created, api: withKey(created.apiKey, created.name) };
}

function withKey(apiKey: string, actor: string): PlatformApi {
  return new PlatformApi({ baseUrl: platform.apiUrl, apiKey, actor });
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  assert.fail('expected the API to refuse the request');
}

describe('suspension', () => {
  test('a suspended customer gets 403 on reads and writes; resumed, it is served again; status shows it', async () => {
    const { created, api } = await newCustomer();
    assert.equal(created.status, 'active');
    assert.equal((await operator.suspendCustomer(created.id)).status, 'suspended');
    for (const attempt of [
      () => api.listNumbers(),
      () => api.sendMessage({ from: 'ACME', to: '+447700900200', text: 'x' }),
    ]) {
      const error = await refusal(attempt());
      assert.equal(error.status, 403);
      assert.match(error.problem?.detail ?? '', /suspended/);
    }
    assert.equal((await operator.getCustomer(created.id)).status, 'suspended');
    assert.equal((await refusal(operator.suspendCustomer(created.id))).status, 409);
    assert.equal((await operator.resumeCustomer(created.id)).status, 'active');
    assert.deepEqual(await api.listNumbers(), { items: [] });
    assert.equal((await refusal(operator.resumeCustomer(created.id))).status, 409);
  });

  test('suspending is operator-only; another customer cannot, nor can a customer resume itself', async () => {
    const { created, api } = await newCustomer();
    const other = await newCustomer();
    assert.equal((await refusal(other.api.suspendCustomer(created.id))).status, 403);
    await operator.suspendCustomer(created.id);
    assert.equal((await refusal(api.resumeCustomer(created.id))).status, 403);
    await operator.resumeCustomer(created.id);
    assert.equal((await refusal(operator.suspendCustomer('cus_missing'))).status, 404);
  });
});

describe('API keys', () => {
  test('rotation: the new key works at once, the old one is refused, other keys are untouched', async () => {
    const { created, api } = await newCustomer();
    const readOnly = await api.issueApiKey('read-only');
    const rotated = await api.rotateApiKey();
    assert.equal(rotated.access, 'full');
    assert.notEqual(rotated.apiKey, created.apiKey);
    const old = await refusal(api.listNumbers());
    assert.equal(old.status, 401);
    assert.deepEqual(await withKey(rotated.apiKey, 'rotated').listNumbers(), { items: [] });
    assert.deepEqual(await withKey(readOnly.apiKey, 'reader').listNumbers(), { items: [] });
  });

  test('a read-only key reads but cannot send, change or rotate itself', async () => {
    const { api } = await newCustomer();
    const issued = await api.issueApiKey('read-only');
    assert.equal(issued.access, 'read-only');
    const reader = withKey(issued.apiKey, 'reader');
    assert.deepEqual(await reader.listNumbers(), { items: [] });
    for (const attempt of [
      () => reader.sendMessage({ from: 'ACME', to: '+447700900201', text: 'x' }),
      () => reader.issueApiKey('full'),
      () => reader.rotateApiKey(),
    ]) {
      const error = await refusal(attempt());
      assert.equal(error.status, 403);
      assert.match(error.problem?.detail ?? '', /read-only/);
    }
  });

  test('an unknown access level is a 422 naming the field', async () => {
    const { api } = await newCustomer();
    const error = await refusal(api.issueApiKey('admin' as 'full'));
    assert.equal(error.status, 422);
    assert.match(JSON.stringify(error.problem), /access/);
  });
});

test('signatureHeader: a second v1 with the previous secret only while it is given', () => {
  const one = signatureHeader('new', '{}', 1000);
  assert.match(one, /^t=1000,v1=[0-9a-f]{64}$/);
  const two = signatureHeader('new', '{}', 1000, 'old');
  assert.ok(two.startsWith(`${one},v1=`), two);
  assert.notEqual(two.split(',')[1], two.split(',')[2]);
});
