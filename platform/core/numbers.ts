/**
 * Numbers: assigning DIDs, toll-free, international numbers and short codes to a customer,
 * dedicating one to a voice service, and the ownership rules other resources check against
 * (a sender, a caller ID, a SIP account's number must be the customer's own).
 */
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ConflictError, NotFoundError } from '../errors';
import { InputReader } from '../input';
import { E164 } from '../phone-numbers';
import { NUMBER_KINDS, numberResource, type NumberResource } from './resources';
import type { NumberRow } from '../store/rows';
import { E164_HINT, IDENTIFIER } from './validation';

const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const VOICE_SERVICES = ['verification', 'callback'] as const;

/** Checks a sender (`from`) for a customer: the same rule for a single send and for a campaign. */
export type SenderCheck = (customerId: string, from: string) => string | undefined;

export class NumberServices {
  constructor(private readonly db: Db) {}

  addNumber(customerId: string, body: unknown): NumberResource {
    const input = new InputReader(body, ['number', 'kind']);
    const kind = input.oneOf('kind', NUMBER_KINDS);
    const number =
      kind === 'short-code'
        ? input.string('number', {
            pattern: SHORT_CODE,
            patternHint: 'must be a short code of 3 to 8 digits',
          })
        : input.string('number', { pattern: E164, patternHint: E164_HINT });
    input.done();

    const owner = this.db.prepare('SELECT customer_id FROM numbers WHERE e164 = ?').get(number) as
      { customer_id: string } | undefined;
    if (owner) throw new ConflictError(`number ${number} is already assigned`);
    const row: NumberRow = {
      e164: number,
      customer_id: customerId,
      kind,
      voice_service: null,
      callback_agent: null,
      code_ttl_seconds: null,
      created_at: nowIso(),
    };
    this.db
      .prepare('INSERT INTO numbers (e164, customer_id, kind, created_at) VALUES (?, ?, ?, ?)')
      .run(row.e164, row.customer_id, row.kind, row.created_at);
    return numberResource(row);
  }

  /**
   * Dedicates a number to a voice service: 'verification' (the verification line) or 'callback'
   * (texts of CALL ME get a call back from `agent`, one of the customer's SIP users); null gives
   * it back to its SIP account.
   */
  updateNumber(customerId: string, number: string, body: unknown): NumberResource {
    const row = this.db
      .prepare('SELECT * FROM numbers WHERE e164 = ? AND customer_id = ?')
      .get(number, customerId) as NumberRow | undefined;
    if (!row) throw new NotFoundError('number', number);
    const input = new InputReader(body, ['voiceService', 'agent', 'codeTtlSeconds']);
    const service = input.nullableOneOf('voiceService', VOICE_SERVICES);
    const agent = input.optionalString('agent', { pattern: IDENTIFIER });
    if (service === 'callback' && agent === undefined)
      input.fail('agent', 'is required for a callback number: the SIP username of the agent who calls back');
    if (agent !== undefined && service !== 'callback') input.fail('agent', 'is only for a callback number');
    const codeTtlSeconds = input.has('codeTtlSeconds') ? input.integer('codeTtlSeconds', 1, 3600) : null;
    if (codeTtlSeconds !== null && service !== 'verification')
      input.fail('codeTtlSeconds', 'is only for a verification line');
    if (
      agent !== undefined &&
      !this.db
        .prepare('SELECT 1 FROM sip_accounts WHERE username = ? AND customer_id = ?')
        .get(agent, customerId)
    )
      input.fail('agent', `${agent} is not one of your SIP users`);
    input.done();
    const updated: NumberRow = {
      ...row,
      voice_service: service,
      callback_agent: agent ?? null,
      code_ttl_seconds: codeTtlSeconds,
    };
    this.db
      .prepare(
        `UPDATE numbers SET voice_service = @voice_service, callback_agent = @callback_agent,
           code_ttl_seconds = @code_ttl_seconds WHERE e164 = @e164`,
      )
      .run(updated);
    return numberResource(updated);
  }

  listNumbers(customerId: string): NumberResource[] {
    const rows = this.db
      .prepare('SELECT * FROM numbers WHERE customer_id = ? ORDER BY created_at, e164')
      .all(customerId) as NumberRow[];
    return rows.map(numberResource);
  }

  /** Why `from` cannot be this customer's sender, or undefined: one of its numbers, or an alphanumeric sender id. */
  senderProblem(customerId: string, from: string): string | undefined {
    const looksNumeric = /^\+?\d+$/.test(from);
    if (looksNumeric && !ownsNumber(this.db, customerId, from)) return `${from} is not one of your numbers`;
    if (!looksNumeric && !ALPHANUMERIC_SENDER.test(from))
      return 'must be one of your numbers or an alphanumeric sender id (1 to 11 letters, digits or spaces, at least one letter)';
    return undefined;
  }
}

/** Whether `number` is one of this customer's numbers. */
export function ownsNumber(db: Db, customerId: string, number: string): boolean {
  return (
    db.prepare('SELECT 1 FROM numbers WHERE e164 = ? AND customer_id = ?').get(number, customerId) !==
    undefined
  );
}
