import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PlatformEvents } from '../../platform/bus';
import { ClusterBus } from '../../platform/cluster/cluster-bus';
import { openStore, type Db } from '../../platform/store/store';
import { Observed } from '../../world/observed';

/** Two processes' views of one store: two connections to one SQLite file, as two nodes have. */
function twoConnections(): { a: Db; b: Db; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-bus-'));
  const file = join(dir, 'platform.db');
  const a = openStore(file);
  const b = openStore(file);
  return {
    a,
    b,
    close() {
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const status = (n: number): PlatformEvents['message.status'] => ({
  messageId: `msg_${n}`,
  customerId: 'cus_1',
  status: 'sent',
});

test('an event emitted on one node reaches the listeners of another role, in order, through the store', async () => {
  const store = twoConnections();
  const logs: string[] = [];
  const api = new ClusterBus(store.a, { pollMs: 10, log: (m) => logs.push(m) });
  const smsc = new ClusterBus(store.b, { pollMs: 10, log: (m) => logs.push(m) });
  const seen = new Observed<PlatformEvents['message.queued']>();
  smsc.on('message.queued', (event) => seen.add(event));
  smsc.start('smsc');
  try {
    for (let n = 1; n <= 3; n += 1) api.emit('message.queued', { messageId: `msg_${n}` });
    await seen.waitFor(() => seen.all().length === 3, {
      awaited: 'three message.queued events',
      timeoutMs: 2_000,
    });
    assert.deepEqual(
      seen.all().map((e) => e.messageId),
      ['msg_1', 'msg_2', 'msg_3'],
    );
    assert.deepEqual(logs, []);
  } finally {
    smsc.stop();
    store.close();
  }
});

test("a successor of a role resumes at the role's offset: nothing delivered twice, nothing emitted meanwhile lost", () => {
  const store = twoConnections();
  const first = new ClusterBus(store.a, { pollMs: 1_000, log: () => undefined });
  const got: string[] = [];
  first.on('message.status', (e) => got.push(`first ${e.messageId}`));
  first.start('api');
  first.emit('message.status', status(1));
  first.emit('message.status', status(2));
  assert.equal(first.poll(), 2);
  first.stop();
  // The node dies; events keep coming from other nodes; the standby takes over the role.
  const other = new ClusterBus(store.a, { pollMs: 1_000, log: () => undefined });
  other.emit('message.status', status(3));
  const successor = new ClusterBus(store.b, { pollMs: 1_000, log: () => undefined });
  successor.on('message.status', (e) => got.push(`successor ${e.messageId}`));
  successor.start('api');
  assert.equal(successor.poll(), 1);
  successor.stop();
  assert.deepEqual(got, ['first msg_1', 'first msg_2', 'successor msg_3']);
  store.close();
});

test('each role has its own offset: one role reading an event does not take it from another', () => {
  const store = twoConnections();
  const api = new ClusterBus(store.a, { pollMs: 1_000, log: () => undefined });
  const sip = new ClusterBus(store.b, { pollMs: 1_000, log: () => undefined });
  const got: string[] = [];
  api.on('message.status', (e) => got.push(`api ${e.messageId}`));
  sip.on('message.status', (e) => got.push(`sip ${e.messageId}`));
  api.start('api');
  sip.start('sip');
  api.emit('message.status', status(1));
  api.poll();
  sip.poll();
  api.stop();
  sip.stop();
  assert.deepEqual(got, ['api msg_1', 'sip msg_1']);
  store.close();
});

test('a throwing listener gets the event again on later polls, then the role drops it and moves on', () => {
  const store = twoConnections();
  const logs: string[] = [];
  const bus = new ClusterBus(store.a, { pollMs: 1_000, maxAttempts: 3, log: (m) => logs.push(m) });
  const calls: string[] = [];
  bus.on('message.status', (e) => {
    calls.push(e.messageId);
    if (e.messageId === 'msg_1') throw new Error('store busy');
  });
  bus.start('api');
  bus.emit('message.status', status(1));
  bus.emit('message.status', status(2));
  assert.equal(bus.poll(), 0, 'first failure: nothing advanced');
  assert.equal(bus.poll(), 0, 'second failure: nothing advanced');
  assert.equal(bus.poll(), 2, 'third failure: msg_1 dropped, msg_2 delivered');
  bus.stop();
  assert.deepEqual(calls, ['msg_1', 'msg_1', 'msg_1', 'msg_2']);
  assert.equal(logs.length, 3);
  assert.match(logs[0], /threw \(store busy\); retried on the next poll \(1\/3\)/);
  assert.match(logs[2], /message\.status #1 dropped after 3 failed attempts \(store busy\)/);
  store.close();
});

test('a listener that recovers before the limit gets the event once more and the failure count starts again', () => {
  const store = twoConnections();
  const bus = new ClusterBus(store.a, { pollMs: 1_000, maxAttempts: 2, log: () => undefined });
  let busy = true;
  const delivered: string[] = [];
  bus.on('message.status', (e) => {
    if (busy && e.messageId === 'msg_1') throw new Error('store busy');
    delivered.push(e.messageId);
  });
  bus.start('api');
  bus.emit('message.status', status(1));
  assert.equal(bus.poll(), 0);
  busy = false;
  assert.equal(bus.poll(), 1);
  const offset = store.b.prepare("SELECT last_id, failures FROM bus_offsets WHERE role = 'api'").get();
  assert.deepEqual(offset, { last_id: 1, failures: 0 });
  bus.stop();
  assert.deepEqual(delivered, ['msg_1']);
  store.close();
});

test('events are pruned only once every role has read them and they are older than the retention', () => {
  const store = twoConnections();
  const api = new ClusterBus(store.a, { pollMs: 1_000, retentionMs: 1_000, log: () => undefined });
  const sip = new ClusterBus(store.b, { pollMs: 1_000, retentionMs: 1_000, log: () => undefined });
  api.start('api');
  sip.start('sip');
  api.emit('message.status', status(1));
  api.emit('message.status', status(2));
  api.poll();
  const later = Date.now() + 5_000;
  assert.equal(api.prune(later), 0, 'sip has read nothing yet');
  sip.poll();
  assert.equal(api.prune(Date.now()), 0, 'read by all, but younger than the retention');
  assert.equal(api.prune(later), 2);
  api.stop();
  sip.stop();
  store.close();
});
