import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, openStore } from '../../platform/store/store';

const tempFile = (): string => join(mkdtempSync(join(tmpdir(), 'store-')), 'platform.db');

test('a new database gets the schema, WAL and durable commits', () => {
  const db = openStore(tempFile());
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get());
  db.close();
});

test('reopening a database of the same schema keeps its data', () => {
  const file = tempFile();
  const first = openStore(file);
  first
    .prepare("INSERT INTO customers (id, name, tier, created_at) VALUES ('c1', 'A', 'standard', 'now')")
    .run();
  first.close();
  const second = openStore(file);
  assert.deepEqual(second.prepare('SELECT id FROM customers').all(), [{ id: 'c1' }]);
  second.close();
});

test('a database from a different schema is refused with a clear message', () => {
  const file = tempFile();
  const other = new Database(file);
  other.exec('CREATE TABLE customers (id TEXT PRIMARY KEY)');
  other.pragma('user_version = 12345');
  other.close();
  assert.throws(() => openStore(file), /different schema .*fresh data directory/);
});
