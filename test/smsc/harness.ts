import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedDefaults, type PlatformConfig } from '../../platform/config';
import { PlatformBus, type PlatformEvents } from '../../platform/bus';
import type { RoleDeps } from '../../platform/role';
import { startSmsc } from '../../platform/smsc';
import { openStore, type Db } from '../../platform/store/store';
import { Observed } from '../../world/observed';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';

/** One SMSC on a temporary database, a carrier double bound to it, and the bus events it emitted. */
export interface SmscHarness {
  db: Db;
  dbFile: string;
  config: PlatformConfig;
  bus: PlatformBus;
  statuses: Observed<PlatformEvents['message.status']>;
  log: string[];
  smsc: Awaited<ReturnType<typeof startSmsc>>;
  carrier: CarrierSmscDouble;
  /** Restarts the SMSC on the same database file (persistence). */
  restartSmsc(): Promise<void>;
  close(): Promise<void>;
}

export const CUSTOMER = 'cus_test';
export const ACCOUNT = { systemId: 'acme', password: 's3cret' };
export const CARRIER = { systemId: 'platform', password: 'carrierpw' };

export function testConfig(dbFile: string): PlatformConfig {
  const config = embeddedDefaults({ storeFile: dbFile, adminApiKey: 'test' });
  config.smsc.responseTimeoutMs = 500;
  config.smsc.lateResponseGraceMs = 300;
  config.smsc.retryDelayMs = 50;
  config.smsc.reconnectDelayMs = 50;
  return config;
}

export function seedCustomer(db: Db, throughputPerSecond: number | null = null): void {
  db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
    CUSTOMER,
    'Acme',
    'standard',
    new Date().toISOString(),
  );
  db.prepare(
    'INSERT INTO smpp_accounts (system_id, customer_id, password, throughput_per_second) VALUES (?, ?, ?, ?)',
  ).run(ACCOUNT.systemId, CUSTOMER, ACCOUNT.password, throughputPerSecond);
}

export async function startHarness(
  options: {
    throughputPerSecond?: number | null;
    bindCarrier?: boolean;
    /** Adjusts the SMSC configuration before the SMSC starts (timers, window). */
    configure?: (config: PlatformConfig) => void;
    /** How late the carrier double answers submits to 'slow-response' numbers. */
    slowResponseMs?: number;
  } = {},
): Promise<SmscHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'smsc-test-'));
  const dbFile = join(dir, 'platform.db');
  const db = openStore(dbFile);
  seedCustomer(db, options.throughputPerSecond ?? null);
  const config = testConfig(dbFile);
  options.configure?.(config);
  const bus = new PlatformBus();
  const statuses = new Observed<PlatformEvents['message.status']>();
  bus.on('message.status', (event) => statuses.add(event));
  const log: string[] = [];
  const deps: RoleDeps = {
    config,
    db,
    bus,
    log: (role, message) => {
      log.push(`${role}: ${message}`);
      if (process.env.SMSC_TEST_LOG) console.log(`[${role}] ${message}`);
    },
  };
  const carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000, slowResponseMs: options.slowResponseMs });
  await carrier.start(CARRIER);
  const harness: SmscHarness = {
    db,
    dbFile,
    config,
    bus,
    statuses,
    log,
    carrier,
    smsc: await startSmsc(deps),
    async restartSmsc() {
      await harness.smsc.stop();
      harness.smsc = await startSmsc(deps);
    },
    async close() {
      await harness.smsc.stop();
      await carrier.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.bindCarrier !== false) {
    const bound = carrier.waitForBind(2_000);
    harness.smsc.upsertConnector({
      id: 'carrier-1',
      host: '127.0.0.1',
      port: carrier.address().port,
      ...CARRIER,
    });
    harness.smsc.setRoute('', 'carrier-1');
    await bound;
  }
  return harness;
}

export function messageRow(db: Db, id: string): Record<string, unknown> {
  return db.prepare('SELECT * FROM messages WHERE id = ?').get(id) as Record<string, unknown>;
}

/** Accepts a message submitted over the API by the test customer, as the gateway would hand it over. */
export function acceptApiMessage(
  h: SmscHarness,
  message: { sender: string; recipient: string; text: string; registeredDelivery: boolean },
): ReturnType<SmscHarness['smsc']['acceptMessage']> {
  return h.smsc.acceptMessage({ customerId: CUSTOMER, source: 'api', ...message });
}

/** Waits for the bus to announce a status for a message; a timeout shows the SMSC log. */
export async function statusOf(
  h: SmscHarness,
  messageId: string,
  status: string,
  timeoutMs = 2_000,
): Promise<void> {
  try {
    await h.statuses.waitFor((e) => e.messageId === messageId && e.status === status, {
      awaited: `message ${messageId} to become ${status}`,
      timeoutMs,
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}\nSMSC log (last 30 lines):\n${h.log.slice(-30).join('\n')}`);
  }
}

/** Re-checks a condition (for state with no event to wait on, e.g. a database column) until it holds or the time is up. */
export async function eventually(check: () => boolean, awaited: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${awaited}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
