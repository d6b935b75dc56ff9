/**
 * The audit trail (TEST-INT-054): who did what, when, from where, with which request, before and
 * after — secrets never. Append-only and tamper-evident: each entry's hash covers the previous
 * entry's hash and its own canonical content, so editing or deleting a stored entry breaks the
 * chain from there on (verifyAuditChain finds the first broken entry).
 * Every part of the platform records through `recordAudit`; nothing else writes audit_events.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { ValidationError, type FieldError } from '../errors';

export type AuditActorKind = 'customer' | 'operator' | 'platform' | 'anonymous';
export type AuditChannel = 'api' | 'ops' | 'sip' | 'smpp' | 'platform';

export interface AuditEntry {
  actor: { kind: AuditActorKind; id: string | null };
  /** Whose trail it belongs to (the customer reads it); null: the operator's trail only. */
  customerId: string | null;
  channel: AuditChannel;
  /** What happened, dotted: `sip-account.created`, `api-key.rotated`, `auth.failed`, `fraud.blocked`, `spam.blocked`. */
  action: string;
  /** What it happened to: a resource path or id, a SIP account, a number. */
  target: string | null;
  sourceAddress: string | null;
  requestId: string | null;
  /** before / after / reason; callers redact secrets (passwords, keys, signing secrets) first. */
  detail: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  id: string;
  at: string;
  prevHash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

