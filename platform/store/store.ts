import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { SCHEMA } from './schema';

export type Db = Database.Database;

/**
 * The schema's fingerprint, kept in SQLite's user_version. There are no migrations yet, so a
 * database made by a platform with a different schema is refused with a clear message instead
 * of failing later on a missing column.
 */
export const SCHEMA_VERSION = parseInt(createHash('sha256').update(SCHEMA).digest('hex').slice(0, 7), 16);

/**
 * How long a write waits for another process's write lock when nothing says otherwise (tools,
 * the supervisor making the schema): there, waiting is harmless. A running role passes
 * `config.store.busyTimeoutMs`, because its waiting blocks the whole process.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** Opens (or creates) the platform database in WAL mode with the schema applied. */
export function openStore(file: string, options: { busyTimeoutMs?: number } = {}): Db {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a message acknowledged to a customer survives power loss, not just a process crash.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
      n: number;
    };
    if (version !== SCHEMA_VERSION && (version !== 0 || tables.n > 0)) {
      throw new Error(
        `The database ${file} was created by a platform with a different schema (${version} ≠ ${SCHEMA_VERSION}). ` +
          'Start with a fresh data directory (npm run platform -- --data <new dir>) or delete the file.',
      );
    }
    // Only a new file is written to: a node taking over while the store refuses writes must open it.
    if (version !== SCHEMA_VERSION) {
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}
