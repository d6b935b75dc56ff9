import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  startWebhookDispatcher,
  type DeliveryOutcome,
  type WebhookDispatcher,
} from '../../platform/core/webhooks';
import { nowIso } from '../../platform/store/store';
import { PlatformApi } from '../../world/http/api-client';
import { WebhookReceiver, type WebhookEndpoint } from '../../world/http/webhook-receiver';
import { startTestPlatform, type TestPlatform } from '../gateway/harness';

const RETRY_BASE_MS = 40;
let platform: TestPlatform;
let receiver: WebhookReceiver;
let operator: PlatformApi;
const dispatchers: WebhookDispatcher[] = [];

before(async () => {
  // The gateway runs without its own dispatcher: each test starts (and restarts) one explicitly.
  platform = await startTestPlatform(
    { webhooks: { retryBaseMs: RETRY_BASE_MS, maxAttempts: 3, timeoutMs: 150 } },
    { webhooks: false },
  );
  operator = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: platform.adminApiKey, actor: 'operator' });
  receiver = new WebhookReceiver();
  await receiver.start();
});

afterEach(async () => {
  for (const dispatcher of dispatchers.splice(0)) await dispatcher.stop();
});

after(async () => {
  await receiver.stop();
  await platform.stop();
});

function startDispatcher(): WebhookDispatcher {
  const dispatcher = startWebhookDispatcher(platform.deps);
  dispatchers.push(dispatcher);
  return dispatcher;
}

/** A customer with a number, a webhook at a fresh receiver endpoint, and a queued message. */
async function customerWithWebhook(
  events: string[],
): Promise<{ api: PlatformApi; endpoint: WebhookEndpoint; webhookId: string; messageId: string }> {
  const created = await operator.createCustomer({
    name: `Hooks ${randomBytes(3).toString('hex')}`,
    tier: 'api-only',
  });
  const api = new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
  const endpoint = receiver.endpoint(created.id);
  const webhook = await api.createWebhook({ url: endpoint.url, events });
  endpoint.setSecret(webhook.secret);
  const message = await api.sendMessage({ from: 'ACME', to: '+447700900123', text: 'webhook test' });
  return { api, endpoint, webhookId: webhook.id, messageId: message.id };
}

type TimedOutcome = DeliveryOutcome & { at: number };

function outcomeOf(
  dispatcher: WebhookDispatcher,
  predicate: (o: DeliveryOutcome) => boolean,
): Promise<TimedOutcome[]> {
  const seen: TimedOutcome[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`no final delivery outcome within 3 s; outcomes so far: ${JSON.stringify(seen)}`)),
      3_000,
    );
    const unsubscribe = dispatcher.onOutcome((outcome) => {
      seen.push({ ...outcome, at: performance.now() });
      if (!predicate(outcome)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(seen);
    });
  });
}

function deliveryRow(webhookId: string): { status: string; attempts: number; last_error: string | null } {
  return platform.db
    .prepare('SELECT status, attempts, last_error FROM webhook_deliveries WHERE webhook_id = ?')
    .get(webhookId) as {
    status: string;
    attempts: number;
    last_error: string | null;
  };
}

test('a failing endpoint is retried with exponential backoff and the event reaches the application exactly once', async () => {
  const dispatcher = startDispatcher();
  const { endpoint, webhookId, messageId } = await customerWithWebhook(['message.*']);
  endpoint.failNext(2, 503);
  const final = outcomeOf(dispatcher, (o) => o.result !== 'retrying');

  platform.smsc.setStatus(messageId, 'delivered');
  const outcomes = await final;

  assert.deepEqual(
    outcomes.map((o) => [o.attempt, o.result, o.detail]),
    [
      [1, 'retrying', 'HTTP 503'],
      [2, 'retrying', 'HTTP 503'],
      [3, 'delivered', 'HTTP 200'],
    ],
  );
  assert.deepEqual(
    outcomes.map((o) => o.nextAttemptInMs),
    [RETRY_BASE_MS, RETRY_BASE_MS * 2, undefined],
  );
  const received = receiver.events.filter((e) => e.path === endpoint.path);
  assert.equal(received.length, 1);
  // The waits really happened, timed where the subscriber sees them: a retry is scheduled only
  // after the failed attempt arrived, so each gap between arrivals is at least the announced
  // backoff. (Timing the outcome events instead let a busy machine, which delays one emit
  // but not the schedule, make a correct retry look early.)
  const [first, second, third] = received[0].attemptsAt;
  assert.ok(
    second - first >= RETRY_BASE_MS,
    `first retry arrived ${second - first} ms after the first attempt`,
  );
  assert.ok(
    third - second >= RETRY_BASE_MS * 2,
    `second retry arrived ${third - second} ms after the first retry`,
  );
  assert.deepEqual(
    [received[0].type, received[0].attempts, (received[0].data as { id: string; status: string }).status],
    ['message.delivered', 3, 'delivered'],
  );
  assert.equal((received[0].data as { id: string }).id, messageId);
  assert.deepEqual(deliveryRow(webhookId), { status: 'delivered', attempts: 3, last_error: null });
  assert.deepEqual(
    receiver.rejected.filter((r) => r.path === endpoint.path),
    [],
  );
});

