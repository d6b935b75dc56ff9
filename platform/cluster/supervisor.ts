/**
 * The redundant reference platform: the supervisor starts every node of every role as its own
 * operating-system process (two per role unless told otherwise), gives each role fixed addresses
 * that whichever node is active binds, and serves the fault seam (`/ops/v1/nodes`,
 * `/ops/v1/faults`) itself, so the endpoint survives any node it crashes. It is what systemd
 * plus keepalived are in a deployment: it starts processes and can kill them; it never routes
 * traffic — the nodes take over each other's addresses by themselves (membership.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PlatformConfig } from '../config';
import type { PlatformEndpointsInfo, PlatformLog } from '../index';
import { openStore } from '../store/store';
import { buildPlatform } from './build';
import { DATABASE_ROLE, DatabaseFaultRefused, DatabaseOutage } from './store-outage';
import {
  CLUSTER_ROLES,
  type ClusterNodeSpec,
  type ClusterRole,
  type ClusterSpec,
  type ClusterTiming,
  type FenceReply,
  type NodeReport,
} from './spec';

export type NodeState = 'starting' | 'standby' | 'activating' | 'active' | 'hung' | 'down';

export interface NodeStatus {
  role: ClusterRole | typeof DATABASE_ROLE;
  node: string;
  state: NodeState;
  pid: number | null;
  since: string;
  /** How the process last ended, e.g. "SIGKILL (fenced by b)"; null while it runs. */
  exit: string | null;
  /** Its writes waiting for the store (platform/store/write-behind.ts); null before it opened the store. */
  store?: { queued: number; oldestAgeMs: number | null; outage: boolean } | null;
}

export type FaultAction = 'crash' | 'hang' | 'recover';

export interface FaultOutcome {
  role: ClusterRole | typeof DATABASE_ROLE;
  node: string;
  pid: number | null;
  action: FaultAction;
  at: string;
}

export interface ClusterOptions {
  /** The config every node gets; its ports are replaced by the supervisor's fixed ones when 0. */
  config: PlatformConfig;
  dataDir: string;
  nodesPerRole?: number;
  /** The roles to run redundantly (default: all); the others are not started at all. */
  roles?: readonly ClusterRole[];
  timing: ClusterTiming;
  /**
   * Roles whose nodes all serve at once, each at its own addresses, with no address takeover:
   * 'sip' (sip-edge nodes behind Kamailio's dispatcher, which does the failing over; a survivor
   * fences a silent peer and adopts its calls from the store) and 'api' (gateway nodes behind a
   * load balancer, sharing the store's counters, keys and request log).
   */
  activeActive?: readonly ClusterRole[];
}

/** One node of an active-active sip role: where a dispatcher in front reaches it. */
export interface SipNodeAddress {
  node: string;
  udp: { host: string; port: number };
  ws: string;
}

export interface RunningCluster {
  endpoints: PlatformEndpointsInfo;
  /** Base URL of the fault seam; requests need the operator key in `apikey`. */
  faultUrl: string;
  /** The role nodes, then the store's primary (role database; see store-outage.ts). */
  nodes(): NodeStatus[];
  fault(role: string, node: string, action: string): Promise<FaultOutcome>;
  /**
   * Active-active sip: every node's own addresses, in order of preference (node a first); the
   * endpoints' sip addresses are node a's. Empty when the sip role takes over one address.
   */
  sipNodes: SipNodeAddress[];
  /** Active-active api: every gateway node's own base URL (node a first); empty otherwise. */
  apiNodes: Array<{ node: string; apiUrl: string }>;
  stop(): Promise<void>;
}

/** How long a node may take to boot and report; past it the start fails naming the node. */
const NODE_START_BOUND_MS = 20_000;

/** What a fence did: killed the node, found it gone already, or refused (pid 0, still starting). */
type FenceOutcome = 'killed' | 'gone' | 'refused';

class NodeProcess {
  child: ChildProcess | undefined;
  state: NodeState = 'down';
  since = new Date().toISOString();
  exit: string | null = null;
  fencedBy: string | undefined;
  /**
   * When the current process first reported a state (its membership was up, sending adverts); 0
   * before. A never-heard peer is fenced only that long after: one still loading is left alone.
   */
  reportingSince = 0;
  store: Extract<NodeReport, { type: 'store' }> | null = null;
  private waiters: Array<{ states: NodeState[]; resolve: () => void }> = [];

