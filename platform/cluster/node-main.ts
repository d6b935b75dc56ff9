/**
 * One node of the redundant platform: its own operating-system process, forked by the supervisor
 * (`node .build/platform/cluster/node-main.js --spec F --role R --node N --initial active|standby`).
 * A standby only listens for its peers; when it becomes active it starts the ordinary role on the
 * role's fixed addresses with the shared store, and the role restores what it needs from there.
 */
import { readFileSync } from 'node:fs';
import { ClusterBus } from './cluster-bus';
import { openStore } from '../store/store';
import { isStoreBusy, writeBehind } from '../store/write-behind';
import type { RoleDeps } from '../role';
import { Membership } from './membership';
import { startRoleProcess, type RunningRoleProcess } from './roles';
import { CLUSTER_ROLES, type ClusterRole, type ClusterSpec, type FenceReply, type NodeReport } from './spec';

function argument(name: string): string {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (!value) throw new Error(`node-main: missing ${name}`);
  return value;
}

function report(message: NodeReport): void {
  if (process.send) process.send(message);
}

let fenceRequests = 0;

/** How often an active node reads the cluster bus when the spec does not say. */
const DEFAULT_BUS_POLL_MS = 20;

/** STONITH through the supervisor: it owns the processes, and refuses a pid that is not its node's. */
function askSupervisorToFence(node: string, pid: number, unheardForMs?: number): Promise<FenceReply> {
  const request = (fenceRequests += 1);
  return new Promise((resolve) => {
    const onReply = (message: FenceReply): void => {
      if (message.type !== 'fenced' || message.request !== request) return;
      process.off('message', onReply);
      resolve(message);
    };
    process.on('message', onReply);
    report({ type: 'fence', request, node, pid, unheardForMs });
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(argument('--spec'), 'utf8')) as ClusterSpec;
  const role = argument('--role') as ClusterRole;
  if (!CLUSTER_ROLES.includes(role)) throw new Error(`node-main: unknown role ${role}`);
  const nodeName = argument('--node');
  const initial = argument('--initial') === 'active' ? 'active' : 'standby';
  const self = spec.nodes.find((n) => n.role === role && n.node === nodeName);
  if (!self) throw new Error(`node-main: ${role}/${nodeName} is not in the cluster spec`);
  const log = (area: string, message: string): void => {
    process.stderr.write(`${new Date().toISOString()} [${role}/${nodeName} ${area}] ${message}\n`);
  };

  let running: RunningRoleProcess | undefined;
  let db: RoleDeps['db'] | undefined;
  let bus: ClusterBus | undefined;
  const peersMode = spec.activeActive?.includes(role) ?? false;
  // An active-active node serves at its own addresses; the rest of the config is the role's.
  const config = self.sip
    ? { ...spec.config, sip: { ...spec.config.sip, ...self.sip } }
    : self.api
      ? { ...spec.config, api: { ...spec.config.api, port: self.api.port } }
      : spec.config;
  let busStarted = false;
  /**
   * The bus is read by one node of a role only (the offset is the role's). In an active-active
   * role: the founding node with the lowest name, or whoever is the last one living — so a
   * survivor starts reading when its peer dies, and a node that rejoins (started 'standby')
   * never reads beside the survivor.
   */
  const startBusIfLeader = (): void => {
    if (busStarted || !bus || !running) return;
    const living = membership.livingNodes().sort();
    if (peersMode && living.length > 1 && !(initial === 'active' && living[0] === nodeName)) return;
    busStarted = true;
    bus.start(role);
  };
  const membership: Membership = new Membership({
    self,
    peers: spec.nodes.filter((n) => n.role === role && n.node !== nodeName),
    timing: spec.timing,
    initial,
    async activate() {
      db = openStore(spec.config.store.file, { busyTimeoutMs: spec.config.store.busyTimeoutMs });
      reportWriteBehind(db, spec.timing.advertIntervalMs, (message) => log('store', message));
      bus = new ClusterBus(db, {
        pollMs: spec.timing.busPollMs ?? DEFAULT_BUS_POLL_MS,
        log: (message) => log('bus', message),
      });
      const deps: RoleDeps = { config, db, bus, log };
      const activeActive = peersMode
        ? { node: nodeName, isDead: (peer: string) => membership.isDead(peer) }
        : undefined;
      running = await startWithRetries(
        () => startRoleProcess(role, deps, activeActive, sipControlOf(spec)),
        (message) => log('node', message),
      );
      // Only the active node reads the bus, and only once its role is there to listen.
      startBusIfLeader();
    },
    mode: peersMode ? 'peers' : 'takeover',
    onPeerDead: (peer) => {
      running?.peerDead(peer);
      startBusIfLeader();
    },
    onState: (state, epoch, fenced) => report({ type: 'state', state, epoch, fenced }),
    log: (message) => log('membership', message),
    // Replaced while it thought itself active (it was hung and came back): leave at once, no
    // clean stop, so it never answers on addresses that now belong to the other node.
    superseded: () => process.exit(3),
    fence: async (node, pid) => (await askSupervisorToFence(node, pid)).killed,
    fenceUnheard: async (node, unheardForMs) => {
      const reply = await askSupervisorToFence(node, 0, unheardForMs);
      return reply.refused ? 'refused' : reply.killed ? 'killed' : 'gone';
    },
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    membership.stop();
    bus?.stop();
    await running?.stop();
    // Logs whatever still waits for the store: it is lost with this process.
    if (db) writeBehind(db, (message) => log('store', message)).stop();
    db?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  // The supervisor is gone: a node never outlives the topology that started it.
  process.on('disconnect', () => void stop());
  await membership.start();
}

/** An active-active sip role's live-call control address of each node (empty otherwise). */
function sipControlOf(spec: ClusterSpec): Record<string, { host: string; port: number }> {
  const control: Record<string, { host: string; port: number }> = {};
  for (const node of spec.nodes)
    if (node.role === 'sip' && node.sip)
      control[node.node] = { host: spec.config.host, port: node.sip.controlPort };
  return control;
}

/** Tells the supervisor whenever the node's queue of writes waiting for the store changes. */
/**
 * A role's start writes to the store (restoring sessions, marking connectors); when several nodes
 * start at once on a loaded machine one of them can find the store busy past its short busy
 * timeout. A failed start has already stopped what it started, so it is simply tried again —
 * between attempts the event loop runs, so this node's adverts keep going out.
 */
async function startWithRetries<T>(start: () => Promise<T>, log: (message: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (error) {
      if (!isStoreBusy(error) || attempt >= START_ATTEMPTS) throw error;
      log(
        `starting the role found the store busy (${(error as Error).message}); attempt ${attempt + 1} of ${START_ATTEMPTS}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

const START_ATTEMPTS = 5;

function reportWriteBehind(db: RoleDeps['db'], everyMs: number, log: (message: string) => void): void {
  const writes = writeBehind(db, log);
  let last = '';
  setInterval(() => {
    const { queued, oldestSince, outage } = writes.status();
    const now = JSON.stringify([queued, oldestSince, outage]);
    if (now !== last) report({ type: 'store', queued, oldestSince, outage });
    last = now;
  }, everyMs).unref();
}

main().catch((error: unknown) => {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${new Date().toISOString()} [node-main] failed: ${reason}\n`);
  report({ type: 'failed', reason: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