test('an endpoint that never answers in time is given up on after maxAttempts', async () => {
  const dispatcher = startDispatcher();
  const { endpoint, webhookId, messageId } = await customerWithWebhook(['message.sent']);
  endpoint.failNext(1, 'timeout');
  endpoint.failNext(2, 500);
  const final = outcomeOf(dispatcher, (o) => o.result !== 'retrying');

  platform.smsc.setStatus(messageId, 'sent');
  const outcomes = await final;

  assert.deepEqual(
    outcomes.map((o) => o.detail),
    ['no response within 150 ms', 'HTTP 500', 'HTTP 500'],
  );
  assert.equal(outcomes[2].result, 'failed');
  assert.deepEqual(deliveryRow(webhookId), { status: 'failed', attempts: 3, last_error: 'HTTP 500' });
  assert.deepEqual(
    receiver.events.filter((e) => e.path === endpoint.path),
    [],
  );
});

test('only matching subscriptions get an event', async () => {
  const dispatcher = startDispatcher();
  const { endpoint, messageId } = await customerWithWebhook(['call.completed']);
  const probe = await customerWithWebhook(['message.delivered']);
  const delivered = outcomeOf(dispatcher, (o) => o.result === 'delivered');

  platform.smsc.setStatus(messageId, 'delivered');
  platform.smsc.setStatus(probe.messageId, 'delivered');
  const outcomes = await delivered;

  // The probe's delivery proves the first event was processed too: both were published synchronously before it.
  assert.deepEqual(
    outcomes.map((o) => o.webhookId),
    [probe.webhookId],
  );
  assert.deepEqual(
    receiver.events.filter((e) => e.path === endpoint.path),
    [],
  );
});

test('pending deliveries resume after a restart', async () => {
  const { endpoint, webhookId, messageId } = await customerWithWebhook(['message.*']);
  // Written by a previous run that stopped before delivering: an outbox row and nothing else.
  const eventId = `evt_${randomBytes(8).toString('hex')}`;
  const payload = JSON.stringify({
    id: eventId,
    type: 'message.delivered',
    createdAt: nowIso(),
    data: { id: messageId },
  });
  platform.db
    .prepare(
      `INSERT INTO webhook_deliveries (event_id, webhook_id, type, ordering_key, payload, status, attempts, next_attempt_at) VALUES (?, ?, 'message.delivered', 'msg_restart', ?, 'pending', 1, ?)`,
    )
    .run(eventId, webhookId, payload, nowIso());

  const dispatcher = startDispatcher();
  const outcomes = await outcomeOf(dispatcher, (o) => o.eventId === eventId && o.result !== 'retrying');

  assert.equal(outcomes.at(-1)?.result, 'delivered');
  const received = await receiver.events.waitFor((e) => e.eventId === eventId, {
    awaited: `resumed event ${eventId}`,
    timeoutMs: 1_000,
  });
  assert.equal(received.path, endpoint.path);
  assert.deepEqual(deliveryRow(webhookId), { status: 'delivered', attempts: 2, last_error: null });
});

