/**
 * Call records: CDRs (filtered, paged newest first by a cursor), the voicemails left and the
 * verification calls made, as the API reads them.
 */
import type { Db } from '../store/store';
import { NotFoundError, ValidationError, type FieldError } from '../errors';
import { queryTime } from '../input';
import {
  cdrResource,
  findCdr,
  verificationResource,
  voicemailResource,
  type CdrResource,
  type VerificationResource,
  type VoicemailResource,
} from './resources';
import type { CdrRow, VerificationRow, VoicemailRow } from '../store/rows';

export interface CdrFilter {
  sipCallId?: string;
  caller?: string;
  callee?: string;
  disposition?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: { startedAt: string; id: string };
}

const DISPOSITIONS = ['answered', 'no-answer', 'busy', 'failed', 'cancelled'] as const;
export const MAX_CDR_PAGE = 500;
const DEFAULT_CDR_PAGE = 50;

export class CallRecordServices {
  constructor(private readonly db: Db) {}

  /** Reads CDR filters from a query string; bad values are a 422 naming the parameter. */
  parseCdrFilter(query: URLSearchParams): CdrFilter {
    const errors: FieldError[] = [];
    const text = (name: string): string | undefined => query.get(name) ?? undefined;
    const filter: CdrFilter = {
      sipCallId: text('sipCallId'),
      caller: text('caller'),
      callee: text('callee'),
      disposition: text('disposition'),
      since: queryTime(query, 'since', errors),
      until: queryTime(query, 'until', errors),
      limit: DEFAULT_CDR_PAGE,
    };
    if (
      filter.disposition !== undefined &&
      !(DISPOSITIONS as readonly string[]).includes(filter.disposition)
    ) {
      errors.push({ field: 'disposition', message: `must be one of: ${DISPOSITIONS.join(', ')}` });
    }
    const limit = query.get('limit');
    if (limit !== null) {
      const value = Number(limit);
      if (!/^\d+$/.test(limit) || value < 1 || value > MAX_CDR_PAGE) {
        errors.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_CDR_PAGE}` });
      } else {
        filter.limit = value;
      }
    }
    const cursor = query.get('cursor');
    if (cursor !== null) {
      filter.cursor = decodeCursor(cursor);
      if (!filter.cursor) errors.push({ field: 'cursor', message: 'is not a cursor this API returned' });
    }
    if (errors.length > 0) throw new ValidationError(errors);
    return filter;
  }

  /** Newest first; the cursor is the (startedAt, id) of the last row returned, so pages never skip or repeat. */
  listCdrs(customerId: string, filter: CdrFilter): { items: CdrResource[]; nextCursor: string | null } {
    const where = ['customer_id = @customerId'];
    const params: Record<string, string | number> = { customerId, limit: filter.limit + 1 };
    const equal = (column: string, name: keyof CdrFilter): void => {
      const value = filter[name];
      if (typeof value === 'string') {
        where.push(`${column} = @${name}`);
        params[name] = value;
      }
    };
    equal('sip_call_id', 'sipCallId');
    equal('caller', 'caller');
    equal('callee', 'callee');
    equal('disposition', 'disposition');
    if (filter.since) {
      where.push('started_at >= @since');
      params.since = filter.since;
    }
    if (filter.until) {
      where.push('started_at < @until');
      params.until = filter.until;
    }
    if (filter.cursor) {
      where.push('(started_at < @cursorAt OR (started_at = @cursorAt AND id < @cursorId))');
      params.cursorAt = filter.cursor.startedAt;
      params.cursorId = filter.cursor.id;
    }
    const rows = this.db
      .prepare(
        `SELECT * FROM cdrs WHERE ${where.join(' AND ')} ORDER BY started_at DESC, id DESC LIMIT @limit`,
      )
      .all(params) as CdrRow[];
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > filter.limit && last ? encodeCursor({ startedAt: last.started_at, id: last.id }) : null;
    return { items: page.map(cdrResource), nextCursor };
  }

  getCdr(customerId: string, id: string): CdrResource {
    const cdr = findCdr(this.db, customerId, id);
    if (!cdr) throw new NotFoundError('call record', id);
    return cdr;
  }

  listVoicemails(customerId: string, query: URLSearchParams): VoicemailResource[] {
    const mailbox = query.get('mailbox');
    const rows = this.db
      .prepare(
        `SELECT id, customer_id, mailbox, caller, sip_call_id, received_at, duration_ms, transcript, transcription_status
         FROM voicemails WHERE customer_id = ? AND (? IS NULL OR mailbox = ?) ORDER BY received_at DESC, id DESC LIMIT 500`,
      )
      .all(customerId, mailbox, mailbox) as VoicemailRow[];
    return rows.map(voicemailResource);
  }

  getVoicemail(customerId: string, id: string): VoicemailResource {
    const found = this.voicemailRow(customerId, id);
    if (!found) throw new NotFoundError('voicemail', id);
    return voicemailResource(found);
  }

  private voicemailRow(customerId: string, id: string): VoicemailRow | undefined {
    return this.db
      .prepare(
        `SELECT id, customer_id, mailbox, caller, sip_call_id, received_at, duration_ms, transcript, transcription_status
         FROM voicemails WHERE customer_id = ? AND id = ?`,
      )
      .get(customerId, id) as VoicemailRow | undefined;
  }

  listVerifications(customerId: string, query: URLSearchParams): VerificationResource[] {
    const phone = query.get('phone');
    const rows = this.db
      .prepare(
        'SELECT * FROM verifications WHERE customer_id = ? AND (? IS NULL OR phone = ?) ORDER BY created_at DESC, id DESC LIMIT 500',
      )
      .all(customerId, phone, phone) as VerificationRow[];
    return rows.map((row) => verificationResource(row));
  }

  getVerification(customerId: string, id: string): VerificationResource {
    const row = this.db
      .prepare('SELECT * FROM verifications WHERE customer_id = ? AND id = ?')
      .get(customerId, id) as VerificationRow | undefined;
    if (!row) throw new NotFoundError('verification', id);
    return verificationResource(row);
  }
}

function encodeCursor(position: { startedAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([position.startedAt, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): { startedAt: string; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
    ) {
      return { startedAt: value[0], id: value[1] };
    }
  } catch {
    // Not base64url JSON: reported to the caller as an invalid cursor below.
  }
  return undefined;
}
