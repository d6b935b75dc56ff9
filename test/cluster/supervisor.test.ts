import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults } from '../../platform/config';
import { startCluster, type NodeStatus, type RunningCluster } from '../../platform/cluster/supervisor';

// Real node processes of two roles (media and smsc need nothing from the others), killed and
// stopped with real signals; the SMSC's SMPP port shows which node holds the role's address.
let cluster: RunningCluster;
let dataDir: string;
const logs: string[] = [];
const TIMING = { advertIntervalMs: 100, deadAfterMs: 600 };

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cluster-test-'));
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey: 'operator-key' });
  cluster = await startCluster(
    { config, dataDir, roles: ['media', 'smsc'], timing: TIMING },
    (role, message) => logs.push(`[${role}] ${message}`),
  );
});

after(async () => {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function node(role: string, name: string): NodeStatus {
  const found = cluster.nodes().find((n) => n.role === role && n.node === name);
  assert.ok(found, `no node ${role}/${name}`);
  return found;
}

/** Resolves when `check` holds; fails after `boundMs` with the node table and the log's tail. */
async function until(what: string, check: () => boolean, boundMs = 5_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > boundMs)
      assert.fail(
        `${what} not within ${boundMs} ms; nodes ${JSON.stringify(cluster.nodes())}\n${logs.slice(-15).join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

function smppAccepts(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: cluster.endpoints.smpp.host, port: cluster.endpoints.smpp.port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function fault(
  body: unknown,
  apiKey = 'operator-key',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${cluster.faultUrl}/ops/v1/faults`, {
    method: 'POST',
    headers: { apikey: apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('the first node of each role is active and holds the address, the second waits', async () => {
  assert.equal(node('smsc', 'a').state, 'active');
  assert.equal(node('smsc', 'b').state, 'standby');
  assert.equal(node('media', 'b').state, 'standby');
  assert.ok(await smppAccepts(), 'nobody accepts SMPP connections on the role address');
});

test('a crashed active node (SIGKILL) is replaced on the same address within a few dead intervals', async () => {
  const crashed = await fault({ role: 'smsc', node: 'active', action: 'crash' });
  assert.equal(crashed.status, 200, JSON.stringify(crashed.body));
  assert.equal(crashed.body.node, 'a', 'the fault seam did not resolve "active" to the active node');
  const tookMs = await until('smsc/b active', () => node('smsc', 'b').state === 'active');
  assert.ok(
    tookMs >= TIMING.deadAfterMs - TIMING.advertIntervalMs,
    `taken over after ${tookMs} ms: before a.s silence was established`,
  );
  assert.equal(node('smsc', 'a').exit, 'SIGKILL');
  assert.ok(await smppAccepts(), 'the standby took over but the SMPP address does not accept connections');
});

test('a hung active node (SIGSTOP) is fenced by the standby, which takes the address', async () => {
  const hung = await fault({ role: 'media', node: 'a', action: 'hang' });
  assert.equal(hung.status, 200);
  assert.equal(node('media', 'a').state, 'hung');
  await until('media/b active', () => node('media', 'b').state === 'active');
  await until('media/a fenced', () => node('media', 'a').state === 'down');
  assert.equal(node('media', 'a').exit, 'SIGKILL (fenced by b)');
});

test('a recovered node comes back as a standby and takes over again when the new active dies', async () => {
  const recovered = await fault({ role: 'smsc', node: 'a', action: 'recover' });
  assert.equal(recovered.status, 200);
  assert.equal(node('smsc', 'a').state, 'standby');
  assert.equal(
    node('smsc', 'b').state,
    'active',
    'recovering a node must not take the role back (no preemption)',
  );
  await fault({ role: 'smsc', node: 'b', action: 'crash' });
  await until('smsc/a active again', () => node('smsc', 'a').state === 'active');
  assert.ok(await smppAccepts());
});

test('the fault seam refuses unknown roles and nodes, bad actions and callers without the operator key', async () => {
  assert.equal((await fault({ role: 'kamailio', node: 'a', action: 'crash' })).status, 404);
  assert.equal((await fault({ role: 'smsc', node: 'z', action: 'crash' })).status, 404);
  assert.equal((await fault({ role: 'smsc', node: 'a', action: 'explode' })).status, 422);
  assert.equal((await fault({ role: 'smsc' })).status, 422);
  assert.equal((await fault({ role: 'smsc', node: 'a', action: 'crash' }, 'customer-key')).status, 401);
  const nodes = await fetch(`${cluster.faultUrl}/ops/v1/nodes`, { headers: { apikey: 'operator-key' } });
  assert.equal(nodes.status, 200);
  // Four role nodes and the store's primary (role database).
  assert.equal(((await nodes.json()) as { nodes: unknown[] }).nodes.length, 5);
});