test('a stored url outside network.allowedPeerHosts is failed with a clear last_error and no request', async () => {
  // The same dispatcher, but with loopback names no longer allowed: `localhost` now counts as elsewhere.
  const narrowed = startWebhookDispatcherWith({ allowedPeerHosts: [] });
  const { endpoint, webhookId, messageId } = await customerWithWebhook(['message.*']);
  const outside = endpoint.url.replace('//127.0.0.1:', '//localhost:');
  assert.notEqual(outside, endpoint.url);
  // As if the row predates the allowlist: the API would refuse this url today.
  platform.db.prepare('UPDATE webhooks SET url = ? WHERE id = ?').run(outside, webhookId);
  const final = outcomeOf(narrowed, (o) => o.webhookId === webhookId && o.result !== 'retrying');

  platform.smsc.setStatus(messageId, 'delivered');
  const outcomes = await final;

  assert.deepEqual(
    outcomes.map((o) => [o.result, o.attempt]),
    [['failed', 0]],
  );
  const row = deliveryRow(webhookId);
  assert.deepEqual([row.status, row.attempts], ['failed', 0]);
  assert.match(
    row.last_error ?? '',
    /^refused, no request sent: .*host localhost .*network\.allowedPeerHosts/,
  );
  assert.deepEqual(
    [...receiver.events.all(), ...receiver.rejected.all()].filter((e) => e.path === endpoint.path),
    [],
  );
});

function startWebhookDispatcherWith(network: { allowedPeerHosts: string[] }): WebhookDispatcher {
  const dispatcher = startWebhookDispatcher({
    ...platform.deps,
    config: { ...platform.deps.config, network },
  });
  dispatchers.push(dispatcher);
  return dispatcher;
}

test('one message’s events reach a subscriber in order: a later event waits while an earlier one is retried', async () => {
  const dispatcher = startDispatcher();
  const { endpoint, messageId } = await customerWithWebhook(['message.*']);
  endpoint.failNext(2, 503);
  const final = outcomeOf(dispatcher, (o) => o.type === 'message.delivered' && o.result === 'delivered');

  platform.smsc.setStatus(messageId, 'sent');
  platform.smsc.setStatus(messageId, 'delivered');
  const outcomes = await final;

  // "delivered" is not tried before "sent" got through, so it never meets the failures.
  assert.deepEqual(
    outcomes.map((o) => [o.type, o.attempt, o.result]),
    [
      ['message.sent', 1, 'retrying'],
      ['message.sent', 2, 'retrying'],
      ['message.sent', 3, 'delivered'],
      ['message.delivered', 1, 'delivered'],
    ],
  );
  assert.deepEqual(
    receiver.events.filter((e) => e.path === endpoint.path).map((e) => e.type),
    ['message.sent', 'message.delivered'],
  );
});

test('a rotated signing secret: both secrets verify during the overlap, only the new one after it', async () => {
  const dispatcher = startDispatcher();
  const { api, endpoint, webhookId, messageId } = await customerWithWebhook(['message.*']);
  const oldSecret = (
    platform.db.prepare('SELECT secret FROM webhooks WHERE id = ?').get(webhookId) as { secret: string }
  ).secret;
  const rotated = await api.rotateWebhookSecret(webhookId);
  assert.notEqual(rotated.secret, oldSecret);
  assert.ok(Date.parse(rotated.previousSecretValidUntil) > Date.now(), rotated.previousSecretValidUntil);

  // The receiver still holds the old secret: accepted at the first attempt.
  let final = outcomeOf(dispatcher, (o) => o.result !== 'retrying' || o.attempt > 1);
  platform.smsc.setStatus(messageId, 'sent');
  assert.deepEqual(
    (await final).map((o) => [o.attempt, o.result]),
    [[1, 'delivered']],
  );

  // Switched to the new secret during the overlap: accepted too.
  endpoint.setSecret(rotated.secret);
  final = outcomeOf(dispatcher, (o) => o.result !== 'retrying' || o.attempt > 1);
  platform.smsc.setStatus(messageId, 'delivered');
  assert.deepEqual(
    (await final).map((o) => [o.attempt, o.result]),
    [[1, 'delivered']],
  );

  // The overlap over (moved into the past rather than waited for), the old secret no longer verifies.
  platform.db
    .prepare('UPDATE webhooks SET previous_secret_until = ? WHERE id = ?')
    .run(new Date(Date.now() - 1).toISOString(), webhookId);
  endpoint.setSecret(oldSecret);
  const late = await api.sendMessage({ from: 'ACME', to: '+447700900124', text: 'after the overlap' });
  final = outcomeOf(dispatcher, (o) => o.attempt === 1);
  platform.smsc.setStatus(late.id, 'sent');
  const [first] = await final;
  assert.equal(first.result, 'retrying', JSON.stringify(first));
  assert.match(
    receiver.rejected.filter((r) => r.path === endpoint.path).at(-1)?.reason ?? '',
    /signature does not match/,
  );
});
