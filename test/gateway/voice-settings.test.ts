import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApiError, PlatformApi } from '../../world/http/api-client';
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

const did = (): string => `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

async function customerWithAccount() {
  const created = await operator.createCustomer({
    name: `Voice ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const number = did();
  await api.addNumber({ number, kind: 'local' });
  const username = `agent-${randomBytes(4).toString('hex')}`;
  await api.createSipAccount({ username, password: 'correct horse', number });
  const trunk = await api.createTrunk({ name: 'carrier', host: '127.0.0.1', port: 5090, transport: 'udp' });
  return { api, number, username, trunk };
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

describe('SIP account settings', () => {
  test('set, read back, cleared with null; missed-call texts need a mobile; caller ID must be owned', async () => {
    const { api, username } = await customerWithAccount();
    const mobile = '+447700900123';
    const set = await api.updateSipAccount(username, {
      mobile,
      missedCallSms: true,
      voicemail: true,
      forwardTo: '+15551230000',
    });
    assert.deepEqual(
      {
        mobile: set.mobile,
        missedCallSms: set.missedCallSms,
        voicemail: set.voicemail,
        forwardTo: set.forwardTo,
      },
      { mobile, missedCallSms: true, voicemail: true, forwardTo: '+15551230000' },
    );
    assert.deepEqual(await api.getSipAccount(username), set);
    const cleared = await api.updateSipAccount(username, { forwardTo: null });
    assert.equal(cleared.forwardTo, null);
    assert.equal(cleared.mobile, mobile, 'settings not sent stay as they were');
    assert.deepEqual((await refusal(api.updateSipAccount(username, { mobile: null }))).fields(), [
      'missedCallSms',
    ]);
    assert.deepEqual((await refusal(api.updateSipAccount(username, { callerId: did() }))).fields(), [
      'callerId',
    ]);
    assert.equal((await refusal(api.getSipAccount('nobody-here'))).status, 404);
  });
});

describe('routing rules', () => {
  test('one rule per prefix; a trunk of someone else or a bad prefix is a 422; replace keeps the id', async () => {
    const { api, trunk } = await customerWithAccount();
    const other = await customerWithAccount();
    const rule = await api.createRoutingRule({ prefix: '+44', trunkId: trunk.id });
    assert.equal((await refusal(api.createRoutingRule({ prefix: '+44', trunkId: trunk.id }))).status, 409);
    assert.deepEqual((await refusal(api.createRoutingRule({ prefix: 'UK', trunkId: trunk.id }))).fields(), [
      'prefix',
    ]);
    assert.deepEqual(
      (await refusal(api.replaceRoutingRule(rule.id, { prefix: '+44', trunkId: other.trunk.id }))).fields(),
      ['trunkId'],
    );
    const replaced = await api.replaceRoutingRule(rule.id, { prefix: '+4420', trunkId: trunk.id });
    assert.equal(replaced.id, rule.id);
    assert.deepEqual(
      (await api.listRoutingRules()).items.map((r) => r.prefix),
      ['+4420'],
    );
    assert.deepEqual((await other.api.listRoutingRules()).items, [], 'rules are private to their customer');
  });
});

describe('numbers dedicated to voice services', () => {
  test('verification and callback lines; a callback needs one of the customer’s agents', async () => {
    const { api, number, username } = await customerWithAccount();
    assert.equal(
      (await api.updateNumber(number, { voiceService: 'verification' })).voiceService,
      'verification',
    );
    assert.deepEqual((await refusal(api.updateNumber(number, { voiceService: 'callback' }))).fields(), [
      'agent',
    ]);
    assert.deepEqual(
      (await refusal(api.updateNumber(number, { voiceService: 'callback', agent: 'not-mine' }))).fields(),
      ['agent'],
    );
    const callback = await api.updateNumber(number, { voiceService: 'callback', agent: username });
    assert.deepEqual([callback.voiceService, callback.callbackAgent], ['callback', username]);
    const back = await api.updateNumber(number, { voiceService: null });
    assert.deepEqual([back.voiceService, back.callbackAgent], [null, null]);
    assert.equal((await refusal(api.updateNumber(did(), { voiceService: null }))).status, 404);
  });

  test('voicemails and verifications are listed per customer only', async () => {
    const { api } = await customerWithAccount();
    assert.deepEqual((await api.listVoicemails()).items, []);
    assert.deepEqual((await api.listVerifications()).items, []);
    assert.equal((await refusal(api.getVoicemail('vm_unknown'))).status, 404);
    assert.equal((await refusal(api.getVerification('ver_unknown'))).status, 404);
  });
});

describe('live calls without a SIP edge', () => {
  test('no call is live: control of an unknown id is 404, a transfer body is still validated', async () => {
    const { api } = await customerWithAccount();
    assert.deepEqual((await api.listLiveCalls()).items, []);
    assert.equal((await refusal(api.holdLiveCall('call_unknown'))).status, 404);
    assert.equal((await refusal(api.hangupLiveCall('call_unknown'))).status, 404);
    const badTarget = await api.raw({
      method: 'POST',
      path: '/v1/calls/call_unknown/transfer',
      json: { to: 'not a number!' },
    });
    assert.equal(badTarget.status, 422);
  });
});
