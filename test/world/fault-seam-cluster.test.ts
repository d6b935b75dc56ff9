import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults } from '../../platform/config';
import { startCluster, type RunningCluster } from '../../platform/cluster/supervisor';
import { FaultEndpoint, type NodeStatus } from '../../world/faults/fault-injector';

// The suite's fault seam against the real supervisor (one role, real processes): the two must
// keep speaking the same language — node lists, 'active' resolved to a real node, the database.
let cluster: RunningCluster;
let dataDir: string;
let seam: FaultEndpoint;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fault-seam-'));
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey: 'operator-key' });
  cluster = await startCluster(
    { config, dataDir, roles: ['media'], timing: { advertIntervalMs: 40, deadAfterMs: 240 } },
    () => undefined,
  );
  seam = new FaultEndpoint(cluster.faultUrl, 'operator-key');
});

after(async () => {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The node table once `check` holds; fails naming the last table after `boundMs`. */
async function nodesWhen(check: (nodes: NodeStatus[]) => boolean, boundMs = 5_000): Promise<NodeStatus[]> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const nodes = await seam.nodes();
    if (check(nodes)) return nodes;
    if (Date.now() > deadline) assert.fail(`not within ${boundMs} ms: ${JSON.stringify(nodes)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const stateOf = (nodes: NodeStatus[], role: string, node: string): string | undefined =>
  nodes.find((n) => n.role === role && n.node === node)?.state;

test('a crash of the active node is resolved to the real node, and the standby takes over', async () => {
  const before = await nodesWhen((nodes) => stateOf(nodes, 'media', 'b') === 'standby');
  const active = before.find((n) => n.role === 'media' && n.state === 'active');
  const fault = await seam.crash('media');
  assert.equal(fault.node, active?.node);
  assert.equal(fault.pid, active?.pid);
  await nodesWhen((nodes) => stateOf(nodes, 'media', fault.node === 'a' ? 'b' : 'a') === 'active');
});

test('the database is a node of its own: it refuses writes on hang and comes back on recover', async () => {
  const hung = await seam.hang('database', 'active');
  assert.equal(hung.node, 'primary');
  assert.equal(stateOf(await seam.nodes(), 'database', 'primary'), 'hung');
  await seam.recover('database', 'primary');
  await nodesWhen((nodes) => stateOf(nodes, 'database', 'primary') === 'active');
});

test('an unknown role is refused by the supervisor, naming it', async () => {
  await assert.rejects(seam.crash('dns' as 'sip'), /did not crash the active dns node: it answered 404/);
});
