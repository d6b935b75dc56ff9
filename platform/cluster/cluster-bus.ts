import type { Bus, BusListener, PlatformEvents } from '../bus';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { writeBehind } from '../store/write-behind';

export interface ClusterBusOptions {
  /** How often the active node of a role reads new events (embedded: ~20 ms). */
  pollMs: number;
  /**
   * Polls on which an event's listeners may throw before the role gives up on that event. A
   * throw is retried first because the likely cause is transient (the store busy or away); a
   * listener that keeps throwing on one event is a bug that must not block every later event.
   */
  maxAttempts?: number;
  /** Events read per poll, so one poll never holds the process for long. */
  batch?: number;
  /**
   * Events every role has read are deleted once they are older than this (default 10 min). The
   * age matters: a role that has not started yet has no offset, and must still find what was
   * emitted for it while its first node was starting.
   */
  retentionMs?: number;
  log: (message: string) => void;
}

type AnyListener = (payload: unknown) => void;

interface EventRow {
  id: number;
  type: string;
  payload: string;
}

/**
 * The bus across the cluster's processes: emit appends to a durable outbox (bus_events) in the
 * shared store; the active node of each role polls it from the role's offset (bus_offsets) and
 * runs its local listeners, advancing the offset only after they ran. So delivery is
 * at-least-once per role: a node that dies between a listener and the offset update makes its
 * successor run that event again, and listeners must tolerate a repeat (they read the committed
 * state by id, as with the single-process bus).
 *
 * A listener that throws: the offset stays, and the event (with every listener of it) is tried
 * again on the next poll, up to maxAttempts polls; then it is logged as dropped for this role and
 * the role moves on. Events are only ever delivered in order, so retrying forever would stall
 * the role behind one bad event.
 *
 * Emitting never delivers synchronously, not even to listeners in the same process: everything
 * goes through the outbox, so a node sees its own events exactly as its successor would.
 */
export class ClusterBus implements Bus {
  private readonly listeners = new Map<string, Set<AnyListener>>();
  private readonly maxAttempts: number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | null = null;
  private lastPruneAt = 0;
  private role: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: ClusterBusOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.batch = options.batch ?? 200;
  }

  /**
   * Through the write-behind queue: inside a unit the event commits with the change it announces;
   * while the store refuses writes it waits, in order, behind the writes that came before it.
   */
  emit<K extends keyof PlatformEvents>(type: K, payload: PlatformEvents[K]): void {
    const json = JSON.stringify(payload);
    const at = nowIso();
    writeBehind(this.db, this.options.log).run(`bus event ${type}`, () => {
      this.db.prepare('INSERT INTO bus_events (type, payload, at) VALUES (?, ?, ?)').run(type, json, at);
    });
  }

  on<K extends keyof PlatformEvents>(type: K, listener: BusListener<K>): void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener as AnyListener);
  }

  off<K extends keyof PlatformEvents>(type: K, listener: BusListener<K>): void {
    this.listeners.get(type)?.delete(listener as AnyListener);
  }

  /**
   * Starts delivering events to this process's listeners as `role` (call it once the node is
   * active). A role seen for the first time starts at the beginning of the outbox: the cluster
   * creates the store before any node runs, so nothing emitted before the role's first start is
   * missed.
   */
  start(role: string): void {
    if (this.timer !== null) throw new Error(`the cluster bus already delivers as ${this.role ?? '?'}`);
    this.role = role;
    this.db
      .prepare('INSERT INTO bus_offsets (role, last_id) VALUES (?, 0) ON CONFLICT(role) DO NOTHING')
      .run(role);
    this.timer = setInterval(() => this.pollSafely(), this.options.pollMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Delivers what is waiting now (the poll timer calls this; tests may call it directly). */
  poll(): number {
    const role = this.role;
    if (role === null) throw new Error('the cluster bus was not started for a role');
    const writes = writeBehind(this.db, this.options.log);
    // The store refuses writes: listeners could not record what they do, nor the offset move.
    // Deliver again once everything waiting (offsets included) has landed, so nothing repeats.
    if (writes.pending > 0) return 0;
    const offset = this.db.prepare('SELECT last_id, failures FROM bus_offsets WHERE role = ?').get(role) as {
      last_id: number;
      failures: number;
    };
    const rows = this.db
      .prepare('SELECT id, type, payload FROM bus_events WHERE id > ? ORDER BY id LIMIT ?')
      .all(offset.last_id, this.batch) as EventRow[];
    let delivered = 0;
    let failures = offset.failures;
    for (const row of rows) {
      const failed = this.deliver(row);
      if (failed !== null) {
        failures += 1;
        if (failures < this.maxAttempts) {
          this.options.log(
            `bus: ${role}: a listener of ${row.type} #${row.id} threw (${failed}); retried on the next poll (${failures}/${this.maxAttempts})`,
          );
          const count = failures;
          writes.run(`bus failures of ${role}`, () => {
            this.db.prepare('UPDATE bus_offsets SET failures = ? WHERE role = ?').run(count, role);
          });
          return delivered;
        }
        this.options.log(
          `bus: ${role}: ${row.type} #${row.id} dropped after ${failures} failed attempts (${failed}): payload ${row.payload}`,
        );
      }
      failures = 0;
      const advanced = writes.run(`bus offset of ${role} to #${row.id}`, () => {
        this.db.prepare('UPDATE bus_offsets SET last_id = ?, failures = 0 WHERE role = ?').run(row.id, role);
      });
      delivered += 1;
      if (advanced === 'queued') return delivered;
    }
    return delivered;
  }

  /** Deletes events older than the retention that every role with an offset has read. */
  prune(now = Date.now()): number {
    const before = new Date(now - (this.options.retentionMs ?? 600_000)).toISOString();
    return this.db
      .prepare(
        `DELETE FROM bus_events WHERE at < ?
           AND id <= (SELECT COALESCE(MIN(last_id), 0) FROM bus_offsets)`,
      )
      .run(before).changes;
  }

  private pollSafely(): void {
    try {
      this.poll();
      const now = Date.now();
      if (now - this.lastPruneAt >= 60_000) {
        this.lastPruneAt = now;
        this.prune(now);
      }
    } catch (error) {
      // The store itself failed (busy, away): the offset did not move, the next poll tries again.
      this.options.log(
        `bus: ${this.role ?? '?'}: poll failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Runs every local listener of the event; the first failure's message, or null. */
  private deliver(row: EventRow): string | null {
    const listeners = this.listeners.get(row.type);
    if (listeners === undefined || listeners.size === 0) return null;
    const payload: unknown = JSON.parse(row.payload);
    let failure: string | null = null;
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (error) {
        failure ??= error instanceof Error ? error.message : String(error);
      }
    }
    return failure;
  }
}
