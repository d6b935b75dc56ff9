/**
 * Trunks and routing: a customer's SIP trunks to the outside network (where, which destinations,
 * which caller ID) and the routing rules that send a number prefix over one of them.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ConflictError } from '../errors';
import { InputReader } from '../input';
import { E164 } from '../phone-numbers';
import type { PeerAllowlist } from './peers';
import {
  ownRow,
  routingRuleResource,
  trunkResource,
  type RoutingRuleResource,
  type TrunkResource,
} from './resources';
import type { RoutingRuleRow, TrunkRow } from '../store/rows';
import { E164_HINT, PREFIX, PREFIX_HINT, readPeerAddress } from './validation';
import { ownsNumber } from './numbers';

const PRESENTATIONS = ['allowed', 'withheld'] as const;

export class TrunkServices {
  constructor(
    private readonly db: Db,
    /** Where trunks may point: the platform sends calls there. */
    private readonly peers: PeerAllowlist,
  ) {}

  createTrunk(customerId: string, body: unknown): TrunkResource {
    const input = new InputReader(body, [
      'name',
      'host',
      'port',
      'transport',
      'destinationPrefixes',
      'callerId',
      'callerIdPresentation',
    ]);
    const name = input.string('name', { maxLength: 200 });
    const { host, port } = readPeerAddress(input, this.peers);
    input.oneOf('transport', ['udp'] as const);
    const destinationPrefixes = input.stringArray('destinationPrefixes', {
      optional: true,
      pattern: PREFIX,
      patternHint: PREFIX_HINT,
    });
    const callerId = input.optionalString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (callerId !== undefined && !ownsNumber(this.db, customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const presentation = input.optionalOneOf('callerIdPresentation', PRESENTATIONS) ?? 'allowed';
    input.done();

    const row: TrunkRow = {
      id: `trk_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name,
      host,
      port,
      transport: 'udp',
      destination_prefixes: JSON.stringify(destinationPrefixes),
      caller_id: callerId ?? null,
      caller_id_presentation: presentation,
      created_at: nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO trunks (id, customer_id, name, host, port, transport, destination_prefixes, caller_id, caller_id_presentation, created_at)
         VALUES (@id, @customer_id, @name, @host, @port, @transport, @destination_prefixes, @caller_id, @caller_id_presentation, @created_at)`,
      )
      .run(row);
    return trunkResource(row);
  }

  /** Changes the routing and caller-ID settings sent; callerId null goes back to the caller's own number. */
  updateTrunk(customerId: string, id: string, body: unknown): TrunkResource {
    const row = this.trunkRow(customerId, id);
    const input = new InputReader(body, ['name', 'destinationPrefixes', 'callerId', 'callerIdPresentation']);
    const name = input.optionalString('name', { maxLength: 200 });
    const prefixes = input.has('destinationPrefixes')
      ? input.stringArray('destinationPrefixes', { pattern: PREFIX, patternHint: PREFIX_HINT })
      : undefined;
    const callerId = input.nullableString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (typeof callerId === 'string' && !ownsNumber(this.db, customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const presentation = input.optionalOneOf('callerIdPresentation', PRESENTATIONS);
    input.done();
    const updated: TrunkRow = {
      ...row,
      name: name ?? row.name,
      destination_prefixes: prefixes === undefined ? row.destination_prefixes : JSON.stringify(prefixes),
      caller_id: callerId === undefined ? row.caller_id : callerId,
      caller_id_presentation: presentation ?? row.caller_id_presentation,
    };
    this.db
      .prepare(
        `UPDATE trunks SET name = @name, destination_prefixes = @destination_prefixes, caller_id = @caller_id,
           caller_id_presentation = @caller_id_presentation WHERE id = @id`,
      )
      .run(updated);
    return trunkResource(updated);
  }

  private trunkRow(customerId: string, id: string): TrunkRow {
    return ownRow<TrunkRow>(this.db, { table: 'trunks', key: 'id', what: 'trunk' }, customerId, id);
  }

  listTrunks(customerId: string): TrunkResource[] {
    const rows = this.db
      .prepare('SELECT * FROM trunks WHERE customer_id = ? ORDER BY created_at, id')
      .all(customerId) as TrunkRow[];
    return rows.map(trunkResource);
  }

  getTrunk(customerId: string, id: string): TrunkResource {
    return trunkResource(this.trunkRow(customerId, id));
  }

  // ---- routing rules ----

  createRoutingRule(customerId: string, body: unknown): RoutingRuleResource {
    const { prefix, trunkId } = this.readRoutingRule(customerId, body);
    const now = nowIso();
    const row: RoutingRuleRow = {
      id: `rr_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      prefix,
      trunk_id: trunkId,
      created_at: now,
      updated_at: now,
    };
    this.refuseDuplicatePrefix(customerId, prefix, row.id);
    this.db
      .prepare(
        `INSERT INTO routing_rules (id, customer_id, prefix, trunk_id, created_at, updated_at)
         VALUES (@id, @customer_id, @prefix, @trunk_id, @created_at, @updated_at)`,
      )
      .run(row);
    return routingRuleResource(row);
  }

  listRoutingRules(customerId: string): RoutingRuleResource[] {
    const rows = this.db
      .prepare('SELECT * FROM routing_rules WHERE customer_id = ? ORDER BY prefix')
      .all(customerId) as RoutingRuleRow[];
    return rows.map(routingRuleResource);
  }

  /** Replaces a rule in one statement: the next call routes by the new rule, never by neither. */
  replaceRoutingRule(customerId: string, id: string, body: unknown): RoutingRuleResource {
    const row = this.routingRuleRow(customerId, id);
    const { prefix, trunkId } = this.readRoutingRule(customerId, body);
    this.refuseDuplicatePrefix(customerId, prefix, id);
    const updated: RoutingRuleRow = { ...row, prefix, trunk_id: trunkId, updated_at: nowIso() };
    this.db
      .prepare(
        'UPDATE routing_rules SET prefix = @prefix, trunk_id = @trunk_id, updated_at = @updated_at WHERE id = @id',
      )
      .run(updated);
    return routingRuleResource(updated);
  }

  deleteRoutingRule(customerId: string, id: string): void {
    this.routingRuleRow(customerId, id);
    this.db.prepare('DELETE FROM routing_rules WHERE id = ?').run(id);
  }

  private routingRuleRow(customerId: string, id: string): RoutingRuleRow {
    return ownRow<RoutingRuleRow>(
      this.db,
      { table: 'routing_rules', key: 'id', what: 'routing rule' },
      customerId,
      id,
    );
  }

  private readRoutingRule(customerId: string, body: unknown): { prefix: string; trunkId: string } {
    const input = new InputReader(body, ['prefix', 'trunkId']);
    const prefix = input.string('prefix', {
      pattern: /^\+[0-9]{1,15}$/,
      patternHint: 'must be an E.164 prefix: + and 1 to 15 digits, such as +44',
    });
    const trunkId = input.string('trunkId');
    if (
      trunkId &&
      !this.db.prepare('SELECT 1 FROM trunks WHERE id = ? AND customer_id = ?').get(trunkId, customerId)
    )
      input.fail('trunkId', `${trunkId} is not one of your trunks`);
    input.done();
    return { prefix, trunkId };
  }

  private refuseDuplicatePrefix(customerId: string, prefix: string, exceptId: string): void {
    const other = this.db
      .prepare('SELECT id FROM routing_rules WHERE customer_id = ? AND prefix = ? AND id <> ?')
      .get(customerId, prefix, exceptId) as { id: string } | undefined;
    if (other)
      throw new ConflictError(`routing rule ${other.id} already routes ${prefix}: change that rule instead`);
  }
}
