/**
 * Opt-outs as an API resource: a customer lists the numbers that opted out, records one it
 * received another way, or removes one. The STOP/START keywords live in opt-outs.ts.
 */
import type { Db } from '../store/store';
import { NotFoundError } from '../errors';
import { InputReader } from '../input';
import { E164 } from '../phone-numbers';
import { recordOptOut, removeOptOut } from './opt-outs';

export interface OptOutResource {
  number: string;
  source: 'sms' | 'api';
  createdAt: string;
}

export class OptOutServices {
  constructor(private readonly db: Db) {}

  listOptOuts(customerId: string): OptOutResource[] {
    const rows = this.db
      .prepare(
        'SELECT number, source, created_at FROM opt_outs WHERE customer_id = ? ORDER BY created_at, number',
      )
      .all(customerId) as Array<{ number: string; source: 'sms' | 'api'; created_at: string }>;
    return rows.map((r) => ({ number: r.number, source: r.source, createdAt: r.created_at }));
  }

  /** Records an opt-out the customer received another way; an existing one is kept as it was. */
  addOptOut(customerId: string, body: unknown): { created: boolean; optOut: OptOutResource } {
    const input = new InputReader(body, ['number']);
    const number = input.string('number', {
      pattern: E164,
      patternHint: 'must be an E.164 number: + and 8 to 15 digits, such as +447700900123',
    });
    input.done();
    const created = recordOptOut(this.db, customerId, number, 'api');
    const row = this.db
      .prepare('SELECT source, created_at FROM opt_outs WHERE customer_id = ? AND number = ?')
      .get(customerId, number) as { source: 'sms' | 'api'; created_at: string } | undefined;
    if (!row) throw new Error(`opt-out of ${number} was not readable right after it was recorded`);
    return { created, optOut: { number, source: row.source, createdAt: row.created_at } };
  }

  deleteOptOut(customerId: string, number: string): void {
    if (!removeOptOut(this.db, customerId, number)) throw new NotFoundError('opt-out', number);
  }
}
