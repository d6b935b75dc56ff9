/**
 * Writing a call's one CDR: every way a call can end (relayed, answered by the platform,
 * originated by it) goes through here, so the record and the call.completed event never differ.
 */
import { randomBytes } from 'node:crypto';
import type { PlatformBus } from '../bus';
import type { RelayStats } from '../media-relay';
import type { RelayCall } from './relay-call';
import type { Db } from '../store/store';
import { writeBehind } from '../store/write-behind';

export interface CdrRecord {
  callRef: string;
  customerId: string;
  sipCallId: string;
  caller: string;
  callee: string;
  trunkId: string | null;
  direction: string;
  startedAt: Date;
  answeredAt: Date | null;
  endedAt: Date;
  disposition: string;
  sipStatus: number;
  hangupBy: string | null;
  forwardedTo: string | null;
  transferredTo: string | null;
  relay: RelayCall | null;
}

/**
 * Ends the call's relay session (ng delete) and commits the CDR with its final counters, then
 * announces call.completed. The record follows the hang-up by one relay round trip; a relay that
 * cannot be reached leaves the counters of the last query (logged), never the record unwritten.
 * When the store refuses writes the record waits in the write-behind queue and is announced once
 * it landed; its id is fixed here, so however often it is tried it is inserted once.
 */
export function writeCdr(
  db: Db,
  bus: PlatformBus,
  log: (message: string) => void,
  record: CdrRecord,
): Promise<void> {
  const final = record.relay ? record.relay.close() : Promise.resolve(null);
  return final.then((media) => insertCdr(db, bus, log, record, media));
}

function insertCdr(
  db: Db,
  bus: PlatformBus,
  log: (message: string) => void,
  record: CdrRecord,
  media: RelayStats | null,
): void {
  const durationMs = record.answeredAt
    ? Math.max(0, record.endedAt.getTime() - record.answeredAt.getTime())
    : 0;
  const cdrId = `cdr_${randomBytes(8).toString('hex')}`;
  const insert = (): void => {
    db.prepare(
      `INSERT OR IGNORE INTO cdrs (id, customer_id, sip_call_id, caller, callee, trunk_id, direction, started_at, answered_at, ended_at,
         duration_ms, billable_seconds, disposition, sip_status, hangup_by, forwarded_to, transferred_to, media)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      cdrId,
      record.customerId,
      record.sipCallId,
      record.caller,
      record.callee,
      record.trunkId,
      record.direction,
      record.startedAt.toISOString(),
      record.answeredAt?.toISOString() ?? null,
      record.endedAt.toISOString(),
      durationMs,
      Math.ceil(durationMs / 1000),
      record.disposition,
      record.sipStatus,
      record.hangupBy,
      record.forwardedTo,
      record.transferredTo,
      JSON.stringify(
        media ? { aToB: media.aToB, bToA: media.bToA, sideA: media.sideA, sideB: media.sideB } : {},
      ),
    );
  };
  const announce = (): void => {
    log(
      `call ${record.callRef} ended: ${record.disposition} ${record.sipStatus} by ${record.hangupBy ?? '-'}; CDR ${cdrId}`,
    );
    bus.emit('call.completed', { cdrId, customerId: record.customerId });
  };
  try {
    if (writeBehind(db, log).run(`CDR ${cdrId} of call ${record.callRef}`, insert, announce) === 'queued')
      log(`call ${record.callRef} ended; CDR ${cdrId} waits for the store`);
  } catch (error) {
    log(`call ${record.callRef}: writing CDR failed: ${(error as Error).stack ?? String(error)}`);
  }
}
