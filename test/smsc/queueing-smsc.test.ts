import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterBus } from '../../platform/cluster/cluster-bus';
import { QueueingSmsc, SmscRejection, startSmsc } from '../../platform/smsc';
import { openStore } from '../../platform/store/store';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { CARRIER, CUSTOMER, eventually, seedCustomer, testConfig } from './harness';

/** The API's process and the SMSC's process, each with its own connection to one store file. */
async function twoProcesses(): Promise<{
  api: QueueingSmsc;
  apiDb: ReturnType<typeof openStore>;
  carrier: CarrierSmscDouble;
  log: string[];
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'queueing-smsc-'));
  const file = join(dir, 'platform.db');
  const apiDb = openStore(file);
  seedCustomer(apiDb);
  const smscDb = openStore(file);
  const log: string[] = [];
  const smscBus = new ClusterBus(smscDb, { pollMs: 10, log: (m) => log.push(m) });
  const smsc = await startSmsc({
    config: testConfig(file),
    db: smscDb,
    bus: smscBus,
    log: (_role, m) => log.push(m),
  });
  smscBus.start('smsc');
  const carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000 });
  await carrier.start(CARRIER);
  const api = new QueueingSmsc(apiDb, new ClusterBus(apiDb, { pollMs: 10, log: (m) => log.push(m) }));
  return {
    api,
    apiDb,
    carrier,
    log,
    async close() {
      smscBus.stop();
      await smsc.stop();
      await carrier.stop();
      apiDb.close();
      smscDb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('connectors and routes set from another process are bound and used by the SMSC; its bind state is read back from the store', async () => {
  const p = await twoProcesses();
  try {
    const bound = p.carrier.waitForBind(2_000);
    p.api.upsertConnector({ id: 'carrier-1', host: '127.0.0.1', port: p.carrier.address().port, ...CARRIER });
    assert.equal(p.api.connectors()[0]?.id, 'carrier-1');
    await bound;
    await eventually(
      () => p.api.connectors()[0]?.state === 'bound',
      'the connector to show as bound to the API',
    );
    p.api.setRoute('', 'carrier-1');
    const accepted = p.api.acceptMessage({
      customerId: CUSTOMER,
      source: 'api',
      sender: '+447700900001',
      recipient: '+447700900060',
      text: 'through the store',
      registeredDelivery: false,
    });
    assert.equal(accepted.status, 'queued');
    const sms = await p.carrier.handset('+447700900060').inbox.waitFor(() => true, {
      awaited: 'the text queued by the API process to reach the handset',
      timeoutMs: 2_000,
    });
    assert.equal(sms.text, 'through the store');
    await eventually(
      () =>
        (p.apiDb.prepare('SELECT status FROM messages WHERE id = ?').get(accepted.id) as { status: string })
          .status === 'delivered',
      'the message row to become delivered',
    );

    assert.equal(await p.api.removeConnector('carrier-1'), true);
    assert.deepEqual(p.api.connectors(), []);
    await eventually(() => p.carrier.boundSessions() === 0, 'the SMSC to unbind the removed connector');
    assert.equal(await p.api.removeConnector('carrier-1'), false);
    assert.equal(p.api.removeRoute(''), false, 'the route went with its connector');
  } catch (error) {
    throw new Error(`${(error as Error).message}\nSMSC log:\n${p.log.slice(-30).join('\n')}`);
  } finally {
    await p.close();
  }
});

test('the API process refuses what the SMSC refuses, with the same reasons, and writes nothing', async () => {
  const p = await twoProcesses();
  try {
    const input = {
      customerId: CUSTOMER,
      source: 'api' as const,
      sender: '+447700900001',
      recipient: '07700 900060',
      text: 'x',
      registeredDelivery: false,
    };
    assert.throws(
      () => p.api.acceptMessage(input),
      (e: unknown) => e instanceof SmscRejection && e.reason === 'invalid-recipient',
    );
    assert.throws(
      () => p.api.acceptMessage({ ...input, recipient: '+447700900060', text: '' }),
      (e: unknown) => e instanceof SmscRejection && e.reason === 'invalid-text',
    );
    const rows = p.apiDb.prepare('SELECT count(*) AS n FROM messages').get() as { n: number };
    const events = p.apiDb.prepare('SELECT count(*) AS n FROM bus_events').get() as { n: number };
    assert.deepEqual([rows.n, events.n], [0, 0]);
  } finally {
    await p.close();
  }
});
