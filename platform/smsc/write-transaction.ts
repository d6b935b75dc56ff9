import type { Db } from '../store/store';

/**
 * Runs fn in a transaction that takes the store's write lock first (BEGIN IMMEDIATE). Other
 * processes write the same store: a transaction that reads before it writes would otherwise fail
 * with "database is locked" at once (its snapshot is stale) instead of waiting its turn.
 */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
