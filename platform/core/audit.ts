/**
 * The audit trail (TEST-INT-054): who did what, when, from where, with which request, before and
 * after — secrets never. Append-only and tamper-evident: each entry's hash covers the previous
 * entry's hash and its own canonical content, so editing or deleting a stored entry breaks the
 * chain from there on (verifyAuditChain finds the first broken entry).
 * Every part of the platform records through `recordAudit`; nothing else writes audit_events.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/store';

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
