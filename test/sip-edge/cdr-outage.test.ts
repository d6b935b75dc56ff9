import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PlatformBus, type PlatformEvents } from '../../platform/bus';
import { writeCdr, type CdrRecord } from '../../platform/sip-edge/cdr';
import { openStore } from '../../platform/store/store';
import { writeBehind } from '../../platform/store/write-behind';

// A call that ends while a second connection (the outage) holds BEGIN IMMEDIATE: hanging up must
// not throw or freeze, and its one record appears, announced once, when the store is back.
test('a call ending while the store refuses writes gets its record once, announced once, when the store is back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdr-outage-'));
  const file = join(dir, 'platform.db');
  const db = openStore(file, { busyTimeoutMs: 100 });
  const primary = new Database(file);
  try {
    db.prepare(
      "INSERT INTO customers (id, name, tier, created_at) VALUES ('cus_1', 'Acme', 'standard', ?)",
    ).run(new Date().toISOString());
    const bus = new PlatformBus();
    const completed: Array<PlatformEvents['call.completed']> = [];
    bus.on('call.completed', (event) => completed.push(event));
    const log: string[] = [];
    const ended = new Date();
    const record = (ref: string): CdrRecord => ({
      callRef: ref,
      customerId: 'cus_1',
      sipCallId: `${ref}@test`,
      caller: '+447700900001',
      callee: '+447700900002',
      trunkId: null,
      direction: 'internal',
      startedAt: new Date(ended.getTime() - 5_000),
      answeredAt: new Date(ended.getTime() - 4_000),
      endedAt: ended,
      disposition: 'answered',
      sipStatus: 200,
      hangupBy: 'caller',
      forwardedTo: null,
      transferredTo: null,
      relay: null,
    });

    primary.exec('BEGIN IMMEDIATE');
    // writeCdr first ends the relay session (none here), then inserts: it resolves once the record
    // is stored or queued, never rejects for a busy store.
    await writeCdr(db, bus, (m) => log.push(m), record('call-1'));
    await writeCdr(db, bus, (m) => log.push(m), record('call-2'));
    assert.deepEqual(
      db.prepare('SELECT sip_call_id FROM cdrs').all(),
      [],
      'a record written during the outage',
    );
    assert.equal(completed.length, 0, 'call.completed announced before its record was stored');
    assert.ok(
      log.some((line) => /call call-1 ended; CDR cdr_\w+ waits for the store/.test(line)),
      log.join(' | '),
    );

    primary.exec('ROLLBACK');
    await writeBehind(db, () => undefined).drained();
    const rows = db
      .prepare('SELECT id, sip_call_id, duration_ms FROM cdrs ORDER BY sip_call_id')
      .all() as Array<{
      id: string;
      sip_call_id: string;
      duration_ms: number;
    }>;
    assert.deepEqual(
      rows.map((r) => [r.sip_call_id, r.duration_ms]),
      [
        ['call-1@test', 4_000],
        ['call-2@test', 4_000],
      ],
      'each call must have exactly one record, with its duration',
    );
    assert.deepEqual(
      completed.map((e) => e.cdrId),
      rows.map((r) => r.id),
      'each record must be announced once, after it landed, in order',
    );
  } finally {
    if (primary.inTransaction) primary.exec('ROLLBACK');
    primary.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
