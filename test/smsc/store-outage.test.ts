import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PlatformBus, type PlatformEvents } from '../../platform/bus';
import type { RoleDeps } from '../../platform/role';
import { startSmsc } from '../../platform/smsc';
import { openStore, type Db } from '../../platform/store/store';
import { Observed } from '../../world/observed';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { CARRIER, CUSTOMER, eventually, messageRow, seedCustomer, testConfig } from './harness';

// The SMSC's bookkeeping while a second connection (the outage) holds BEGIN IMMEDIATE: a text
// accepted just before is submitted, its carrier id, its "sent" and its receipt wait for the store,
// and the connector binding again meanwhile must not resubmit it from the stale row.
let dir: string;
let db: Db;
let primary: Database.Database;
let carrier: CarrierSmscDouble;
let smsc: Awaited<ReturnType<typeof startSmsc>>;
const statuses = new Observed<PlatformEvents['message.status']>((e) => `${e.messageId} ${e.status}`);
const log: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smsc-outage-'));
  const config = testConfig(join(dir, 'platform.db'));
  db = openStore(config.store.file, { busyTimeoutMs: config.store.busyTimeoutMs });
  seedCustomer(db);
  primary = new Database(config.store.file);
  carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000 });
  await carrier.start(CARRIER);
  const bus = new PlatformBus();
  bus.on('message.status', (event) => statuses.add(event));
  const deps: RoleDeps = { config, db, bus, log: (role, message) => log.push(`${role}: ${message}`) };
  smsc = await startSmsc(deps);
  const bound = carrier.waitForBind(2_000);
  smsc.upsertConnector({ id: 'carrier-1', host: '127.0.0.1', port: carrier.address().port, ...CARRIER });
  smsc.setRoute('', 'carrier-1');
  await bound;
});

after(async () => {
  if (primary.inTransaction) primary.exec('ROLLBACK');
  primary.close();
  await smsc.stop();
  await carrier.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a text accepted just before the outage is sent once and ends delivered, reported once, when the store is back', async () => {
  const recipient = '+447700900555';
  carrier.behaviourFor(recipient, 'deliver', { deliverAfterMs: 400 });
  const accepted = smsc.acceptMessage({
    customerId: CUSTOMER,
    source: 'api',
    sender: '+447700900001',
    recipient,
    text: 'accepted before the outage',
    registeredDelivery: false,
  });
  // The outage starts before the SMSC's first attempt (a timer) runs.
  primary.exec('BEGIN IMMEDIATE');
  await carrier.receipts.waitFor((r) => r.to === recipient, {
    awaited: `the network's receipt for ${accepted.id}`,
    timeoutMs: 5_000,
  });
  await eventually(
    () => log.some((line) => /^store: store refuses writes/.test(line)),
    'the SMSC to find the store refusing writes',
  );
  assert.equal(messageRow(db, accepted.id).status, 'queued', 'written while the store refused writes');
  assert.equal(
    statuses.filter((e) => e.messageId === accepted.id).length,
    0,
    'a status announced before it was stored',
  );

  // The connector binds again: every stored 'queued' text is rescheduled, this one included.
  const binds = carrier.binds.all().length;
  carrier.dropConnections();
  await carrier.binds.waitFor(() => carrier.binds.all().length > binds, {
    awaited: 'the SMSC to bind to the network again',
    timeoutMs: 5_000,
  });

  primary.exec('ROLLBACK');
  await statuses.waitFor((e) => e.messageId === accepted.id && e.status === 'delivered', {
    awaited: `${accepted.id} delivered once the store is back`,
    timeoutMs: 5_000,
  });
  const row = messageRow(db, accepted.id);
  assert.equal(row.status, 'delivered');
  assert.equal(row.attempts, 1, 'the text was counted as sent more than once');
  assert.notEqual(JSON.parse(String(row.carrier_message_ids))[0], null, "the network's id was not recorded");
  assert.equal(
    carrier.submits.filter((s) => s.to === recipient).length,
    1,
    'the text was submitted again from the stale row while its bookkeeping waited',
  );
  assert.deepEqual(
    statuses.filter((e) => e.messageId === accepted.id).map((e) => e.status),
    ['sent', 'delivered'],
    'each status must be announced once, in order',
  );
});

test('a text the network throttles during the outage is retried once the store is back, and delivered once', async () => {
  const recipient = '+447700900556';
  carrier.behaviourFor(recipient, 'throttled');
  const logged = log.length;
  const accepted = smsc.acceptMessage({
    customerId: CUSTOMER,
    source: 'api',
    sender: '+447700900001',
    recipient,
    text: 'throttled in the outage',
    registeredDelivery: false,
  });
  primary.exec('BEGIN IMMEDIATE');
  await carrier.submits.waitFor((s) => s.to === recipient && s.carrierId === null, {
    awaited: `the network to throttle ${accepted.id}`,
    timeoutMs: 5_000,
  });
  await eventually(
    () =>
      log.slice(logged).some((line) => line.endsWith(`${accepted.id}: its next attempt waits for the store`)),
    `the SMSC to hold ${accepted.id}'s next attempt until the store is back`,
  );
  assert.equal(messageRow(db, accepted.id).status, 'queued');
  primary.exec('ROLLBACK');
  await statuses.waitFor((e) => e.messageId === accepted.id && e.status === 'delivered', {
    awaited: `${accepted.id} retried and delivered once the store is back`,
    timeoutMs: 5_000,
  });
  assert.equal(
    carrier.submits.filter((s) => s.to === recipient && s.carrierId !== null).length,
    1,
    'the network accepted the text other than once',
  );
});