  constructor(
    readonly spec: ClusterNodeSpec,
    private readonly entry: string,
    private readonly specFile: string,
    private readonly log: PlatformLog,
    private readonly onFenced: (role: string, node: string, by: string) => void,
    private readonly fencer: (
      role: string,
      node: string,
      pid: number,
      unheardForMs: number | undefined,
      by: string,
    ) => Promise<FenceOutcome>,
  ) {}

  get name(): string {
    return `${this.spec.role}/${this.spec.node}`;
  }

  start(initial: 'active' | 'standby'): void {
    const args = [
      '--spec',
      this.specFile,
      '--role',
      this.spec.role,
      '--node',
      this.spec.node,
      '--initial',
      initial,
    ];
    // execArgv [] : the nodes run plain JavaScript, not the supervisor's ts-node.
    const child = fork(this.entry, args, { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    this.reportingSince = 0;
    this.exit = null;
    this.fencedBy = undefined;
    this.setState('starting');
    const forward = (data: Buffer): void => {
      for (const line of data.toString('utf8').split('\n')) if (line.trim()) this.log(this.name, line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('message', (message: NodeReport) => {
      if (message.type === 'state') {
        this.reportingSince ||= Date.now();
        if (message.fenced) {
          this.log(
            'supervisor',
            `${this.name} fenced ${this.spec.role}/${message.fenced.node} (pid ${message.fenced.pid})`,
          );
          this.onFenced(this.spec.role, message.fenced.node, this.spec.node);
        }
        this.setState(message.state);
      } else if (message.type === 'store') {
        this.store = message;
      } else if (message.type === 'fence') {
        void this.fencer(
          this.spec.role,
          message.node,
          message.pid,
          message.unheardForMs,
          this.spec.node,
        ).then((outcome) => {
          // The asking node may itself have died meanwhile.
          if (child.connected)
            child.send({
              type: 'fenced',
              request: message.request,
              killed: outcome === 'killed',
              refused: outcome === 'refused' || undefined,
            } satisfies FenceReply);
        });
      } else this.log('supervisor', `${this.name} failed: ${message.reason}`);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.exit = signal ?? `exit code ${code}`;
      this.log('supervisor', `${this.name} (pid ${child.pid}) ended: ${this.exit}`);
      this.store = null;
      this.setState('down');
    });
  }

  setState(state: NodeState): void {
    this.state = state;
    this.since = new Date().toISOString();
    const ready = this.waiters.filter((w) => w.states.includes(state));
    this.waiters = this.waiters.filter((w) => !w.states.includes(state));
    for (const waiter of ready) waiter.resolve();
  }

  /** Resolves when the node reaches one of `states`; rejects after `boundMs` naming what it saw. */
  until(states: NodeState[], boundMs: number, logHint: string): Promise<void> {
    if (states.includes(this.state)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.name} did not become ${states.join(' or ')} within ${boundMs} ms (it is ${this.state}` +
              `${this.exit ? `, ${this.exit}` : ''}); see ${logHint}`,
          ),
        );
      }, boundMs);
      this.waiters.push({
        states,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  status(): NodeStatus {
    return {
      role: this.spec.role,
      node: this.spec.node,
      state: this.state,
      pid: this.state === 'down' ? null : (this.child?.pid ?? null),
      since: this.since,
      // The fencing node reports after the kill it made, so the exit may be seen first.
      exit: this.exit && this.fencedBy ? `${this.exit} (fenced by ${this.fencedBy})` : this.exit,
      store: this.store && {
        queued: this.store.queued,
        oldestAgeMs: this.store.oldestSince ? Date.now() - Date.parse(this.store.oldestSince) : null,
        outage: this.store.outage,
      },
    };
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child?.pid !== undefined && this.state !== 'down') process.kill(this.child.pid, signal);
  }

  /**
   * Fencing: SIGKILL this node if `pid` is still its running process; resolves once it has ended.
   * pid 0 (a peer that never heard it): its current process, if it has been sending adverts (by
   * its reports) for `unheardForMs` — so they should have been heard.
   */
  async kill(pid: number, unheardForMs: number | undefined, by: string): Promise<FenceOutcome> {
    const child = this.child;
    if (!child || this.state === 'down') return 'gone';
    if (pid === 0) {
      const reporting = this.reportingSince > 0 ? Date.now() - this.reportingSince : -1;
      if (reporting < (unheardForMs ?? Infinity)) return 'refused';
    } else if (child.pid !== pid) return 'gone';
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Named before the kill: whoever sees this node down must already see who fenced it.
    this.fencedBy = by;
    child.kill('SIGKILL');
    await ended;
    return 'killed';
  }

  async terminate(): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'down') return;
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.state === 'hung') child.kill('SIGKILL');
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await ended;
    clearTimeout(timer);
  }
}

export async function startCluster(options: ClusterOptions, log: PlatformLog): Promise<RunningCluster> {
  const { entry } = buildPlatform();
  const config: PlatformConfig = structuredClone(options.config);
  const ports = claimPortBlock();
  config.sip.udpPort ||= await ports.next('udp');
  config.sip.wsPort ||= await ports.next('tcp');
  config.smsc.port ||= await ports.next('tcp');
  config.api.port ||= await ports.next('tcp');
  const external = config.media.externalRelay !== undefined;
  if (!external) config.media.ngPort ||= await ports.next('udp');
  config.sip.controlPort ||= await ports.next('tcp');
  const nodesPerRole = options.nodesPerRole ?? 2;
  const nodeNames = 'abcdefgh'.slice(0, nodesPerRole).split('');
  const activeActive = [...(options.activeActive ?? [])];
  const unsupported = activeActive.filter((role) => role !== 'sip' && role !== 'api');
  if (unsupported.length > 0)
    throw new Error(`only the sip and api roles can run active-active, not ${unsupported.join(', ')}`);
  const sipActiveActive = activeActive.includes('sip');
  // Every node of an active-active edge must accept the nonces of the others.
  if (sipActiveActive) config.sip.nonceSecret ??= randomBytes(32).toString('hex');
  const nodeSpecs: ClusterNodeSpec[] = [];
  // With an external relay (rtpengine) the media role is not ours to run.
  const roles = (options.roles ?? CLUSTER_ROLES).filter((role) => !(external && role === 'media'));
  for (const role of roles)
    for (const node of nodeNames) {
      const nodeSpec: ClusterNodeSpec = { role, node, heartbeatPort: await ports.next('udp') };
      if (role === 'sip' && sipActiveActive)
        nodeSpec.sip =
          node === nodeNames[0]
            ? { udpPort: config.sip.udpPort, wsPort: config.sip.wsPort, controlPort: config.sip.controlPort }
            : {
                udpPort: await ports.next('udp'),
                wsPort: await ports.next('tcp'),
                controlPort: await ports.next('tcp'),
              };
      if (role === 'api' && activeActive.includes('api'))
        nodeSpec.api = { port: node === nodeNames[0] ? config.api.port : await ports.next('tcp') };
      nodeSpecs.push(nodeSpec);
    }
  const spec: ClusterSpec = { config, nodes: nodeSpecs, timing: options.timing, activeActive };
  const specFile = join(options.dataDir, 'cluster.json');
  writeFileSync(specFile, JSON.stringify(spec, null, 2));
  // The schema is made once, before any node opens the shared file.
  openStore(config.store.file).close();

  const logHint = 'the platform log';
  const byName = (role: string, node: string): NodeProcess | undefined =>
    nodes.find((n) => n.spec.role === role && n.spec.node === node);
  const nodes: NodeProcess[] = nodeSpecs.map(
    (s) =>
      new NodeProcess(
        s,
        entry,
        specFile,
        log,
        (role, node, by) => {
          const fenced = byName(role, node);
          if (fenced) fenced.fencedBy = by;
        },
        (role, node, pid, unheardForMs, by) =>
          byName(role, node)?.kill(pid, unheardForMs, by) ?? Promise.resolve<FenceOutcome>('gone'),
      ),
  );
  const faultServer = createHttpServer((request, response) => {
    void serveFaults(request, response, config.api.adminApiKey, cluster).catch((error: unknown) => {
      log('supervisor', `fault endpoint failed: ${String(error)}`);
      if (!response.headersSent) problem(response, 500, 'Fault seam error', String(error));
    });
  });

  const database = new DatabaseOutage(join(dirname(entry), 'store-outage.js'), config.store.file, (message) =>
    log('supervisor', message),
  );
  const cluster = {
    nodes: () => [...nodes.map((n) => n.status()), database.status()],
    async fault(role: string, node: string, action: string): Promise<FaultOutcome> {
      if (role === DATABASE_ROLE) return database.fault(node, action);
      if (!CLUSTER_ROLES.includes(role as ClusterRole))
        throw new FaultError(
          404,
          `no role "${role}" (roles: ${[...CLUSTER_ROLES, DATABASE_ROLE].join(', ')})`,
        );
      const target =
        node === 'active'
          ? nodes.find((n) => n.spec.role === role && ['active', 'activating'].includes(n.state))
          : byName(role, node);
      if (!target)
        throw new FaultError(
          404,
          node === 'active' ? `role ${role} has no active node` : `role ${role} has no node "${node}"`,
        );
      const at = new Date().toISOString();
      const pid = target.child?.pid ?? null;
      switch (action) {
        case 'crash':
          log('supervisor', `FAULT crash ${target.name} (pid ${pid}): SIGKILL`);
          target.signal('SIGKILL');
          break;
        case 'hang':
          log('supervisor', `FAULT hang ${target.name} (pid ${pid}): SIGSTOP`);
          target.signal('SIGSTOP');
          if (target.state !== 'down') target.setState('hung');
          break;
        case 'recover':
          log('supervisor', `FAULT recover ${target.name}: back as a standby`);
          await target.terminate();
          // An active-active node rejoins serving at once ('standby' tells it the role is running).
          target.start('standby');
          await target.until(
            activeActive.includes(target.spec.role) ? ['active'] : ['standby', 'active'],
            NODE_START_BOUND_MS,
            logHint,
          );
          break;
        default:
          throw new FaultError(422, `action must be crash, hang or recover, not "${action}"`);
      }
      return { role: target.spec.role, node: target.spec.node, pid, action, at };
    },
  };

  const stopNodes = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.terminate()));
  };
  try {
    // First nodes start active and are serving before the standbys boot, so no standby mistakes a
    // slow first start for a dead node.
    const first = nodes.filter((n) => n.spec.node === nodeNames[0]);
    for (const n of first) n.start('active');
    await Promise.all(first.map((n) => n.until(['active'], NODE_START_BOUND_MS, logHint)));
    const standbys = nodes.filter((n) => n.spec.node !== nodeNames[0]);
    // The other nodes of an active-active role start serving too, at their own addresses.
    const initially = (n: NodeProcess): 'active' | 'standby' =>
      activeActive.includes(n.spec.role) ? 'active' : 'standby';
    for (const n of standbys) n.start(initially(n));
    await Promise.all(standbys.map((n) => n.until([initially(n)], NODE_START_BOUND_MS, logHint)));
    await new Promise<void>((resolve) => faultServer.listen(0, '127.0.0.1', resolve));
  } catch (error) {
    await stopNodes();
    faultServer.close();
    ports.release();
    throw error;
  }
  const address = faultServer.address();
  const faultUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  log('supervisor', `redundant platform up: ${nodes.length} node processes; fault seam ${faultUrl}`);
  return {
    endpoints: {
      sip: {
        udp: { host: config.host, port: config.sip.udpPort },
        ws: `ws://${config.host}:${config.sip.wsPort}`,
        domain: config.sip.domain,
      },
      smpp: { host: config.host, port: config.smsc.port },
      apiUrl: `http://${config.host}:${config.api.port}`,
    },
    faultUrl,
    nodes: cluster.nodes,
    fault: cluster.fault,
    sipNodes: nodeSpecs.flatMap((n) =>
      n.sip
        ? [
            {
              node: n.node,
              udp: { host: config.host, port: n.sip.udpPort },
              ws: `ws://${config.host}:${n.sip.wsPort}`,
            },
          ]
        : [],
    ),
    apiNodes: nodeSpecs.flatMap((n) =>
      n.api ? [{ node: n.node, apiUrl: `http://${config.host}:${n.api.port}` }] : [],
    ),
    async stop() {
      await new Promise<void>((resolve) => faultServer.close(() => resolve()));
      await database.stop();
      await stopNodes();
      ports.release();
    },
  };
}

class FaultError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function serveFaults(
  request: IncomingMessage,
  response: ServerResponse,
  adminApiKey: string,
  cluster: Pick<RunningCluster, 'nodes' | 'fault'>,
): Promise<void> {
  if (request.headers.apikey !== adminApiKey) {
    problem(response, 401, 'Unauthorized', 'the fault seam needs the operator key in the apikey header');
    return;
  }
  const path = (request.url ?? '/').split('?')[0];
  if (request.method === 'GET' && path === '/ops/v1/nodes') {
    json(response, 200, { nodes: cluster.nodes() });
    return;
  }
  if (request.method === 'POST' && path === '/ops/v1/faults') {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: { role?: unknown; node?: unknown; action?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      problem(response, 422, 'Invalid body', 'the body must be JSON: {"role","node","action"}');
      return;
    }
    if (typeof body.role !== 'string' || typeof body.node !== 'string' || typeof body.action !== 'string') {
      problem(response, 422, 'Invalid body', 'role, node and action must be strings');
      return;
    }
    try {
      json(response, 200, await cluster.fault(body.role, body.node, body.action));
    } catch (error) {
      if (error instanceof FaultError || error instanceof DatabaseFaultRefused)
        problem(response, error.status, error.status === 404 ? 'Not found' : 'Invalid fault', error.message);
      else throw error;
    }
    return;
  }
  problem(
    response,
    404,
    'Not found',
    `no ${request.method} ${path} on the fault seam (GET /ops/v1/nodes, POST /ops/v1/faults)`,
  );
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function problem(response: ServerResponse, status: number, title: string, detail: string): void {
  response.writeHead(status, { 'content-type': 'application/problem+json' });
  response.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

/**
 * A role's fixed addresses come from a block of ports below Linux's ephemeral range (32768–60999),
 * so no socket the OS hands out (a phone's RTP) can take a port a standby must bind later. Each
 * supervisor claims a block of its own with an exclusive lock file, so two redundant platforms
 * started at once by different processes never choose the same port; a block whose owner died is
 * claimed again. Each port of the block is still checked free before it is handed out.
 */
const PORT_BLOCKS = { from: 20_000, size: 40, count: 300 } as const;
const BLOCK_LOCKS = join(tmpdir(), 'phase2-cluster-port-blocks');

interface PortBlock {
  next(kind: 'tcp' | 'udp'): Promise<number>;
  release(): void;
}

function claimPortBlock(): PortBlock {
  mkdirSync(BLOCK_LOCKS, { recursive: true });
  const start = Math.floor(Math.random() * PORT_BLOCKS.count);
  for (let i = 0; i < PORT_BLOCKS.count; i += 1) {
    const block = (start + i) % PORT_BLOCKS.count;
    const lock = join(BLOCK_LOCKS, String(block));
    if (!tryLock(lock)) continue;
    const base = PORT_BLOCKS.from + block * PORT_BLOCKS.size;
    let offset = 0;
    return {
      async next(kind) {
        while (offset < PORT_BLOCKS.size) {
          const port = base + offset;
          offset += 1;
          if (await bindsFree(kind, port)) return port;
        }
        throw new Error(`port block ${base}–${base + PORT_BLOCKS.size - 1} has no free port left`);
      },
      release: () => rmSync(lock, { force: true }),
    };
  }
  throw new Error(`every port block in ${BLOCK_LOCKS} is claimed by a running supervisor`);
}

/** Creates the lock file exclusively; takes over one left by a process that no longer runs. */
function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const owner = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) return false;
    rmSync(lock, { force: true });
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bindsFree(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const server = createTcpServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
      return;
    }
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}
