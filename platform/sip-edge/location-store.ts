/**
 * The registrar's bindings in the shared store, written through on every change (Kamailio's
 * usrloc with db_mode 1): a sip-edge node that takes over the edge's address loads them, so
 * phones registered with its predecessor still get their calls. Only UDP bindings are kept: a
 * WebSocket binding is only reachable over its connection, which dies with the node holding it.
 */
import type { Db } from '../store/store';
import type { Flow } from './transport';

/** One registered contact of a user (a row of Kamailio's location table). */
export interface Binding {
  username: string;
  /** The Contact URI as the phone sent it. */
  contact: string;
  flow: Flow;
  expiresAt: number;
  registeredAt: string;
  callId: string;
  cseq: number;
  userAgent?: string;
  /** The REGISTER's Path (RFC 3327): the Route of every request to this contact; [] without a proxy. */
  path: string[];
}

interface BindingRow {
  username: string;
  contact: string;
  address: string;
  port: number;
  expires_at: number;
  registered_at: string;
  call_id: string;
  cseq: number;
  user_agent: string | null;
  path: string | null;
}

export class LocationStore {
  constructor(
    private readonly db: Db,
    private readonly log: (message: string) => void,
  ) {}

  /** Replaces the user's stored bindings with `bindings` (none: the user is gone). */
  save(username: string, bindings: Binding[]): void {
    const insert = this.db.prepare(
      `INSERT INTO sip_registrations (username, contact, address, port, expires_at, registered_at, call_id, cseq, user_agent, path)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const write = this.db.transaction(() => {
      this.db.prepare('DELETE FROM sip_registrations WHERE username = ?').run(username);
      for (const b of bindings) {
        if (b.flow.transport !== 'UDP') continue;
        insert.run(
          username,
          b.contact,
          b.flow.address,
          b.flow.port,
          b.expiresAt,
          b.registeredAt,
          b.callId,
          b.cseq,
          b.userAgent ?? null,
          b.path.length > 0 ? JSON.stringify(b.path) : null,
        );
      }
    });
    try {
      write();
    } catch (error) {
      // The phone stays registered here; only a node taking over would not know it.
      this.log(`${username}: storing the binding(s) failed: ${(error as Error).message}`);
    }
  }

  /** The unexpired bindings by user; expired rows are deleted on the way. */
  load(now = Date.now()): Map<string, Binding[]> {
    this.db.prepare('DELETE FROM sip_registrations WHERE expires_at <= ?').run(now);
    const rows = this.db.prepare('SELECT * FROM sip_registrations').all() as BindingRow[];
    const table = new Map<string, Binding[]>();
    for (const row of rows) {
      const binding = bindingOf(row);
      table.set(row.username, [...(table.get(row.username) ?? []), binding]);
    }
    return table;
  }

  /** One user's unexpired bindings as stored now (an active-active edge: a peer may have written them). */
  loadUser(username: string, now = Date.now()): Binding[] {
    const rows = this.db
      .prepare('SELECT * FROM sip_registrations WHERE username = ? AND expires_at > ?')
      .all(username, now) as BindingRow[];
    return rows.map(bindingOf);
  }
}

function bindingOf(row: BindingRow): Binding {
  return {
    username: row.username,
    contact: row.contact,
    flow: { transport: 'UDP', address: row.address, port: row.port },
    expiresAt: row.expires_at,
    registeredAt: row.registered_at,
    callId: row.call_id,
    cseq: row.cseq,
    userAgent: row.user_agent ?? undefined,
    path: row.path === null ? [] : (JSON.parse(row.path) as string[]),
  };
}
