import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, type Db } from '../../platform/store/store';
import { WriteBehind, isStoreBusy } from '../../platform/store/write-behind';

// Two connections on one file, as two node processes have: `primary` holding BEGIN IMMEDIATE is
// the outage (every other connection's writes get SQLITE_BUSY, reads go on).
const BUSY_TIMEOUT_MS = 150;
let dir: string;
let db: Db;
let primary: Database.Database;
let logs: string[];
let queue: WriteBehind;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'write-behind-'));
  db = openStore(join(dir, 'platform.db'), { busyTimeoutMs: BUSY_TIMEOUT_MS });
  db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT NOT NULL UNIQUE)');
  primary = new Database(join(dir, 'platform.db'));
  logs = [];
  queue = new WriteBehind(db, (message) => logs.push(message), {
    retryEveryMs: 20,
    probeBusyTimeoutMs: 1,
    reportEveryMs: 100,
  });
});

afterEach(() => {
  queue.stop();
  if (primary.inTransaction) primary.exec('ROLLBACK');
  primary.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const insert = (what: string) => (): void => {
  db.prepare('INSERT OR IGNORE INTO log (what) VALUES (?)').run(what);
};
const written = (): string[] =>
  (db.prepare('SELECT what FROM log ORDER BY seq').all() as Array<{ what: string }>).map((r) => r.what);

/** Resolves when `check` holds; fails after `boundMs` naming what it waited for and the log. */
async function until(what: string, check: () => boolean, boundMs = 2_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > boundMs)
      assert.fail(`${what}: not within ${boundMs} ms; log: ${logs.join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function timed<T>(action: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = action();
  return { result, ms: performance.now() - started };
}

test('with the store writable a unit is applied at once and its effect runs once', () => {
  const effects: string[] = [];
  assert.equal(
    queue.run('one', insert('one'), () => effects.push('after one')),
    'applied',
  );
  assert.deepEqual(written(), ['one']);
  assert.deepEqual(effects, ['after one']);
  assert.equal(queue.status().queued, 0);
});

test('refused writes wait in order behind the first one, reads go on, and all land once when the store is back', async () => {
  queue.run('before', insert('before'));
  primary.exec('BEGIN IMMEDIATE');
  const effects: string[] = [];
  const first = timed(() => queue.run('a', insert('a'), () => effects.push('a')));
  assert.equal(first.result, 'queued');
  assert.ok(
    first.ms >= BUSY_TIMEOUT_MS * 0.9,
    `the write that met the outage gave up after ${first.ms.toFixed(0)} ms, before the busy timeout`,
  );
  for (const what of ['b', 'c']) {
    const later = timed(() => queue.run(what, insert(what), () => effects.push(what)));
    assert.equal(later.result, 'queued');
    assert.ok(
      later.ms < BUSY_TIMEOUT_MS / 2,
      `a write behind a waiting one blocked ${later.ms.toFixed(1)} ms`,
    );
  }
  // Any other write of this connection now fails fast instead of freezing the process.
  const plain = timed(() => assert.throws(() => insert('plain')(), isStoreBusy));
  assert.ok(
    plain.ms < BUSY_TIMEOUT_MS / 2,
    `a plain write during the outage blocked ${plain.ms.toFixed(0)} ms`,
  );
  assert.deepEqual(written(), ['before'], 'reads must go on during the outage');
  assert.equal(queue.status().queued, 3);
  assert.equal(queue.status().outage, true);
  assert.deepEqual(effects, [], 'an effect ran before its write committed');

  await until("the queue's length and age in the log", () =>
    logs.some((line) => /3 write\(s\) waiting for the store, oldest "a" for \d+ ms/.test(line)),
  );
  assert.ok((queue.status().oldestAgeMs ?? 0) >= 100, 'the oldest waiting write has no age');

  primary.exec('COMMIT');
  const released = performance.now();
  await queue.drained();
  const drainMs = performance.now() - released;
  assert.deepEqual(written(), ['before', 'a', 'b', 'c']);
  assert.deepEqual(effects, ['a', 'b', 'c']);
  assert.ok(drainMs < 500, `the queue took ${drainMs.toFixed(0)} ms to empty after the store came back`);
  assert.equal(
    db.pragma('busy_timeout', { simple: true }),
    BUSY_TIMEOUT_MS,
    'normal busy timeout not restored',
  );
  const status = queue.status();
  assert.equal(status.outage, false);
  assert.equal(status.lastOutage?.deferred, 3);
  assert.ok(status.lastOutage?.to, 'the outage has no end');
});

test('a unit applies whole or not at all, so a retried one never doubles what it writes', async () => {
  primary.exec('BEGIN IMMEDIATE');
  let runs = 0;
  let effects = 0;
  queue.run(
    'two rows',
    () => {
      runs += 1;
      insert('x')();
      // Nested units belong to the outer one: no separate queue entry, one commit.
      queue.run('nested', insert('y'), () => (effects += 1));
      return 'done';
    },
    (result) => {
      assert.equal(result, 'done');
      effects += 1;
    },
  );
  assert.deepEqual(written(), []);
  primary.exec('COMMIT');
  await queue.drained();
  assert.deepEqual(written(), ['x', 'y']);
  assert.equal(
    runs,
    1,
    'the unit ran while the lock was refused: it must not start before it holds the lock',
  );
  assert.equal(effects, 2, 'each effect must run exactly once, after the commit');
  assert.equal(queue.status().queued, 0);
});

test('an error other than a busy store reaches the caller, and a queued unit failing that way is dropped and logged', async () => {
  const broken = (): void => {
    db.prepare('INSERT INTO no_such_table VALUES (1)').run();
  };
  assert.throws(() => queue.run('broken', broken), /no such table/);
  primary.exec('BEGIN IMMEDIATE');
  queue.run('a', insert('a'));
  queue.run('broken', broken);
  queue.run('b', insert('b'));
  primary.exec('COMMIT');
  await queue.drained();
  assert.deepEqual(written(), ['a', 'b'], 'a unit that can never apply must not block those behind it');
  assert.equal(queue.status().dropped, 1);
  assert.ok(logs.some((line) => /"broken" failed for another reason and is dropped/.test(line)));
});

test(
  'an effect that waits for the queue again runs once the queue is empty, not in an endless loop',
  { timeout: 5_000 },
  async () => {
    primary.exec('BEGIN IMMEDIATE');
    queue.run('a', insert('a'));
    const resumed: number[] = [];
    // As the webhook dispatcher does: "resume me when nothing waits any more".
    const resume = (): void => {
      if (queue.pending > 0) queue.run('resume', () => undefined, resume);
      else resumed.push(queue.pending);
    };
    resume();
    queue.run('b', insert('b'));
    primary.exec('COMMIT');
    await queue.drained();
    assert.deepEqual(written(), ['a', 'b']);
    assert.deepEqual(resumed, [0], 'the resumed work ran other than once, or before the queue was empty');
  },
);

test('for latest-copy state only the newest waiting copy is written, in its own turn', async () => {
  db.exec('CREATE TABLE snapshot (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const save = (value: string) => (): void => {
    db.prepare(
      'INSERT INTO snapshot (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run('call', value);
    insert(`saved ${value}`)();
  };
  primary.exec('BEGIN IMMEDIATE');
  queue.runLatest('call', 'snapshot 1', save('1'));
  queue.run('other', insert('other'));
  queue.runLatest('call', 'snapshot 2', save('2'));
  queue.runLatest('call', 'snapshot 3', save('3'));
  assert.equal(queue.status().queued, 2, 'older copies of the same state still wait');
  primary.exec('COMMIT');
  await queue.drained();
  assert.deepEqual(written(), ['other', 'saved 3']);
  assert.deepEqual(db.prepare('SELECT value FROM snapshot').all(), [{ value: '3' }]);
});
