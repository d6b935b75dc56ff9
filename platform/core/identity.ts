/**
 * One identity across channels (TEST-INT-050): a customer the operator suspends is refused on
 * the API, at SMPP bind and in SIP digest auth until resumed; API keys rotate (the new key in,
 * the key rotated out refused at once) and may be read-only; webhook signing secrets rotate with
 * an overlap in which deliveries carry both signatures. Every channel reads the same rows on
 * each request (as Kong's key-auth and Kamailio's auth_db do with caching off), so a change
 * holds on every node as soon as it commits.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ConflictError, NotFoundError } from '../errors';
import { InputReader } from '../input';
import { customerResource, type CustomerResource } from './resources';
import type { CustomerRow } from '../store/rows';
import type { Caller } from './customers';

/** PlatformConfig.security.identity: surfaced in GET /ops/v1/settings. */
export interface IdentitySettings {
  /** After a signing-secret rotation, deliveries are signed with the old secret too for this long. */
  webhookSecretOverlapMs: number;
  /**
   * The longest a suspension or a rotated-out key takes to hold on every channel and node. The
   * embedded platform reads identity from the store on every request, so this is a promise kept
   * with margin, not a cache lifetime.
   */
  identityChangeEffectiveMs: number;
}

export const EMBEDDED_IDENTITY_SETTINGS: IdentitySettings = {
  webhookSecretOverlapMs: 3_000,
  identityChangeEffectiveMs: 1_000,
};

export const API_KEY_ACCESS = ['full', 'read-only'] as const;
export type ApiKeyAccess = (typeof API_KEY_ACCESS)[number];

/** What a key says about its holder: who, how far it may go, and whether the customer is suspended. */
export interface KeyIdentity {
  caller: Caller;
  access: ApiKeyAccess;
  suspended: boolean;
}

export interface IssuedApiKey {
  apiKey: string;
  access: ApiKeyAccess;
  createdAt: string;
}

export class IdentityServices {
  constructor(private readonly db: Db) {}

  /** Resolves an API key; undefined for an unknown (or rotated-out) key. */
  identify(key: string): KeyIdentity | undefined {
    const row = this.db
      .prepare(
        `SELECT k.customer_id, k.access, c.suspended_at FROM api_keys k
           LEFT JOIN customers c ON c.id = k.customer_id WHERE k.key = ?`,
      )
      .get(key) as { customer_id: string | null; access: string; suspended_at: string | null } | undefined;
    if (!row) return undefined;
    return {
      caller:
        row.customer_id === null ? { role: 'operator' } : { role: 'customer', customerId: row.customer_id },
      access: row.access === 'read-only' ? 'read-only' : 'full',
      suspended: row.suspended_at !== null,
    };
  }

  isSuspended(customerId: string): boolean {
    const row = this.db.prepare('SELECT suspended_at FROM customers WHERE id = ?').get(customerId) as
      { suspended_at: string | null } | undefined;
    return row !== undefined && row.suspended_at !== null;
  }

  /** The operator suspends a customer; suspending a suspended one is a conflict, not a no-op. */
  suspend(customerId: string): CustomerResource {
    const row = this.customerRow(customerId);
    if (row.suspended_at !== null) throw new ConflictError(`customer ${customerId} is already suspended`);
    this.db.prepare('UPDATE customers SET suspended_at = ? WHERE id = ?').run(nowIso(), customerId);
    return customerResource(this.customerRow(customerId));
  }

  resume(customerId: string): CustomerResource {
    const row = this.customerRow(customerId);
    if (row.suspended_at === null) throw new ConflictError(`customer ${customerId} is not suspended`);
    this.db.prepare('UPDATE customers SET suspended_at = NULL WHERE id = ?').run(customerId);
    return customerResource(this.customerRow(customerId));
  }

  /** A further key for the customer, e.g. a read-only one for a reporting tool. */
  issueKey(customerId: string, body: unknown): IssuedApiKey {
    const input = new InputReader(body ?? {}, ['access']);
    const access = input.optionalOneOf('access', API_KEY_ACCESS) ?? 'full';
    input.done();
    return this.insertKey(customerId, access);
  }

  /**
   * Replaces the key the request came with by a new one of the same access: the old key is
   * refused from the moment this commits (a leaked key stops working at once).
   */
  rotateKey(customerId: string, currentKey: string): IssuedApiKey {
    return this.db.transaction(() => {
      const row = this.db
        .prepare('SELECT access FROM api_keys WHERE key = ? AND customer_id = ?')
        .get(currentKey, customerId) as { access: ApiKeyAccess } | undefined;
      if (!row) throw new NotFoundError('api key', 'the key this request was sent with');
      this.db.prepare('DELETE FROM api_keys WHERE key = ?').run(currentKey);
      return this.insertKey(customerId, row.access);
    })();
  }

  private insertKey(customerId: string, access: ApiKeyAccess): IssuedApiKey {
    const issued = { apiKey: randomBytes(24).toString('hex'), access, createdAt: nowIso() };
    this.db
      .prepare('INSERT INTO api_keys (key, customer_id, access, created_at) VALUES (?, ?, ?, ?)')
      .run(issued.apiKey, customerId, access, issued.createdAt);
    return issued;
  }

  private customerRow(customerId: string): CustomerRow {
    const row = this.db.prepare('SELECT * FROM customers WHERE id = ?').get(customerId) as
      CustomerRow | undefined;
    if (!row) throw new NotFoundError('customer', customerId);
    return row;
  }
}
