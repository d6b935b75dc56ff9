/**
 * A database outage, injected for real: a small process of its own opens the shared store and
 * holds `BEGIN IMMEDIATE`. Every other connection's writes then fail with SQLITE_BUSY after their
 * busy timeout while reads go on, which is what the platform sees when its primary stops accepting
 * writes and reads are still served (a read replica). Killing the process (SIGKILL) releases the
 * lock: the primary is back, or a replica was promoted. An exclusive lock could not be used: it
 * cannot be taken while other processes have the file open.
 *
 * The supervisor serves it on the fault seam as role `database`, node `primary`: `hang` starts the
 * outage (answered once the lock is held), `recover` ends it; `crash` is refused.
 *
 * Run as a process: `node .build/platform/cluster/store-outage.js <store file>`; it reports
 * `{type: 'holding'}` over IPC once it holds the lock and leaves when its supervisor goes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';

export const DATABASE_ROLE = 'database';
export const DATABASE_NODE = 'primary';

/** How long starting an outage may take: the lock waits for any write in progress (busy timeout below). */
const HOLD_BOUND_MS = 10_000;

/** A fault the database role does not take, or a node it does not have: the seam answers with `status`. */
export class DatabaseFaultRefused extends Error {
  constructor(
    readonly status: 404 | 422,
    message: string,
  ) {
    super(message);
  }
}

export interface DatabaseStatus {
  role: typeof DATABASE_ROLE;
  node: typeof DATABASE_NODE;
  /** active: it accepts writes; hung: it refuses them (reads still served). */
  state: 'active' | 'hung';
  /** The process holding the lock while hung; null otherwise. */
  pid: number | null;
  since: string;
  exit: null;
}

export interface DatabaseFaultOutcome {
  role: typeof DATABASE_ROLE;
  node: typeof DATABASE_NODE;
  pid: number | null;
  action: 'hang' | 'recover';
  at: string;
}

/** The supervisor's side: starts and ends outages of one store file. */
export class DatabaseOutage {
  private holder: ChildProcess | undefined;
  private since = new Date().toISOString();

  constructor(
    private readonly entry: string,
    private readonly storeFile: string,
    private readonly log: (message: string) => void,
  ) {}

  status(): DatabaseStatus {
    return {
      role: DATABASE_ROLE,
      node: DATABASE_NODE,
      state: this.holder ? 'hung' : 'active',
      pid: this.holder?.pid ?? null,
      since: this.since,
      exit: null,
    };
  }

  async fault(node: string, action: string): Promise<DatabaseFaultOutcome> {
    if (node !== DATABASE_NODE && node !== 'active')
      throw new DatabaseFaultRefused(
        404,
        `role ${DATABASE_ROLE} has no node "${node}" (it has "${DATABASE_NODE}")`,
      );
    const at = new Date().toISOString();
    if (action === 'hang') {
      const pid = await this.hang();
      return { role: DATABASE_ROLE, node: DATABASE_NODE, pid, action, at };
    }
    if (action === 'recover') {
      const pid = await this.recover();
      return { role: DATABASE_ROLE, node: DATABASE_NODE, pid, action, at };
    }
    throw new DatabaseFaultRefused(
      422,
      `the ${DATABASE_ROLE} role takes hang (the primary stops accepting writes) or recover, not "${action}"`,
    );
  }

  /** Ends an outage in progress (the supervisor stops). */
  async stop(): Promise<void> {
    await this.recover();
  }

  private async hang(): Promise<number | null> {
    if (this.holder) return this.holder.pid ?? null;
    // execArgv []: plain JavaScript from .build/, like the nodes.
    const child = fork(this.entry, [this.storeFile], {
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const output: string[] = [];
    const keep = (data: Buffer): void => {
      output.push(data.toString('utf8'));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(
            `the store outage did not hold the write lock within ${HOLD_BOUND_MS} ms: ${output.join('')}`,
          ),
        );
      }, HOLD_BOUND_MS);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the store outage process ended (${signal ?? `exit code ${code}`}) before it held the lock: ${output.join('')}`,
          ),
        );
      });
    });
    this.holder = child;
    this.since = new Date().toISOString();
    this.log(
      `FAULT hang ${DATABASE_ROLE}/${DATABASE_NODE}: pid ${child.pid} holds the write lock; writes are refused, reads served`,
    );
    return child.pid ?? null;
  }

  private async recover(): Promise<number | null> {
    const child = this.holder;
    if (!child) return null;
    const ended = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await ended;
    this.holder = undefined;
    this.since = new Date().toISOString();
    this.log(
      `FAULT recover ${DATABASE_ROLE}/${DATABASE_NODE}: pid ${child.pid} killed; the store accepts writes again`,
    );
    return child.pid ?? null;
  }
}

/** The outage process: hold the write lock until killed (or orphaned). */
function holdTheLock(file: string): void {
  const db = new Database(file);
  // Waits for a node's write in progress, never for another outage (there is one at a time).
  db.pragma('busy_timeout = 5000');
  db.exec('BEGIN IMMEDIATE');
  process.send?.({ type: 'holding' });
  // Without its supervisor it must not keep the store locked.
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) throw new Error('store-outage: missing the store file argument');
  holdTheLock(file);
}
