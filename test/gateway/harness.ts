import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { embeddedDefaults, type PlatformConfig } from '../../platform/config';
import { PlatformBus } from '../../platform/bus';
import { openStore, nowIso, type Db } from '../../platform/store/store';
import {
  SmscRejection,
  type AcceptMessageInput,
  type AcceptedMessage,
  type ConnectorSettings,
  type ConnectorStatus,
  type SmscService,
} from '../../platform/smsc/service';
import { startGateway, type GatewayOptions } from '../../platform/gateway';
import type { RoleDeps } from '../../platform/role';
import type { LiveCallControl } from '../../platform/contracts';
import { createCoreServices, type CoreServices } from '../../platform/core/services';
import { PeerAllowlist } from '../../platform/core/peers';
import { startWebhookDispatcher } from '../../platform/core/webhooks';
import { PlatformApi } from '../../world/http/api-client';

/** API tests run without a SIP edge: no call is ever live. */
const NO_LIVE_CALLS: LiveCallControl = {
  list: () => [],
  hangup: () => false,
  setHeld: () => undefined,
  transfer: () => Promise.resolve('no-such-call'),
};

/**
 * A stand-in SMSC for API tests: persists accepted messages like the real one (so GET works)
 * and lets a test move a message through its statuses, announcing each on the bus.
 */
export class FakeSmsc implements SmscService {
  readonly routes = new Map<string, string>();
  private readonly connectorList = new Map<string, ConnectorStatus>();

  constructor(
    private readonly db: Db,
    private readonly bus: PlatformBus,
  ) {}

  acceptMessage(input: AcceptMessageInput): AcceptedMessage {
    if (!/^\+?\d{3,15}$/.test(input.recipient))
      throw new SmscRejection('invalid-recipient', `recipient ${input.recipient} is not a phone number`);
    if (input.text === '') throw new SmscRejection('invalid-text', 'text is empty');
    const accepted: AcceptedMessage = {
      id: `msg_${randomBytes(6).toString('hex')}`,
      status: 'queued',
      encoding: 'gsm7',
      parts: 1,
      acceptedAt: nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO messages (id, customer_id, source, sender, recipient, text, encoding, parts, status, carrier_message_ids, registered_delivery, accepted_at)
         VALUES (?, ?, ?, ?, ?, ?, 'gsm7', 1, 'queued', '[]', ?, ?)`,
      )
      .run(
        accepted.id,
        input.customerId,
        input.source,
        input.sender,
        input.recipient,
        input.text,
        input.registeredDelivery ? 1 : 0,
        accepted.acceptedAt,
      );
    return accepted;
  }

  /** What the real SMSC does when the carrier answers: update the row, then tell the bus. */
  setStatus(messageId: string, status: 'sent' | 'delivered' | 'undeliverable'): void {
    const row = this.db.prepare('SELECT customer_id FROM messages WHERE id = ?').get(messageId) as {
      customer_id: string;
    };
    const column = status === 'sent' ? 'sent_at' : 'done_at';
    this.db
      .prepare(`UPDATE messages SET status = ?, ${column} = ? WHERE id = ?`)
      .run(status, nowIso(), messageId);
    this.bus.emit('message.status', { messageId, customerId: row.customer_id, status });
  }

  upsertConnector(connector: ConnectorSettings): void {
    this.connectorList.set(connector.id, {
      id: connector.id,
      host: connector.host,
      port: connector.port,
      systemId: connector.systemId,
      state: 'connecting',
      lastError: null,
    });
  }

  setRoute(prefix: string, connectorId: string): void {
    this.routes.set(prefix, connectorId);
  }

  removeRoute(prefix: string): boolean {
    return this.routes.delete(prefix);
  }

  removeConnector(id: string): Promise<boolean> {
    if (!this.connectorList.delete(id)) return Promise.resolve(false);
    for (const [prefix, connectorId] of this.routes) if (connectorId === id) this.routes.delete(prefix);
    return Promise.resolve(true);
  }

  connectors(): ConnectorStatus[] {
    return [...this.connectorList.values()];
  }
}

export interface TestPlatformOptions extends GatewayOptions {
  /** Start the webhook dispatcher beside the API (default true; tests of the dispatcher start their own). */
  webhooks?: boolean;
}

export interface TestPlatform {
  apiUrl: string;
  adminApiKey: string;
  config: PlatformConfig;
  db: Db;
  bus: PlatformBus;
  smsc: FakeSmsc;
  /** The services the gateway was handed: a second gateway node can be started over them. */
  core: CoreServices;
  logs: string[];
  deps: RoleDeps;
  stop(): Promise<void>;
}

/** The gateway on an ephemeral port over a fresh SQLite file, with the operator's key in api_keys. */
export async function startTestPlatform(
  overrides: { webhooks?: Partial<PlatformConfig['webhooks']>; api?: Partial<PlatformConfig['api']> } = {},
  options: TestPlatformOptions = {},
): Promise<TestPlatform> {
  const dir = mkdtempSync(join(tmpdir(), 'phase2-gateway-'));
  const adminApiKey = `admin-${randomBytes(12).toString('hex')}`;
  const base = embeddedDefaults({ storeFile: join(dir, 'platform.db'), adminApiKey });
  const config: PlatformConfig = {
    ...base,
    webhooks: { ...base.webhooks, ...overrides.webhooks },
    api: { ...base.api, ...overrides.api },
  };
  const db = openStore(config.store.file);
  const bus = new PlatformBus();
  const logs: string[] = [];
  const deps: RoleDeps = { config, db, bus, log: (role, message) => logs.push(`[${role}] ${message}`) };
  const smsc = new FakeSmsc(db, bus);
  const core = createCoreServices({
    db,
    smsc,
    sipDomain: config.sip.domain,
    peers: new PeerAllowlist(config.network.allowedPeerHosts),
    calls: NO_LIVE_CALLS,
    campaigns: config.campaigns,
    bus,
    spam: config.security.spam,
    limits: config.security.limits,
  });
  const gateway = await startGateway(deps, core, options);
  // As platform/index.ts wires it, unless the test starts (and restarts) its own dispatcher.
  const dispatcher = options.webhooks === false ? undefined : startWebhookDispatcher(deps);
  return {
    apiUrl: gateway.endpoints.apiUrl,
    adminApiKey,
    config,
    db,
    bus,
    smsc,
    core,
    logs,
    deps,
    async stop() {
      await dispatcher?.stop();
      await gateway.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The operator's API client for a test platform. */
export function operatorApi(platform: TestPlatform): PlatformApi {
  return new PlatformApi({ baseUrl: platform.apiUrl, apiKey: platform.adminApiKey, actor: 'operator' });
}

/** A new customer of the given tier and its API client. */
export async function newCustomerApi(
  platform: TestPlatform,
  namePrefix: string,
  tier = 'api-only',
): Promise<PlatformApi> {
  const created = await operatorApi(platform).createCustomer({
    name: `${namePrefix} ${randomBytes(3).toString('hex')}`,
    tier,
  });
  return new PlatformApi({ baseUrl: platform.apiUrl, apiKey: created.apiKey, actor: created.name });
}
