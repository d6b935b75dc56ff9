import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ClusterBus } from '../../platform/cluster/cluster-bus';
import { QueueingSmsc, smscCounters } from '../../platform/smsc';
import { openStore } from '../../platform/store/store';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { SmppCustomerSession } from '../../world/smpp/smpp-session';
import { ACCOUNT, CARRIER, CUSTOMER, eventually, seedCustomer } from './harness';

/**
 * Two SMSC nodes on one store, one after the other: the first is SIGKILLed with texts in flight,
 * queued and awaiting receipts; the second starts on the same SMPP address. Each node is a real
 * process, so "crash" means what it means in production.
 */

const children: ChildProcess[] = [];
const sessions: SmppCustomerSession[] = [];
const dir = mkdtempSync(join(tmpdir(), 'smsc-takeover-'));

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(sessions.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts an SMSC node process and resolves once it serves; its log is kept for failure messages. */
async function startNode(dbFile: string, port: number, log: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--require',
      'ts-node/register/transpile-only',
      join(__dirname, 'smsc-node.ts'),
      JSON.stringify({ dbFile, port }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  child.stderr?.on('data', (chunk: Buffer) => log.push(...chunk.toString().trimEnd().split('\n')));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`SMSC node did not say ready within 15 s; its log:\n${log.join('\n')}`)),
      15_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`SMSC node exited with ${code} before it was ready; its log:\n${log.join('\n')}`));
    });
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** A second customer, whose receipt is owed (no receiver bound) when the node dies. */
const LATE_BINDER = { systemId: 'latebind', password: 'pw2', customerId: 'cus_late' };

async function customer(
  port: number,
  account: { systemId: string; password: string } = ACCOUNT,
  mode: 'transmitter' | 'transceiver' = 'transceiver',
): Promise<SmppCustomerSession> {
  const session = new SmppCustomerSession({ responseTimeoutMs: 2_000, enquireLinkMs: 0 });
  sessions.push(session);
  await session.connect({ host: '127.0.0.1', port, actor: 'test ESME' });
  await session.bind({ systemId: account.systemId, password: account.password, mode });
  return session;
}

