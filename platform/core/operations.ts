/**
 * Operator-only settings: a customer's SMPP throughput, and the SMSC's connectors to carriers
 * and its routes by number prefix (changed through the smsc role's entry point only).
 */
import type { Db } from '../store/store';
import { NotFoundError } from '../errors';
import { InputReader } from '../input';
import { smscCounters, type ConnectorStatus, type SmscService } from '../smsc';
import type { PeerAllowlist } from './peers';
import { IDENTIFIER, readPeerAddress } from './validation';

export class OperationServices {
  constructor(
    private readonly db: Db,
    private readonly smsc: SmscService,
    /** Where connectors may point: the platform binds there. */
    private readonly peers: PeerAllowlist,
  ) {}

  /** Jasmin's per-user throughput: above it, submit_sm is refused with ESME_RTHROTTLED (read at bind). */
  setSmppThroughput(customerId: string, body: unknown): { customerId: string; perSecond: number | null } {
    if (!this.db.prepare('SELECT 1 FROM customers WHERE id = ?').get(customerId))
      throw new NotFoundError('customer', customerId);
    const input = new InputReader(body, ['perSecond']);
    const perSecond =
      (body as Record<string, unknown>).perSecond === null ? null : input.integer('perSecond', 1, 100_000);
    input.done();
    this.db
      .prepare('UPDATE smpp_accounts SET throughput_per_second = ? WHERE customer_id = ?')
      .run(perSecond, customerId);
    return { customerId, perSecond };
  }

  putConnector(id: string, body: unknown): ConnectorStatus {
    const input = new InputReader(body, ['host', 'port', 'systemId', 'password']);
    if (!IDENTIFIER.test(id))
      input.fail('id', 'must be 1 to 64 letters, digits, dots, dashes or underscores');
    const { host, port } = readPeerAddress(input, this.peers);
    const systemId = input.string('systemId', { maxLength: 15 });
    const password = input.string('password', { minLength: 0, maxLength: 8 });
    input.done();

    this.smsc.upsertConnector({ id, host, port, systemId, password });
    const status = this.smsc.connectors().find((c) => c.id === id);
    if (!status) throw new Error(`the SMSC did not list connector ${id} right after it was upserted`);
    return status;
  }

  listConnectors(): ConnectorStatus[] {
    return this.smsc.connectors();
  }

  /** Read from the store: any node may answer, also after the SMSC's node died. */
  smscCounters(): { resentInFlight: number } {
    return smscCounters(this.db);
  }

  /** Unbinds and forgets a connector and its routes; its queued messages wait for another route. */
  async deleteConnector(id: string): Promise<void> {
    if (!(await this.smsc.removeConnector(id))) throw new NotFoundError('connector', id);
  }

  /** Removes the route with exactly this prefix. */
  deleteRoute(prefix: string): void {
    if (!this.smsc.removeRoute(prefix)) throw new NotFoundError('route', prefix);
  }

  putRoute(body: unknown): { prefix: string; connectorId: string } {
    const input = new InputReader(body, ['prefix', 'connectorId']);
    const prefix = input.string('prefix', {
      minLength: 0,
      pattern: /^\+?\d{0,15}$/,
      patternHint: "must be a number prefix (an optional + and up to 15 digits), or '' for the default route",
    });
    const connectorId = input.string('connectorId');
    if (connectorId && !this.smsc.connectors().some((c) => c.id === connectorId))
      input.fail('connectorId', `no connector ${connectorId}: create it first`);
    input.done();
    this.smsc.setRoute(prefix, connectorId);
    return { prefix, connectorId };
  }
}
