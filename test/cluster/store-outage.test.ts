import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PDU } from 'smpp';
import { embeddedDefaults } from '../../platform/config';
import { startCluster, type RunningCluster } from '../../platform/cluster/supervisor';
import { MessageStore } from '../../platform/smsc/message-store';
import { openStore, type Db } from '../../platform/store/store';
import { isStoreBusy } from '../../platform/store/write-behind';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { RawEsme } from '../smsc/raw-esme';
import { ACCOUNT, CARRIER, seedCustomer } from '../smsc/harness';

// The real outage (a process holding BEGIN IMMEDIATE on the shared store, started and ended through
// the fault seam) against a real SMSC node process: a text accepted before the outage has its
// receipt arrive during it, and must end delivered, reported once, once the store is back.
const BUSY_TIMEOUT_MS = 250;
let cluster: RunningCluster;
let dataDir: string;
let db: Db;
let carrier: CarrierSmscDouble;
const logs: string[] = [];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'store-outage-test-'));
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey: 'operator-key' });
  assert.equal(config.store.busyTimeoutMs, BUSY_TIMEOUT_MS);
  db = openStore(config.store.file, { busyTimeoutMs: config.store.busyTimeoutMs });
  seedCustomer(db);
  carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000 });
  await carrier.start(CARRIER);
  const messages = new MessageStore(db);
  messages.upsertConnector({ id: 'carrier-1', ...carrier.address(), ...CARRIER }, new Date().toISOString());
  messages.setRoute('', 'carrier-1');
  const bound = carrier.waitForBind(20_000);
  cluster = await startCluster(
    { config, dataDir, roles: ['smsc'], nodesPerRole: 1, timing: { advertIntervalMs: 40, deadAfterMs: 240 } },
    (role, message) => logs.push(`[${role}] ${message}`),
  );
  await bound;
});