test('a successor SMSC delivers every acknowledged text and receipt after its predecessor is killed; re-sends from the in-flight window are counted', async () => {
  const dbFile = join(dir, 'platform.db');
  const db = openStore(dbFile);
  seedCustomer(db);
  db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
    LATE_BINDER.customerId,
    'Late',
    'standard',
    new Date().toISOString(),
  );
  db.prepare('INSERT INTO smpp_accounts (system_id, customer_id, password) VALUES (?, ?, ?)').run(
    LATE_BINDER.systemId,
    LATE_BINDER.customerId,
    LATE_BINDER.password,
  );
  const carrier = new CarrierSmscDouble({
    responseTimeoutMs: 2_000,
    slowResponseMs: 400,
    slowReceiptMs: 700,
  });
  await carrier.start(CARRIER);
  const log: string[] = [];
  const bus = new ClusterBus(db, { pollMs: 20, log: (m) => log.push(`[test bus] ${m}`) });
  const api = new QueueingSmsc(db, bus);
  try {
    api.upsertConnector({ id: 'carrier-1', host: '127.0.0.1', port: carrier.address().port, ...CARRIER });
    api.setRoute('', 'carrier-1');
    const port = await freePort();
    const first = await startNode(dbFile, port, log);
    await carrier.waitForBind(5_000);
    await eventually(
      () => api.connectors().some((c) => c.id === 'carrier-1' && c.state === 'bound'),
      "the first node to record its connector as bound (the API's view)",
    );

    const texts: Array<{ to: string; text: string }> = [];
    carrier.behaviourFor('+447700900051', 'slow-response'); // answered after the crash
    carrier.behaviourFor('+447700900052', 'throttled');
    carrier.behaviourFor('+447700900053', 'slow-dlr'); // receipt due after the crash
    // Submits with a transmitter only: its receipt is owed to it when the node dies.
    const transmitter = await customer(port, LATE_BINDER, 'transmitter');
    const owed = await transmitter.submit({
      source: '+447700900002',
      destination: '+447700900057',
      text: 'receipt owed at the crash',
      registeredDelivery: true,
    });
    texts.push({ to: '+447700900057', text: 'receipt owed at the crash' });
    await eventually(
      () =>
        (db.prepare('SELECT status FROM messages WHERE id = ?').get(owed.messageId) as { status: string })
          .status === 'delivered',
      "the late binder's text to be delivered before the crash",
    );
    const esme = await customer(port);
    const smppIds: string[] = [];
    const submit = async (to: string, text: string): Promise<void> => {
      const { messageId } = await esme.submit({
        source: '+447700900001',
        destination: to,
        text,
        registeredDelivery: true,
      });
      texts.push({ to, text });
      smppIds.push(messageId);
    };
    const apiIds: string[] = [];
    const viaApi = (to: string, text: string): void => {
      const accepted = api.acceptMessage({
        customerId: CUSTOMER,
        source: 'api',
        sender: '+447700900001',
        recipient: to,
        text,
        registeredDelivery: false,
      });
      texts.push({ to, text });
      apiIds.push(accepted.id);
    };
    await submit('+447700900050', 'plain one');
    await submit('+447700900052', 'throttled one');
    await submit('+447700900053', 'late report');
    viaApi('+447700900054', 'from the API before the crash');
    await submit('+447700900051', 'caught in flight');
    await carrier.submits.waitFor((s) => s.to === '+447700900051', {
      awaited: 'the slow network to receive the in-flight text',
      timeoutMs: 5_000,
    });
    await kill(first);

    viaApi('+447700900055', 'from the API while no SMSC runs');
    viaApi('+447700900056', 'a second one while no SMSC runs');
    await startNode(dbFile, port, log);
    const again = await customer(port);

    const everyId = [...smppIds, ...apiIds, owed.messageId];
    await eventually(
      () =>
        everyId.every(
          (id) =>
            (db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string }).status ===
            'delivered',
        ),
      'every acknowledged text to be delivered',
      10_000,
    ).catch((error: Error) => {
      const rows = db.prepare('SELECT id, recipient, status FROM messages').all();
      throw new Error(`${error.message}\nrows: ${JSON.stringify(rows)}\nlog:\n${log.slice(-40).join('\n')}`);
    });

    const copies = new Map<string, number>();
    for (const { to, text } of texts) {
      const received = carrier.handset(to).inbox.filter((sms) => sms.text === text).length;
      assert.ok(received >= 1, `"${text}" never reached ${to}`);
      copies.set(text, received);
    }
    const duplicates = [...copies.values()].reduce((sum, n) => sum + n - 1, 0);
    assert.equal(copies.get('caught in flight'), 2, 'the text in flight at the crash is sent again');
    // Every duplicate is one the SMSC owns up to. The count may be higher: a re-sent submission
    // whose first attempt the network had turned away (throttled) or never answered is counted as
    // a possible duplicate, and rightly so — the SMSC cannot know.
    const counted = smscCounters(db).resentInFlight;
    assert.ok(
      duplicates <= counted,
      `${duplicates} duplicates on the handsets, ${counted} counted by the SMSC; copies per text: ${JSON.stringify([...copies])}`,
    );

    // Receipts owed to the customer reach it, on the session it had or the one it bound again.
    const receipted = (): Set<string | undefined> =>
      new Set([...esme.deliveries.all(), ...again.deliveries.all()].map((d) => d.receiptedMessageId));
    await eventually(
      () => smppIds.every((id) => receipted().has(id)),
      'a receipt for every text the customer submitted over SMPP',
      5_000,
    ).catch((error: Error) => {
      const missing = smppIds.filter((id) => !receipted().has(id));
      throw new Error(`${error.message}: missing ${missing.join(', ')}\nlog:\n${log.slice(-40).join('\n')}`);
    });
    const lateBinder = await customer(port, LATE_BINDER, 'transceiver');
    await lateBinder.deliveries.waitFor((d) => d.receiptedMessageId === owed.messageId, {
      awaited: 'the receipt owed since before the crash, once its customer binds a receiver to the successor',
      timeoutMs: 3_000,
    });
    assert.deepEqual(carrier.violations.all(), []);
  } finally {
    await carrier.stop();
    db.close();
  }
});
