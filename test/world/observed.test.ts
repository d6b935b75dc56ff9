import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Observed, WaitTimeoutError } from '../../world/observed';
import { TrafficLog } from '../../world/traffic-log';

test('waitFor resolves with an item that already arrived', async () => {
  const seen = new Observed<number>();
  seen.add(1);
  seen.add(2);
  assert.equal(await seen.waitFor((n) => n > 1, { awaited: 'a number above 1', timeoutMs: 50 }), 2);
});

test('waitFor resolves the moment a matching item arrives', async () => {
  const seen = new Observed<string>();
  const waiting = seen.waitFor((s) => s === 'b', { awaited: '"b"', timeoutMs: 1_000 });
  seen.add('a');
  seen.add('b');
  assert.equal(await waiting, 'b');
});

test('a timeout names what was awaited, what arrived instead and where to look', async () => {
  const seen = new Observed<{ type: string }>((e) => e.type);
  seen.add({ type: 'message.sent' });
  await assert.rejects(
    seen.waitFor((e) => e.type === 'message.delivered', {
      awaited: 'a delivery report',
      timeoutMs: 20,
      lookAt: 'the webhook attachment',
    }),
    (error: unknown) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.match(error.message, /waiting for a delivery report/);
      assert.match(error.message, /message\.sent/);
      assert.match(error.message, /Look at: the webhook attachment/);
      return true;
    },
  );
});

test('a timeout with nothing received says so', async () => {
  const seen = new Observed<number>();
  await assert.rejects(
    seen.waitFor(() => true, { awaited: 'anything', timeoutMs: 10 }),
    /Nothing arrived instead/,
  );
});

test('the traffic log slices a scenario from its mark', () => {
  const log = new TrafficLog();
  log.record({ protocol: 'SIP', from: 'a', to: 'b', summary: 'before' });
  const mark = log.mark();
  log.record({ protocol: 'SIP', from: 'a', to: 'b', summary: 'INVITE' });
  log.record({ protocol: 'HTTP', from: 'a', to: 'b', summary: 'GET /' });
  assert.deepEqual(
    log.since(mark).map((e) => e.summary),
    ['INVITE', 'GET /'],
  );
  assert.deepEqual(
    log.since(mark, 'HTTP').map((e) => e.summary),
    ['GET /'],
  );
});

test('relevant: a timeout lists only the items that belong to the wait, and counts the others', async () => {
  const seen = new Observed<{ path: string; type: string }>((e) => `${e.type} at ${e.path}`);
  seen.add({ path: '/other-scenario', type: 'message.delivered' });
  seen.add({ path: '/mine', type: 'message.sent' });
  await assert.rejects(
    seen.waitFor((e) => e.path === '/mine' && e.type === 'message.delivered', {
      awaited: 'a delivery report at /mine',
      timeoutMs: 20,
      relevant: (e) => e.path === '/mine',
    }),
    (error: unknown) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.match(error.message, /message\.sent at \/mine/);
      assert.doesNotMatch(error.message, /other-scenario/);
      assert.match(error.message, /last 1 of 1 \(1 unrelated item\(s\) not listed\)/);
      return true;
    },
  );
  await assert.rejects(
    seen.waitFor(() => false, { awaited: 'x', timeoutMs: 10, relevant: (e) => e.path === '/none' }),
    /Nothing arrived instead \(2 unrelated item\(s\) not listed\)\./,
  );
});

test('forget drops matching items in place and leaves waits for later items working', async () => {
  const seen = new Observed<number>();
  [1, 2, 3, 4].forEach((n) => seen.add(n));
  const live = seen.all();
  assert.equal(
    seen.forget((n) => n % 2 === 0),
    2,
  );
  assert.deepEqual(seen.all(), [1, 3]);
  assert.deepEqual(live, [1, 3], 'the array handed out earlier reflects the removal');
  assert.equal(
    seen.forget(() => false),
    0,
  );
  const waiting = seen.waitFor((n) => n === 2, { awaited: 'a 2 again', timeoutMs: 1_000 });
  seen.add(2);
  assert.equal(await waiting, 2);
});
