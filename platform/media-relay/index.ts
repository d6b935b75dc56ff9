/**
 * The media-relay role (RTPEngine's place): allocates a pair of UDP ports per call and relays
 * RTP between caller and callee with latching and per-direction counters. It is controlled over
 * rtpengine's "ng" protocol (UDP, config.media.ngPort) and keeps every session in the store
 * (rtpengine uses Redis for the same), so a relay started on the same addresses after a crash
 * rebinds the same ports and relays on without new signalling.
 */
import dgram, { type Socket } from 'node:dgram';
import type { RoleDeps, RunningRole } from '../role';
import { writeBehind } from '../store/write-behind';
import type { Db } from '../store/store';
import { executeNg, type RelaySessions } from './ng-commands';
import type { NgDict } from './ng-protocol';
import { startNgServer } from './ng-server';
import { RelaySession, type PersistedSession } from './session';

export { RelaySession } from './session';
export type { RelaySide, RelayStats, DirectionStats, SideInfo, PersistedSession } from './session';
export { readAudioTarget, rewriteSdpAddresses } from './sdp';

export interface MediaRelay extends RunningRole<{ host: string; ng: { host: string; port: number } }> {
  /** Opens the two sockets of a new call. Rejects when the configured port range is exhausted. */
  allocate(callRef: string): Promise<RelaySession>;
  /** Sessions not yet closed. */
  sessions(): RelaySession[];
}

export async function startMediaRelay(deps: RoleDeps): Promise<MediaRelay> {
  const host = deps.config.host;
  const { portMin, portMax, ngPort, statsFlushMs } = deps.config.media;
  const log = (message: string): void => deps.log('media-relay', message);
  const ports = new PortAllocator(host, portMin, portMax);
  const store = new SessionStore(deps.db);
  const open = new Map<string, RelaySession>();
  /** Packets seen per session at its last save: unchanged counters are not written again. */
  const savedActivity = new WeakMap<RelaySession, number>();
  /** Sessions whose signalling state (SDP, tags, latch, hold) changed since their last save. */
  const dirty = new Set<RelaySession>();

  // One transaction per save: one WAL sync however many sessions changed.
  const persist = (changed: RelaySession[]): void => {
    const live = changed.filter((session) => !session.closed);
    dirty.clear();
    if (live.length === 0) return;
    const snapshots = live.map((session) => session.snapshot());
    try {
      // Through the write-behind queue: while the store refuses writes the relay keeps relaying
      // (a blocked write would stall every RTP packet of every call), and the saves land in order.
      writeBehind(deps.db, log).run(`saving ${live.length} relay session(s)`, () => {
        for (const snapshot of snapshots) store.save(snapshot);
      });
      for (const session of live) savedActivity.set(session, activity(session));
    } catch (error) {
      log(`persisting ${live.length} relay session(s) failed: ${(error as Error).message}`);
    }
  };
  const track = (session: RelaySession, persisted: boolean): RelaySession => {
    open.set(session.callRef, session);
    session.onChange = (changed) => dirty.add(changed);
    if (persisted) savedActivity.set(session, activity(session));
    else dirty.add(session);
    return session;
  };
  const allocate = async (callRef: string): Promise<RelaySession> => {
    const socketA = await ports.bind(log);
    let socketB: Socket;
    try {
      socketB = await ports.bind(log);
    } catch (error) {
      socketA.close();
      throw error;
    }
    return track(new RelaySession(callRef, host, socketA, socketB, onClosed, log), false);
  };
  const onClosed = (closed: RelaySession): void => {
    if (open.get(closed.callRef) === closed) open.delete(closed.callRef);
  };

  await restoreSessions(store, host, log, (saved, socketA, socketB) =>
    track(new RelaySession(saved.callRef, host, socketA, socketB, onClosed, log, saved), true),
  );

  const sessions: RelaySessions = {
    find: (callId) => open.get(callId),
    open: allocate,
    async remove(session) {
      dirty.delete(session);
      writeBehind(deps.db, log).run(`forgetting relay session ${session.callRef}`, () =>
        store.remove(session.callRef),
      );
      await session.close();
    },
    callIds: () => [...open.keys()],
  };
  const flush = (): void =>
    persist(
      [...open.values()].filter(
        (session) => dirty.has(session) || savedActivity.get(session) !== activity(session),
      ),
    );
  const flushTimer = setInterval(flush, statsFlushMs);
  flushTimer.unref();
  // What a command changed is in the store before its reply leaves: a successor never misses it.
  const execute = async (command: NgDict): Promise<NgDict> => {
    const reply = await executeNg(command, sessions);
    persist([...dirty]);
    return reply;
  };

  let ng;
  try {
    ng = await startNgServer(host, ngPort, execute, log);
  } catch (error) {
    clearInterval(flushTimer);
    await Promise.all([...open.values()].map((session) => session.close()));
    throw new Error(
      `media relay: cannot listen for ng on ${host}:${ngPort} (config.media.ngPort): ${String(error)}`,
    );
  }
  log(`ng control on udp:${host}:${ng.address.port}; ${open.size} session(s) restored`);

  return {
    endpoints: { host, ng: ng.address },
    allocate,
    sessions: () => [...open.values()],
    async stop(): Promise<void> {
      clearInterval(flushTimer);
      await ng.close();
      // Counters are saved, rows kept: a clean stop looks to a successor like a crash, only later.
      flush();
      await Promise.all([...open.values()].map((session) => session.close()));
    },
  };
}

