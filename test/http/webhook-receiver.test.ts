import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { WebhookReceiver } from '../../world/http/webhook-receiver';
import { traffic } from '../../world/traffic-log';

const SECRET = 'whsec_test_secret_0123456789';
let receiver: WebhookReceiver;

before(async () => {
  receiver = new WebhookReceiver();
  await receiver.start();
});

after(async () => {
  await receiver.stop();
});

/** What the platform does (an independent implementation of the signing rule in the contract). */
function sign(secret: string, body: string, timestamp = Date.now()): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function event(id: string, type = 'message.delivered'): string {
  return JSON.stringify({
    id,
    type,
    createdAt: new Date().toISOString(),
    data: { id: 'msg_1', status: 'delivered' },
  });
}

function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function deliver(url: string, body: string, id: string, signature: string | undefined): Promise<number> {
  const headers: Record<string, string> = { 'phase2-event-id': id, 'phase2-event-type': 'message.delivered' };
  if (signature !== undefined) headers['phase2-signature'] = signature;
  return post(url, body, headers);
}

test('a correctly signed event reaches the application once, however often it is delivered', async () => {
  const endpoint = receiver.endpoint('acme');
  endpoint.setSecret(SECRET);
  const body = event('evt_1');
  assert.equal(await deliver(endpoint.url, body, 'evt_1', sign(SECRET, body)), 200);
  assert.equal(await deliver(endpoint.url, body, 'evt_1', sign(SECRET, body)), 200);
  const received = receiver.events.filter((e) => e.path === endpoint.path);
  assert.equal(received.length, 1);
  assert.deepEqual(
    [received[0].eventId, received[0].type, received[0].attempts, received[0].duplicates],
    ['evt_1', 'message.delivered', 2, 1],
  );
  // The re-delivery is observable as it arrives, so a step can prove none came over a window.
  const again = receiver.redeliveries.filter((r) => r.path === endpoint.path);
  assert.deepEqual(
    again.map((r) => [r.eventId, r.type, r.attempt]),
    [['evt_1', 'message.delivered', 2]],
  );
});

test('bad, missing or stale signatures are refused with 401 and listed as rejected', async () => {
  const endpoint = receiver.endpoint('acme');
  endpoint.setSecret(SECRET);
  const body = event('evt_2');
  const mark = traffic.mark();
  assert.equal(await deliver(endpoint.url, body, 'evt_2', sign('whsec_wrong', body)), 401);
  assert.equal(await deliver(endpoint.url, body, 'evt_2', undefined), 401);
  assert.equal(await deliver(endpoint.url, body, 'evt_2', sign(SECRET, body, Date.now() - 6 * 60_000)), 401);
  assert.equal(
    await deliver(endpoint.url, `${body} `, 'evt_2', sign(SECRET, body)),
    401,
    'a body changed after signing',
  );
  assert.deepEqual(
    receiver.events.filter((e) => e.path === endpoint.path),
    [],
  );
  const reasons = receiver.rejected.filter((r) => r.path === endpoint.path).map((r) => r.reason);
  assert.equal(reasons.length, 4);
  assert.match(reasons[0], /does not match/);
  assert.match(reasons[1], /missing Phase2-Signature/);
  assert.match(reasons[2], /tolerance/);
  const evidence = traffic.since(mark, 'WEBHOOK');
  assert.equal(evidence.length, 4);
  assert.ok(
    evidence.every((e) => !e.detail?.includes('v1=')),
    'no signature value in the evidence',
  );
  assert.equal(
    evidence.filter((e) => /^phase2-signature: \*\*\*$/m.test(e.detail ?? '')).length,
    3,
    'signed requests show a redacted signature',
  );
});

test('failNext answers with the chosen status, then the retry is accepted', async () => {
  const endpoint = receiver.endpoint('flaky');
  endpoint.setSecret(SECRET);
  endpoint.failNext(1, 500);
  const body = event('evt_3');
  assert.equal(await deliver(endpoint.url, body, 'evt_3', sign(SECRET, body)), 500);
  assert.deepEqual(
    receiver.events.filter((e) => e.path === endpoint.path),
    [],
  );
  assert.equal(await deliver(endpoint.url, body, 'evt_3', sign(SECRET, body)), 200);
  const received = await receiver.events.waitFor((e) => e.path === endpoint.path, {
    awaited: 'evt_3',
    timeoutMs: 500,
  });
  assert.equal(received.attempts, 2);
});

test('unknown paths and mismatched headers are refused', async () => {
  const endpoint = receiver.endpoint('acme');
  endpoint.setSecret(SECRET);
  const body = event('evt_4');
  assert.equal(
    await deliver(endpoint.url.replace(/[0-9a-f]+$/, 'nope'), body, 'evt_4', sign(SECRET, body)),
    404,
  );
  assert.equal(await deliver(endpoint.url, body, 'evt_other', sign(SECRET, body)), 400);
});

test('waitForEvent lists only its own endpoint as "arrived instead"; removeEndpoint forgets everything', async () => {
  const mine = receiver.endpoint('mine');
  const other = receiver.endpoint('other scenario');
  mine.setSecret(SECRET);
  other.setSecret(SECRET);
  const otherBody = event('evt_other_scenario');
  assert.equal(await deliver(other.url, otherBody, 'evt_other_scenario', sign(SECRET, otherBody)), 200);
  const mineBody = event('evt_mine');
  assert.equal(await deliver(mine.url, mineBody, 'evt_mine', sign(SECRET, mineBody)), 200);
  await assert.rejects(
    receiver.waitForEvent(mine.path, (e) => e.eventId === 'evt_other_scenario', {
      awaited: 'an event that went to another endpoint',
      timeoutMs: 30,
    }),
    (error: unknown) => {
      assert.match((error as Error).message, /evt_mine/);
      assert.doesNotMatch((error as Error).message, /evt_other_scenario/);
      return true;
    },
  );

  assert.equal(receiver.removeEndpoint(other.path), true);
  assert.equal(receiver.removeEndpoint(other.path), false, 'already gone');
  assert.deepEqual(
    receiver.events.filter((e) => e.path === other.path),
    [],
  );
  assert.equal(receiver.events.filter((e) => e.path === mine.path).length, 1, 'other endpoints untouched');
  // Retired: a late delivery is refused, and a new event id is not remembered as a duplicate.
  assert.equal(await deliver(other.url, otherBody, 'evt_other_scenario', sign(SECRET, otherBody)), 404);
  assert.deepEqual(
    receiver.events.filter((e) => e.path === other.path),
    [],
  );
});