after(async () => {
  await cluster?.stop();
  await carrier?.stop();
  db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function fault(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${cluster.faultUrl}/ops/v1/faults`, {
    method: 'POST',
    headers: { apikey: 'operator-key', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function database(): { state: string; pid: number | null } {
  const found = cluster.nodes().find((n) => n.role === 'database' && n.node === 'primary');
  assert.ok(found, `the fault seam does not list database/primary: ${JSON.stringify(cluster.nodes())}`);
  return found;
}

/** What the supervisor shows of the SMSC node's writes waiting for the store. */
function smscStore(): { queued: number; outage: boolean } | null | undefined {
  return cluster.nodes().find((n) => n.role === 'smsc' && n.node === 'a')?.store;
}

/** Resolves when `check` holds; fails after `boundMs` naming what it awaited, with the log's tail. */
async function until(what: string, check: () => boolean, boundMs = 5_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > boundMs)
      assert.fail(`${what}: not within ${boundMs} ms; platform log:\n${logs.slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

function messageStatus(id: string): string | undefined {
  return (db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string } | undefined)
    ?.status;
}

test('the fault seam serves the database as role database, node primary, taking hang and recover only', async () => {
  assert.equal(database().state, 'active');
  const crash = await fault({ role: 'database', node: 'primary', action: 'crash' });
  assert.equal(crash.status, 422);
  assert.match(String(crash.body.detail), /database role takes hang .* or recover/);
  assert.equal((await fault({ role: 'database', node: 'replica', action: 'hang' })).status, 404);
  assert.equal(database().state, 'active', 'a refused fault changed the database');
});

test('while the primary refuses writes, writes fail fast, reads go on, and what was queued lands once when it is back', async () => {
  const recipient = '+447700900123';
  // The network reports late, so the receipt arrives while the store refuses writes.
  carrier.behaviourFor(recipient, 'deliver', { deliverAfterMs: 1_200 });
  const esme = await RawEsme.connect(cluster.endpoints.smpp);
  const bind = await esme.request('bind_transceiver', {
    system_id: ACCOUNT.systemId,
    password: ACCOUNT.password,
  });
  assert.equal(bind.command_status, 0, 'the ESME could not bind');
  const submit = (text: string): Promise<PDU> =>
    esme.request(
      'submit_sm',
      {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: '447700900001',
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: recipient.slice(1),
        registered_delivery: 1,
        short_message: text,
      },
      3_000,
    );
  const accepted = await submit('before the outage');
  assert.equal(accepted.command_status, 0, 'the text before the outage was refused');
  const id = String(accepted.message_id);
  await until(`${id} sent to the network`, () => messageStatus(id) === 'sent');

  const hangStarted = Date.now();
  const hung = await fault({ role: 'database', node: 'primary', action: 'hang' });
  assert.equal(hung.status, 200, JSON.stringify(hung.body));
  const hangMs = Date.now() - hangStarted;
  assert.equal(database().state, 'hung');
  assert.equal(database().pid, hung.body.pid);

  const write = performance.now();
  assert.throws(
    () => db.prepare("UPDATE customers SET name = 'during the outage'").run(),
    isStoreBusy,
    'a write succeeded while the primary held the write lock',
  );
  const writeBlockedMs = performance.now() - write;
  assert.ok(
    writeBlockedMs >= BUSY_TIMEOUT_MS * 0.9 && writeBlockedMs < BUSY_TIMEOUT_MS * 4,
    `a write blocked ${writeBlockedMs.toFixed(0)} ms, not about the busy timeout (${BUSY_TIMEOUT_MS} ms)`,
  );
  assert.equal(messageStatus(id), 'sent', 'reads must be served during the outage');

  // A new text cannot be stored: the SMSC says so at once instead of acknowledging it or hanging.
  const refusedStarted = Date.now();
  const refused = await submit('during the outage');
  const refusedMs = Date.now() - refusedStarted;
  assert.notEqual(refused.command_status, 0, 'a text was acknowledged that the store could not keep');

  await carrier.receipts.waitFor((r) => r.to === recipient, {
    awaited: `the network's receipt for ${id}`,
    timeoutMs: 5_000,
  });
  await until('the SMSC node to queue the receipt', () =>
    logs.some((line) => /store refuses writes: "receipt/.test(line)),
  );
  assert.equal(messageStatus(id), 'sent', 'the receipt was recorded while the store refused writes');
  await until(
    "GET /ops/v1/nodes to show the SMSC node's waiting writes",
    () => (smscStore()?.queued ?? 0) > 0,
  );
  assert.equal(smscStore()?.outage, true);
  // The node knows of the outage now: its writes give up at once instead of freezing it.
  const fastStarted = Date.now();
  assert.notEqual((await submit('later in the outage')).command_status, 0);
  const refusedFastMs = Date.now() - fastStarted;
  assert.ok(
    refusedFastMs < BUSY_TIMEOUT_MS,
    `with the outage known, a submit still took ${refusedFastMs} ms to be refused`,
  );

  const recovered = Date.now();
  assert.equal((await fault({ role: 'database', node: 'primary', action: 'recover' })).status, 200);
  assert.equal(database().state, 'active');
  await until(`${id} delivered once the store is back`, () => messageStatus(id) === 'delivered');
  const drainMs = Date.now() - recovered;
  await until('GET /ops/v1/nodes to show the queue empty', () => smscStore()?.queued === 0);
  const emptyShownMs = Date.now() - recovered;
  assert.equal(smscStore()?.outage, false);
  await until('the node to report its queue empty', () =>
    logs.some((line) => /store accepts writes again: \d+ waiting write\(s\) applied in order/.test(line)),
  );

  const receipt = await esme.pdus.waitFor((p) => p.command === 'deliver_sm', {
    awaited: `the delivery receipt for ${id}`,
    timeoutMs: 5_000,
  });
  esme.respond(receipt);
  await until(`the receipt of ${id} recorded as sent`, () =>
    Boolean(
      (
        db.prepare('SELECT receipt_sent_at FROM messages WHERE id = ?').get(id) as {
          receipt_sent_at: string | null;
        }
      ).receipt_sent_at,
    ),
  );
  assert.equal(
    esme.pdus.all().filter((p) => p.command === 'deliver_sm').length,
    1,
    'the customer got the receipt more than once',
  );
  assert.equal(
    carrier.submits.all().filter((s) => s.to === recipient).length,
    1,
    'the network must get the text accepted before the outage once, and the refused one never',
  );
  await esme.destroy();
  // Figures for the report (node's test runner prints diagnostics).
  console.log(
    `# outage figures: hang answered in ${hangMs} ms; a write blocked ${writeBlockedMs.toFixed(0)} ms; ` +
      `a refused submit answered in ${refusedMs} ms, ${refusedFastMs} ms once the node knew; recover → queue applied (message delivered) in ${drainMs} ms, shown empty on /ops/v1/nodes after ${emptyShownMs} ms`,
  );
});