/** What changes a session's counters: when it is unchanged there is nothing new to save. */
function activity(session: RelaySession): number {
  const { aToB, bToA } = session.stats();
  return aToB.packets + bToA.packets + aToB.dropped + bToA.dropped + aToB.blocked + bToA.blocked;
}

/** Rebinds every persisted session's two ports; a session whose port is taken is logged and left in the store. */
async function restoreSessions(
  store: SessionStore,
  host: string,
  log: (message: string) => void,
  adopt: (saved: PersistedSession, socketA: Socket, socketB: Socket) => void,
): Promise<void> {
  for (const saved of store.all()) {
    let socketA: Socket | undefined;
    try {
      socketA = await bindUdp(host, saved.sides.A.port, log);
      const socketB = await bindUdp(host, saved.sides.B.port, log);
      adopt(saved, socketA, socketB);
      log(`relay ${saved.callRef}: restored on ports ${saved.sides.A.port}/${saved.sides.B.port}`);
    } catch (error) {
      socketA?.close();
      log(
        `relay ${saved.callRef}: not restored, its ports ${saved.sides.A.port}/${saved.sides.B.port} cannot be bound: ${(error as Error).message}`,
      );
    }
  }
}

/** The relay_sessions table: one JSON row per live session. */
class SessionStore {
  constructor(private readonly db: Db) {}

  save(session: PersistedSession): void {
    this.db
      .prepare(
        `INSERT INTO relay_sessions (call_id, state, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(call_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      )
      .run(session.callRef, JSON.stringify(session), new Date().toISOString());
  }

  remove(callId: string): void {
    this.db.prepare('DELETE FROM relay_sessions WHERE call_id = ?').run(callId);
  }

  all(): PersistedSession[] {
    const rows = this.db.prepare('SELECT state FROM relay_sessions ORDER BY updated_at').all() as Array<{
      state: string;
    }>;
    return rows.map((row) => JSON.parse(row.state) as PersistedSession);
  }
}

/** Binds UDP sockets on ephemeral ports, or round-robin inside [portMin, portMax]. */
class PortAllocator {
  private cursor: number;

  constructor(
    private readonly host: string,
    private readonly portMin: number,
    private readonly portMax: number,
  ) {
    if (portMin < 0 || portMax < portMin || portMax > 65535)
      throw new Error(`invalid media port range ${portMin}-${portMax}`);
    this.cursor = portMin;
  }

  async bind(log: (message: string) => void): Promise<Socket> {
    if (this.portMin === 0 && this.portMax === 0) return bindUdp(this.host, 0, log);
    const size = this.portMax - this.portMin + 1;
    for (let attempt = 0; attempt < size; attempt += 1) {
      const port = this.cursor;
      this.cursor = port >= this.portMax ? this.portMin : port + 1;
      try {
        return await bindUdp(this.host, port, log);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
    throw new Error(
      `media port range ${this.portMin}-${this.portMax} exhausted: every port is in use (config.media)`,
    );
  }
}

function bindUdp(host: string, port: number, log: (message: string) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const onBindError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onBindError);
    socket.bind(port, host, () => {
      socket.off('error', onBindError);
      const boundPort = socket.address().port;
      // After binding, socket errors (e.g. ICMP unreachable reported on send) are logged, never fatal.
      socket.on('error', (error) => log(`relay socket ${host}:${boundPort}: ${error.message}`));
      resolve(socket);
    });
  });
}
