/**
 * Customers: creating one (with its API key and SMPP credentials), reading it, and resolving an
 * API key to the caller it belongs to. Who may see which customer is decided here.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { NotFoundError } from '../errors';
import { InputReader } from '../input';
import { CUSTOMER_TIERS, customerResource, type CustomerResource } from './resources';
import type { CustomerRow } from '../store/rows';

/** Who is asking: the operator (admin key) or one customer (its own key). */
export type Caller = { role: 'operator' } | { role: 'customer'; customerId: string };

export interface CreatedCustomer extends CustomerResource {
  apiKey: string;
  smpp: { systemId: string; password: string };
}

export class CustomerServices {
  constructor(private readonly db: Db) {}

  createCustomer(body: unknown): CreatedCustomer {
    const input = new InputReader(body, ['name', 'tier']);
    const name = input.string('name', { maxLength: 200 });
    const tier = input.oneOf('tier', CUSTOMER_TIERS);
    input.done();

    const customer: CustomerResource = {
      id: `cus_${randomBytes(8).toString('hex')}`,
      name,
      tier,
      createdAt: nowIso(),
      status: 'active',
    };
    const apiKey = randomBytes(24).toString('hex');
    // SMPP limits: system_id ≤ 15 octets, password ≤ 8 octets.
    const smpp = {
      systemId: `esme${randomBytes(5).toString('hex')}`,
      password: randomBytes(6).toString('base64url'),
    };
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)')
        .run(customer.id, name, tier, customer.createdAt);
      this.db
        .prepare('INSERT INTO api_keys (key, customer_id, created_at) VALUES (?, ?, ?)')
        .run(apiKey, customer.id, customer.createdAt);
      this.db
        .prepare(
          'INSERT INTO smpp_accounts (system_id, customer_id, password, throughput_per_second) VALUES (?, ?, ?, NULL)',
        )
        .run(smpp.systemId, customer.id, smpp.password);
    })();
    return { ...customer, apiKey, smpp };
  }

  /** The operator sees every customer; a customer sees only itself (others are "not found", never "forbidden"). */
  getCustomer(caller: Caller, id: string): CustomerResource {
    if (caller.role === 'customer' && caller.customerId !== id) throw new NotFoundError('customer', id);
    const row = this.db.prepare('SELECT * FROM customers WHERE id = ?').get(id) as CustomerRow | undefined;
    if (!row) throw new NotFoundError('customer', id);
    return customerResource(row);
  }

  /** Resolves an API key to its caller; undefined for an unknown key. */
  callerForKey(key: string): Caller | undefined {
    const row = this.db.prepare('SELECT customer_id FROM api_keys WHERE key = ?').get(key) as
      { customer_id: string | null } | undefined;
    if (!row) return undefined;
    return row.customer_id === null
      ? { role: 'operator' }
      : { role: 'customer', customerId: row.customer_id };
  }
}
