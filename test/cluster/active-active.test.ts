/**
 * The sip role active-active (as behind Kamailio's dispatcher): both nodes serve at once at their
 * own addresses; when one is crashed, the other fences it, adopts its calls from the store and
 * starts reading the bus; a recovered node serves again beside it. Real node processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults } from '../../platform/config';
import { openStore, type Db } from '../../platform/store/store';
import { startCluster, type NodeStatus, type RunningCluster } from '../../platform/cluster/supervisor';
import { ACCOUNTS, CUSTOMER, register } from '../sip-edge/harness';
import { digestAnswer, header, RawSipClient, sdp } from '../sip-edge/raw-sip-client';

let cluster: RunningCluster;
let dataDir: string;
let db: Db;
const logs: string[] = [];
const TIMING = { advertIntervalMs: 100, deadAfterMs: 600 };
const DOMAIN = '127.0.0.1';

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cluster-aa-test-'));
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey: 'operator-key' });
  cluster = await startCluster(
    { config, dataDir, roles: ['media', 'sip'], activeActive: ['sip'], timing: TIMING },
    (role, message) => logs.push(`[${role}] ${message}`),
  );
  db = openStore(config.store.file);
  const now = new Date().toISOString();
  db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
    CUSTOMER,
    CUSTOMER,
    'standard',
    now,
  );
  for (const a of [ACCOUNTS.alice, ACCOUNTS.bob]) {
    db.prepare('INSERT INTO numbers (e164, customer_id, kind, created_at) VALUES (?, ?, ?, ?)').run(
      a.number,
      CUSTOMER,
      'local',
      now,
    );
    db.prepare(
      'INSERT INTO sip_accounts (username, customer_id, password, number, created_at) VALUES (?, ?, ?, ?, ?)',
    ).run(a.username, CUSTOMER, a.password, a.number, now);
  }
});

after(async () => {
  db.close();
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function node(name: string): NodeStatus {
  const found = cluster.nodes().find((n) => n.role === 'sip' && n.node === name);
  assert.ok(found, `no node sip/${name}`);
  return found;
}

/** Resolves when `check` holds; fails after `boundMs` with the node table and the log's tail. */
async function until(what: string, check: () => boolean, boundMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > boundMs)
      assert.fail(
        `${what} not within ${boundMs} ms; nodes ${JSON.stringify(cluster.nodes())}\n${logs.slice(-20).join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function fault(node: string, action: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${cluster.faultUrl}/ops/v1/faults`, {
    method: 'POST',
    headers: { apikey: 'operator-key', 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'sip', node, action }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

async function answersOptions(address: { host: string; port: number }): Promise<boolean> {
  const probe = await RawSipClient.open('probe', address);
  try {
    probe.request({
      method: 'OPTIONS',
      uri: `sip:${address.host}:${address.port}`,
      from: '<sip:dispatcher@127.0.0.1>;tag=p',
      to: `<sip:${address.host}:${address.port}>`,
      callId: `probe-${Math.random()}`,
      cseq: 1,
    });
    await probe.waitForResponse(200, '1 OPTIONS', 1_000);
    return true;
  } catch {
    return false;
  } finally {
    await probe.close();
  }
}

test('both sip nodes serve at once, each at its own address; node a is the first listed and the endpoints’', async () => {
  assert.deepEqual(
    cluster.sipNodes.map((n) => n.node),
    ['a', 'b'],
  );
  const [a, b] = cluster.sipNodes;
  assert.notEqual(a.udp.port, b.udp.port);
  assert.deepEqual(a.udp, cluster.endpoints.sip.udp);
  assert.equal(node('a').state, 'active');
  assert.equal(node('b').state, 'active');
  assert.ok(await answersOptions(a.udp), 'node a does not answer OPTIONS (a dispatcher would mark it down)');
  assert.ok(await answersOptions(b.udp), 'node b does not answer OPTIONS');
  assert.ok(logs.some((l) => /sip\/a .*bus|role sip serving/.test(l)));
});

test('a call carried by a crashed node goes on from the survivor, which ends it on the BYE, writing one record', async () => {
  const [a, b] = cluster.sipNodes;
  const alice = await RawSipClient.open('alice', a.udp);
  const bob = await RawSipClient.open('bob', a.udp);
  try {
    await register(alice, ACCOUNTS.alice, DOMAIN);
    await register(bob, ACCOUNTS.bob, DOMAIN);
    const uri = `sip:${ACCOUNTS.bob.number}@${DOMAIN}`;
    const callId = `aa-${Date.now()}`;
    const from = `<sip:alice@${DOMAIN}>;tag=alice1`;
    const contact: [string, string] = ['Contact', `<${alice.contact}>`];
    const invite = {
      method: 'INVITE',
      uri,
      from,
      to: `<${uri}>`,
      callId,
      headers: [contact],
      body: sdp(40_002),
    };
    alice.request({ ...invite, cseq: 1 });
    const challenge = await alice.waitForResponse(407, '1 INVITE');
    const credentials = digestAnswer(header(challenge, 'proxy-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'INVITE',
      uri,
    });
    alice.request({ ...invite, cseq: 2, headers: [contact, ['Proxy-Authorization', credentials]] });
    const atBob = await bob.waitForRequest('INVITE');
    bob.reply(atBob, 200, 'OK', {
      toTag: 'bobtag',
      headers: [['Contact', `<${bob.contact}>`]],
      body: sdp(40_004),
    });
    const ok = await alice.waitForResponse(200, '2 INVITE');
    const dialog = { from, to: header(ok, 'to') ?? '', callId };
    alice.request({ method: 'ACK', uri: 'sip:edge@127.0.0.1', ...dialog, cseq: 2 });
    await bob.waitForRequest('ACK');

    const crashed = await fault('active', 'crash');
    assert.equal(
      crashed.node,
      'a',
      '"active" is the first serving node: the one a failover dispatcher prefers',
    );
    await until('node b adopted node a’s call', () =>
      logs.some((l) => /sip\/b.*1 call\(s\) of dead node a adopted/.test(l)),
    );
    assert.equal(node('a').exit, 'SIGKILL', 'the crash killed it: nothing was left to fence');
    assert.equal(node('b').state, 'active');
    assert.ok(logs.some((l) => /sip\/b.*role sip serving/.test(l)));

    alice.server = b.udp; // Kamailio's failure route sends the BYE to the next node of the set
    alice.request({ method: 'BYE', uri: 'sip:edge@127.0.0.1', ...dialog, cseq: 3 });
    const bye = await bob.waitForRequest('BYE');
    assert.equal(bye.from.port, b.udp.port, 'node b passed the BYE on');
    bob.reply(bye, 200, 'OK');
    await alice.waitForResponse(200, '3 BYE');
    await until(
      'the call record',
      () => db.prepare('SELECT 1 FROM cdrs WHERE sip_call_id = ?').get(callId) !== undefined,
    );
    const record = db.prepare('SELECT disposition, hangup_by FROM cdrs WHERE sip_call_id = ?').all(callId);
    assert.deepEqual(record, [{ disposition: 'answered', hangup_by: 'caller' }]);

    // Phones register again through the survivor.
    alice.server = b.udp;
    await register(alice, ACCOUNTS.alice, DOMAIN);
  } finally {
    await Promise.all([alice.close(), bob.close()]);
  }
});

test('a recovered node serves again at its own address beside the survivor', async () => {
  await fault('a', 'recover');
  assert.equal(node('a').state, 'active');
  assert.equal(node('b').state, 'active');
  assert.ok(await answersOptions(cluster.sipNodes[0].udp), 'the recovered node a does not answer OPTIONS');
  await until('node b hears node a again', () => logs.some((l) => /sip\/b.*peer a is back/.test(l)));
});

test('a hung node is fenced by its peer, which goes on serving', async () => {
  await fault('b', 'hang');
  await until('node b fenced', () => node('b').state === 'down');
  assert.equal(node('b').exit, 'SIGKILL (fenced by a)');
  assert.equal(node('a').state, 'active');
  assert.ok(await answersOptions(cluster.sipNodes[0].udp), 'node a stopped answering after fencing b');
});
