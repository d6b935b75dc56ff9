/**
 * SIP accounts: a customer's phones and staff (username, password, number) and their call
 * settings (mobile, missed-call texts, forwarding, caller ID, voicemail).
 */
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ConflictError, ValidationError } from '../errors';
import { InputReader } from '../input';
import { E164 } from '../phone-numbers';
import { ownRow, sipAccountResource, type SipAccountResource } from './resources';
import type { SipAccountRow } from '../store/rows';
import { E164_HINT, IDENTIFIER } from './validation';
import { ownsNumber } from './numbers';

/** Settings of a SIP account that can be given at creation and changed later. */
const ACCOUNT_SETTINGS = ['mobile', 'missedCallSms', 'forwardTo', 'callerId', 'voicemail'] as const;

export class SipAccountServices {
  constructor(
    private readonly db: Db,
    private readonly sipDomain: string,
  ) {}

  createSipAccount(customerId: string, body: unknown): SipAccountResource {
    const input = new InputReader(body, ['username', 'password', 'number', ...ACCOUNT_SETTINGS]);
    const username = input.string('username', {
      pattern: IDENTIFIER,
      patternHint: 'must be 1 to 64 letters, digits, dots, dashes or underscores',
    });
    input.string('password', { minLength: 8, maxLength: 128 });
    const number = input.string('number', { pattern: E164, patternHint: E164_HINT });
    if (number && !ownsNumber(this.db, customerId, number))
      input.fail('number', `${number} is not one of your numbers`);
    const settings = this.readAccountSettings(customerId, input);
    input.done();
    const password = (body as { password: string }).password;

    const taken = this.db.prepare('SELECT 1 FROM sip_accounts WHERE username = ?').get(username);
    if (taken) throw new ConflictError(`SIP username ${username} is already taken`);
    const row: SipAccountRow = {
      username,
      customer_id: customerId,
      password,
      number,
      mobile: settings.mobile ?? null,
      missed_call_sms: settings.missedCallSms ? 1 : 0,
      forward_to: settings.forwardTo ?? null,
      caller_id: settings.callerId ?? null,
      voicemail: settings.voicemail ? 1 : 0,
      created_at: nowIso(),
    };
    this.db
      .prepare(
        `INSERT INTO sip_accounts (username, customer_id, password, number, mobile, missed_call_sms, forward_to, caller_id, voicemail, created_at)
         VALUES (@username, @customer_id, @password, @number, @mobile, @missed_call_sms, @forward_to, @caller_id, @voicemail, @created_at)`,
      )
      .run(row);
    return sipAccountResource(row, this.sipDomain);
  }

  getSipAccount(customerId: string, username: string): SipAccountResource {
    return sipAccountResource(this.sipAccountRow(customerId, username), this.sipDomain);
  }

  /** Changes the settings sent; a setting sent as null is cleared. */
  updateSipAccount(customerId: string, username: string, body: unknown): SipAccountResource {
    const row = this.sipAccountRow(customerId, username);
    const input = new InputReader(body, ACCOUNT_SETTINGS);
    const settings = this.readAccountSettings(customerId, input);
    input.done();
    const updated: SipAccountRow = {
      ...row,
      mobile: settings.mobile === undefined ? row.mobile : settings.mobile,
      missed_call_sms:
        settings.missedCallSms === undefined ? row.missed_call_sms : settings.missedCallSms ? 1 : 0,
      forward_to: settings.forwardTo === undefined ? row.forward_to : settings.forwardTo,
      caller_id: settings.callerId === undefined ? row.caller_id : settings.callerId,
      voicemail: settings.voicemail === undefined ? row.voicemail : settings.voicemail ? 1 : 0,
    };
    if (updated.missed_call_sms === 1 && updated.mobile === null)
      throw new ValidationError([
        { field: 'missedCallSms', message: 'needs a mobile number to send the texts to: set mobile too' },
      ]);
    this.db
      .prepare(
        `UPDATE sip_accounts SET mobile = @mobile, missed_call_sms = @missed_call_sms, forward_to = @forward_to,
           caller_id = @caller_id, voicemail = @voicemail WHERE username = @username`,
      )
      .run(updated);
    return sipAccountResource(updated, this.sipDomain);
  }

  private sipAccountRow(customerId: string, username: string): SipAccountRow {
    return ownRow<SipAccountRow>(
      this.db,
      { table: 'sip_accounts', key: 'username', what: 'SIP account' },
      customerId,
      username,
    );
  }

  private readAccountSettings(
    customerId: string,
    input: InputReader,
  ): {
    mobile?: string | null;
    missedCallSms?: boolean;
    forwardTo?: string | null;
    callerId?: string | null;
    voicemail?: boolean;
  } {
    const mobile = input.nullableString('mobile', { pattern: E164, patternHint: E164_HINT });
    const missedCallSms = input.optionalBoolean('missedCallSms');
    if (missedCallSms === true && input.has('mobile') && mobile === null)
      input.fail('missedCallSms', 'needs a mobile number to send the texts to');
    const forwardTo = input.nullableString('forwardTo', { pattern: E164, patternHint: E164_HINT });
    const callerId = input.nullableString('callerId', { pattern: E164, patternHint: E164_HINT });
    if (typeof callerId === 'string' && !ownsNumber(this.db, customerId, callerId))
      input.fail('callerId', `${callerId} is not one of your numbers`);
    const voicemail = input.optionalBoolean('voicemail');
    return { mobile, missedCallSms, forwardTo, callerId, voicemail };
  }
}
