import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuotaCounters, type LimitSettings } from '../../platform/core/customer-quotas';
import { QuotaExceededError } from '../../platform/errors';
import { nowIso, openStore, type Db } from '../../platform/store/store';

const SETTINGS: LimitSettings = {
  textsPerWindow: 100,
  textWindowMs: 10_000,
  callAttemptsPerWindow: 50,
  callAttemptWindowMs: 10_000,
};

function withStore(run: (file: string, db: Db) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quotas-'));
  const file = join(dir, 'store.db');
  const db = openStore(file);
  try {
    for (const id of ['cus_a', 'cus_b'])
      db.prepare('INSERT INTO customers (id, name, tier, created_at) VALUES (?, ?, ?, ?)').run(
        id,
        id,
        'standard',
        nowIso(),
      );
    run(file, db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function refusal(take: () => unknown): QuotaExceededError {
  try {
    take();
  } catch (error) {
    if (error instanceof QuotaExceededError) return error;
    throw error;
  }
  assert.fail('the attempt beyond the quota was allowed');
}

test("a customer's own quota is taken to the last one, then refused until the window turns over", () => {
  withStore((_file, db) => {
    let now = 1_000_003_000; // 3 s into a 10 s window
    const quotas = new QuotaCounters(db, SETTINGS, () => now);
    quotas.set('cus_a', { textsPerWindow: 3, callAttemptsPerWindow: null });
    assert.deepEqual(
      [1, 2, 3].map(() => quotas.take('cus_a', 'texts')?.remaining),
      [2, 1, 0],
    );
    const refused = refusal(() => quotas.take('cus_a', 'texts'));
    assert.equal(refused.retryAfterSeconds, 7);
    assert.equal(refused.limit, 3);
    assert.equal(quotas.get('cus_a').texts.used, 3, 'a refused text is not counted');
    assert.equal(quotas.take('cus_a', 'call-attempts'), undefined, 'no call-attempt limit of its own');
    assert.equal(quotas.take('cus_b', 'texts')?.remaining, 99, "another customer's allowance is its own");
    now += 7_000;
    assert.equal(quotas.take('cus_a', 'texts')?.remaining, 2, 'a new window starts from nothing');
  });
});

test('two processes on one store share the count (a node counting on its own would allow twice)', () => {
  withStore((file, db) => {
    const now = () => 2_000_000_000;
    const other = openStore(file);
    try {
      const nodeA = new QuotaCounters(db, SETTINGS, now);
      const nodeB = new QuotaCounters(other, SETTINGS, now);
      nodeA.set('cus_a', { textsPerWindow: null, callAttemptsPerWindow: 4 });
      nodeA.take('cus_a', 'call-attempts');
      nodeB.take('cus_a', 'call-attempts');
      nodeA.take('cus_a', 'call-attempts');
      nodeB.take('cus_a', 'call-attempts');
      refusal(() => nodeA.take('cus_a', 'call-attempts'));
      refusal(() => nodeB.take('cus_a', 'call-attempts'));
      assert.equal(nodeB.get('cus_a').callAttempts.remaining, 0);
    } finally {
      other.close();
    }
  });
});

test('the operator sets counts or none, and is told what is wrong otherwise', () => {
  withStore((_file, db) => {
    const quotas = new QuotaCounters(db, SETTINGS);
    assert.equal(quotas.get('cus_a').source, 'default');
    assert.equal(quotas.get('cus_a').texts.limit, 100);
    assert.throws(
      () => quotas.set('cus_a', { textsPerWindow: 0, callAttemptsPerWindow: 1 }),
      /textsPerWindow/,
    );
    assert.throws(() => quotas.set('cus_a', { textsPerWindow: 1 }), /callAttemptsPerWindow/);
    assert.throws(() => quotas.get('cus_nobody'), /does not exist/);
    quotas.set('cus_a', { textsPerWindow: 5, callAttemptsPerWindow: 2 });
    assert.equal(quotas.get('cus_a').source, 'own');
    assert.equal(quotas.reset('cus_a').texts.limit, 100);
  });
});

test('a channel that must go on without the store lets an attempt through uncounted, and says so', () => {
  withStore((file) => {
    const sip = openStore(file, { busyTimeoutMs: 20 });
    const dba = openStore(file);
    try {
      const logged: string[] = [];
      const failOpen = new QuotaCounters(sip, SETTINGS, Date.now, (m) => logged.push(m));
      const strict = new QuotaCounters(sip, SETTINGS);
      dba.exec('BEGIN IMMEDIATE');
      assert.equal(failOpen.take('cus_a', 'call-attempts'), undefined);
      assert.match(logged.join('\n'), /not counted: the store is (busy|away)/);
      assert.throws(() => strict.take('cus_a', 'texts'), /locked|busy/i);
      dba.exec('ROLLBACK');
    } finally {
      sip.close();
      dba.close();
    }
  });
});
