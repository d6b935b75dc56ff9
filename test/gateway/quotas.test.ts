import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PlatformApi } from '../../world/http/api-client';
import { operatorApi, startTestPlatform, type TestPlatform } from './harness';

// The text quota over the API: 429 problem quota-exceeded with RateLimit headers and Retry-After,
// nothing stored for a refused text, and the operator's view of the quota's use.
let platform: TestPlatform;
let operator: PlatformApi;

before(async () => {
  platform = await startTestPlatform({}, { webhooks: false });
  operator = operatorApi(platform);
});

after(async () => {
  await platform.stop();
});

test('texts beyond the quota are refused 429 with when to retry, and none of them is stored', async () => {
  const created = await operator.createCustomer({
    name: `Quota ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const number = `+1555${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
  await api.addNumber({ number, kind: 'local' });
  const set = await operator.setQuotas(created.id, { textsPerWindow: 2, callAttemptsPerWindow: null });
  assert.deepEqual([set.source, set.texts.limit, set.callAttempts.limit], ['own', 2, null]);
  // The window may turn over between texts: then more are accepted, never fewer; retry once.
  const send = (text: string) =>
    api.raw({ method: 'POST', path: '/v1/messages', json: { from: number, to: '+447700900123', text } });
  let answers: Array<Awaited<ReturnType<typeof send>>> = [];
  for (let round = 0; round < 2; round++) {
    answers = [await send('one'), await send('two'), await send('three')];
    if (answers[2].status === 429) break;
  }
  assert.deepEqual(
    answers.map((a) => a.status),
    [202, 202, 429],
  );
  const refused = answers[2];
  const problem = refused.body as { type: string; quota: string; limit: number };
  assert.match(problem.type, /quota-exceeded$/);
  assert.deepEqual([problem.quota, problem.limit], ['texts', 2]);
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= platform.config.security.limits.textWindowMs / 1_000);
  assert.equal(refused.headers['ratelimit-remaining'], '0');
  assert.equal(refused.headers['ratelimit-reset'], String(retryAfter));
  const stored = platform.db
    .prepare("SELECT COUNT(*) AS n FROM messages WHERE customer_id = ? AND text = 'three'")
    .get(created.id) as { n: number };
  assert.equal(stored.n, 0, 'the refused text was stored');
  const use = await operator.quotas(created.id);
  assert.equal(use.texts.remaining, 0);
  assert.equal(
    (await operator.raw({ method: 'DELETE', path: `/ops/v1/customers/${created.id}/quotas` })).status,
    200,
  );
  assert.equal((await operator.quotas(created.id)).source, 'default');
});

test('only the operator sees and sets quotas; settings publish security.limits', async () => {
  const created = await operator.createCustomer({
    name: `Quota ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const tried = await api.raw({ method: 'GET', path: `/ops/v1/customers/${created.id}/quotas` });
  assert.equal(tried.status, 403);
  const settings = await operator.settings();
  assert.deepEqual(settings.security?.limits, platform.config.security.limits);
});