/** The hash of an entry: the previous hash and the entry's fields in a fixed order. */
export function auditHash(prevHash: string, record: Omit<AuditRecord, 'seq' | 'hash' | 'prevHash'>): string {
  const canonical = JSON.stringify([
    record.id,
    record.at,
    record.actor.kind,
    record.actor.id,
    record.customerId,
    record.channel,
    record.action,
    record.target,
    record.sourceAddress,
    record.requestId,
    record.detail,
  ]);
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

/** Appends an entry (one transaction: read the chain's head, write the next link). */
export function recordAudit(db: Db, entry: AuditEntry, now: Date = new Date()): AuditRecord {
  const append = db.transaction((): AuditRecord => {
    const head = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    const prevHash = head?.hash ?? GENESIS;
    const base = { ...entry, id: `aud_${randomBytes(8).toString('hex')}`, at: now.toISOString() };
    const hash = auditHash(prevHash, base);
    const info = db
      .prepare(
        `INSERT INTO audit_events (id, at, actor_kind, actor_id, customer_id, channel, action, target,
           source_address, request_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        base.id,
        base.at,
        entry.actor.kind,
        entry.actor.id,
        entry.customerId,
        entry.channel,
        entry.action,
        entry.target,
        entry.sourceAddress,
        entry.requestId,
        JSON.stringify(entry.detail),
        prevHash,
        hash,
      );
    return { ...base, seq: Number(info.lastInsertRowid), prevHash, hash };
  });
  return append.immediate();
}

interface AuditRow {
  seq: number;
  id: string;
  at: string;
  actor_kind: AuditActorKind;
  actor_id: string | null;
  customer_id: string | null;
  channel: AuditChannel;
  action: string;
  target: string | null;
  source_address: string | null;
  request_id: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

function recordOf(row: AuditRow): AuditRecord {
  let detail: Record<string, unknown>;
  try {
    detail = JSON.parse(row.detail) as Record<string, unknown>;
  } catch {
    // A row edited behind the platform's back may not even be JSON: shown as found, flagged by verify.
    detail = { unreadable: row.detail };
  }
  return {
    seq: row.seq,
    id: row.id,
    at: row.at,
    actor: { kind: row.actor_kind, id: row.actor_id },
    customerId: row.customer_id,
    channel: row.channel,
    action: row.action,
    target: row.target,
    sourceAddress: row.source_address,
    requestId: row.request_id,
    detail,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface AuditFilter {
  /** Only this customer's trail (a customer's own reads always set it). */
  customerId?: string;
  action?: string;
  /** Entries of any of these requests (the query may repeat `requestId`). */
  requestIds?: string[];
  since?: string;
  until?: string;
  limit: number;
  /** The seq of the last entry of the previous page. */
  cursor?: number;
}

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 500;

/** The list filters from a query string (`action`, `requestId`, `since`, `until`, `limit`, `cursor`; `customerId` for the operator). */
export function parseAuditFilter(query: URLSearchParams, allowCustomerFilter: boolean): AuditFilter {
  const errors: FieldError[] = [];
  const text = (name: string): string | undefined => query.get(name) ?? undefined;
  const filter: AuditFilter = {
    action: text('action'),
    limit: DEFAULT_AUDIT_PAGE,
  };
  const requestIds = query.getAll('requestId');
  if (requestIds.length > MAX_AUDIT_PAGE)
    errors.push({ field: 'requestId', message: `at most ${MAX_AUDIT_PAGE} request ids at once` });
  else if (requestIds.length > 0) filter.requestIds = requestIds;
  if (allowCustomerFilter) filter.customerId = text('customerId');
  else if (query.has('customerId'))
    errors.push({ field: 'customerId', message: 'a customer reads its own trail only' });
  for (const name of ['since', 'until'] as const) {
    const value = query.get(name);
    if (value === null) continue;
    if (Number.isNaN(Date.parse(value))) errors.push({ field: name, message: 'must be an ISO 8601 time' });
    else filter[name] = new Date(value).toISOString();
  }
  const limit = query.get('limit');
  if (limit !== null) {
    const value = Number(limit);
    if (!/^\d+$/.test(limit) || value < 1 || value > MAX_AUDIT_PAGE)
      errors.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_AUDIT_PAGE}` });
    else filter.limit = value;
  }
  const cursor = query.get('cursor');
  if (cursor !== null) {
    const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Number.isSafeInteger(seq) || seq < 1)
      errors.push({ field: 'cursor', message: 'is not a cursor this API returned' });
    else filter.cursor = seq;
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return filter;
}

/** Newest first, paged by seq (a page never skips or repeats an entry appended meanwhile). */
export function listAuditEvents(
  db: Db,
  filter: AuditFilter,
): { items: AuditRecord[]; nextCursor: string | null } {
  const where: string[] = ['1 = 1'];
  const params: Record<string, string | number> = { limit: filter.limit + 1 };
  const equal = { customerId: 'customer_id', action: 'action' } as const;
  for (const [field, column] of Object.entries(equal) as [keyof typeof equal, string][]) {
    const value = filter[field];
    if (value === undefined) continue;
    where.push(`${column} = @${field}`);
    params[field] = value;
  }
  if (filter.requestIds !== undefined) {
    const names = filter.requestIds.map((id, i) => {
      params[`requestId${i}`] = id;
      return `@requestId${i}`;
    });
    where.push(`request_id IN (${names.join(', ')})`);
  }
  if (filter.since !== undefined) {
    where.push('at >= @since');
    params.since = filter.since;
  }
  if (filter.until !== undefined) {
    where.push('at < @until');
    params.until = filter.until;
  }
  if (filter.cursor !== undefined) {
    where.push('seq < @cursor');
    params.cursor = filter.cursor;
  }
  const rows = db
    .prepare(`SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT @limit`)
    .all(params) as AuditRow[];
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > filter.limit && last ? Buffer.from(String(last.seq)).toString('base64url') : null;
  return { items: page.map(recordOf), nextCursor };
}

export interface AuditVerification {
  intact: boolean;
  checked: number;
  /** The first entry whose stored hash no longer matches its content or its predecessor. */
  firstBrokenSeq?: number;
}

/**
 * Walks the whole chain in seq order, recomputing every hash: an entry edited, deleted or
 * inserted behind the platform's back breaks the chain at the first entry it touched.
 */
export function verifyAuditChain(db: Db): AuditVerification {
  let prevHash = GENESIS;
  let checked = 0;
  for (const row of db.prepare('SELECT * FROM audit_events ORDER BY seq').iterate() as Iterable<AuditRow>) {
    checked++;
    const record = recordOf(row);
    const recomputed = row.detail === JSON.stringify(record.detail) ? auditHash(prevHash, record) : '';
    if (row.prev_hash !== prevHash || row.hash !== recomputed)
      return { intact: false, checked, firstBrokenSeq: row.seq };
    prevHash = row.hash;
  }
  return { intact: true, checked };
}

/** Field names whose values are secrets: never written to the trail. */
const SECRET_FIELD = /pass(word)?|secret|api-?key|token|credential|^key$/i;
export const REDACTED = '[redacted]';

/** A copy with every secret-named field's value replaced (at any depth): before/after go through it. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([name, field]) => [
      name,
      SECRET_FIELD.test(name) && field !== null && field !== undefined ? REDACTED : redactSecrets(field),
    ]),
  );
}

/** What the tamper drill changed, so it can put it back. */
export interface TamperedAuditEntry {
  seq: number;
  /** The entry's detail as it was stored. */
  original: string;
}

/**
 * A DBA editing the store behind the platform's back (the reference platform's drill, never a
 * product feature): rewrites the detail of the newest entry of `customerId`'s trail with an
 * UPDATE, leaving its hash as it was. Undefined when that trail is empty.
 */
export function tamperWithAuditEntry(db: Db, customerId: string): TamperedAuditEntry | undefined {
  const row = db
    .prepare('SELECT seq, detail FROM audit_events WHERE customer_id = ? ORDER BY seq DESC LIMIT 1')
    .get(customerId) as { seq: number; detail: string } | undefined;
  if (!row) return undefined;
  db.prepare('UPDATE audit_events SET detail = ? WHERE seq = ?').run(
    JSON.stringify({ note: 'edited behind the platform’s back' }),
    row.seq,
  );
  return { seq: row.seq, original: row.detail };
}

/** Undoes the drill (the scenario's cleanup): the platform's other trails stay verifiable. */
export function restoreAuditEntry(db: Db, tampered: TamperedAuditEntry): boolean {
  return (
    db.prepare('UPDATE audit_events SET detail = ? WHERE seq = ?').run(tampered.original, tampered.seq)
      .changes === 1
  );
}
