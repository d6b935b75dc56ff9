/**
 * The audit trail through the gateway (TEST-INT-054): changes recorded once with before/after
 * and no secrets, refusals recorded, each customer reading its own trail only, the chain verified
 * and an edit behind the platform's back found.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PlatformApi } from '../../world/http/api-client';
import { newCustomerApi, operatorApi, startTestPlatform, type TestPlatform } from './harness';

let platform: TestPlatform;
let operator: PlatformApi;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

test('a change is recorded once under its request id, with before and after, and without its secrets', async () => {
  const api = await newCustomerApi(platform, 'Audited');
  const number = `+1555${String(Date.now()).slice(-7)}`;
  await api.addNumber({ number, kind: 'local' });
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const created = await api.raw({
    method: 'POST',
    path: '/v1/sip-accounts',
    json: { username: `audit${randomBytes(3).toString('hex')}`, password, number },
  });
  assert.equal(created.status, 201);
  const changed = await api.raw({
    method: 'PATCH',
    path: `/v1/sip-accounts/${(created.body as { username: string }).username}`,
    json: { voicemail: true },
  });
  assert.equal(changed.status, 200);
  const trail = await api.listOwnAuditEvents({ requestIds: [created.requestId, changed.requestId] });
  assert.deepEqual(
    trail.items.map((e) => e.action),
    ['sip-account.updated', 'sip-account.created'],
  );
  assert.ok(!JSON.stringify(trail).includes(password), 'the password never reaches the trail');
  const [update] = trail.items;
  assert.equal((update.detail.before as { voicemail: boolean }).voicemail, false);
  assert.equal((update.detail.after as { voicemail: boolean }).voicemail, true);
  assert.equal(update.sourceAddress, '127.0.0.1');
  assert.equal(update.actor.kind, 'customer');
});

test('a refused change, a read and an unknown key: only the unknown key is recorded, for the operator', async () => {
  const api = await newCustomerApi(platform, 'Refused');
  const refused = await api.raw({ method: 'POST', path: '/v1/sip-accounts', json: {} });
  assert.equal(refused.status, 422);
  const read = await api.raw({ method: 'GET', path: '/v1/numbers' });
  const unknown = await api.raw({ method: 'GET', path: '/v1/trunks', apiKey: 'not-a-key-of-anyone' });
  assert.equal(unknown.status, 401);
  const trail = await operator.listAuditEvents({
    requestIds: [refused.requestId, read.requestId, unknown.requestId],
  });
  assert.deepEqual(
    trail.items.map((e) => [e.action, e.requestId, e.customerId]),
    [['auth.failed', unknown.requestId, null]],
  );
  assert.ok(!JSON.stringify(trail).includes('not-a-key-of-anyone'), 'the offered key is not recorded');
});

test('a customer reads its own trail only; the operator reads everyone’s', async () => {
  const first = await newCustomerApi(platform, 'First');
  const second = await newCustomerApi(platform, 'Second');
  const made = await first.raw({
    method: 'POST',
    path: '/v1/templates',
    json: { name: 'hi', body: 'Hi {{name}}' },
  });
  assert.equal(made.status, 201);
  assert.deepEqual((await second.listOwnAuditEvents({ requestIds: [made.requestId] })).items, []);
  const asked = await second.raw({ method: 'GET', path: '/v1/audit-events?customerId=anyone' });
  assert.equal(asked.status, 422);
  assert.equal((await operator.listAuditEvents({ requestIds: [made.requestId] })).items.length, 1);
});

test('the chain verifies; an entry edited behind the platform’s back is found, and the drill undone', async () => {
  const api = await newCustomerApi(platform, 'Tampered');
  await api.raw({ method: 'POST', path: '/v1/templates', json: { name: 'x', body: 'X' } });
  assert.equal((await operator.verifyAuditTrail()).intact, true);
  const id = (await api.listOwnAuditEvents({ limit: 1 })).items[0].customerId ?? '';
  const tampered = await operator.tamperAuditDrill(id);
  const verdict = await operator.verifyAuditTrail();
  assert.deepEqual([verdict.intact, verdict.firstBrokenSeq], [false, tampered.seq]);
  await operator.restoreAuditDrill(tampered);
  assert.equal((await operator.verifyAuditTrail()).intact, true);
});

test('the drills are not there unless the platform is the reference one', async () => {
  const product = await startTestPlatform({ api: { referenceDrills: false } }, { webhooks: false });
  try {
    const answer = await operatorApi(product).raw({
      method: 'POST',
      path: '/ops/v1/drills/audit-tamper',
      json: { customerId: 'cus_x' },
    });
    assert.equal(answer.status, 404);
  } finally {
    await product.stop();
  }
});

test('suspend and resume: the operator is recorded in the customer’s trail, with its status before and after', async () => {
  const api = await newCustomerApi(platform, 'Suspended');
  const { items: own } = await api.listOwnAuditEvents({ action: 'customer.created', limit: 1 });
  const customerId = own[0]?.customerId ?? '';
  await operator.suspendCustomer(customerId);
  await operator.resumeCustomer(customerId);
  const trail = await operator.listAuditEvents({ customerId, limit: 10 });
  const shown = trail.items
    .filter((e) => e.action === 'customer.suspended' || e.action === 'customer.resumed')
    .map((e) => ({
      action: e.action,
      actor: e.actor.kind,
      target: e.target,
      before: (e.detail.before as { status?: string } | null)?.status,
      after: (e.detail.after as { status?: string } | null)?.status,
    }));
  assert.deepEqual(shown, [
    {
      action: 'customer.resumed',
      actor: 'operator',
      target: `/ops/v1/customers/${customerId}/resume`,
      before: 'suspended',
      after: 'active',
    },
    {
      action: 'customer.suspended',
      actor: 'operator',
      target: `/ops/v1/customers/${customerId}/suspend`,
      before: 'active',
      after: 'suspended',
    },
  ]);
});

test('key and signing-secret rotations are recorded with before and after, and neither key nor secret in clear', async () => {
  const created = await operator.createCustomer({
    name: `Rotating ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const webhook = await api.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['message.*'] });
  const rotated = await api.rotateWebhookSecret(webhook.id);
  const issued = await api.rotateApiKey();
  const fresh = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: issued.apiKey, actor: created.name });
  const { items } = await fresh.listOwnAuditEvents({ limit: 10 });
  const key = items.find((e) => e.action === 'api-key.rotated');
  const secret = items.find((e) => e.action === 'webhook-secret.rotated');
  assert.deepEqual(key?.detail.before, { apiKey: '[redacted]', access: 'full' });
  assert.deepEqual(key?.detail.after, { apiKey: '[redacted]', access: 'full', createdAt: issued.createdAt });
  assert.equal((secret?.detail.before as { id?: string } | null)?.id, webhook.id);
  assert.equal((secret?.detail.after as { secret?: string } | null)?.secret, '[redacted]');
  const text = JSON.stringify(items);
  for (const clear of [created.apiKey, issued.apiKey, webhook.secret, rotated.secret])
    assert.ok(!text.includes(clear), 'no key or signing secret in clear in the trail');
});
