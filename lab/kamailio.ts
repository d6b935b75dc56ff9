/**
 * Starts real Kamailio (lab/kamailio.cfg) as the SIP edge of the lab lane: phones and carriers
 * talk to it, it hands every new request to a sip-edge node chosen by its dispatcher (set 1).
 * Every value the config needs is passed with -A; the dispatcher list is written into runDir.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { startDaemon, type Daemon } from './daemons';

export interface KamailioOptions {
  /** UDP port for phones and carriers (0: a free one). */
  udpPort: number;
  /** WebSocket (TCP) port for WS phones (0: a free one). */
  wsPort: number;
  /** The sip-edge nodes, highest priority first (the dispatcher prefers the first live one). */
  sipEdges: Array<{ host: string; port: number }>;
  /** The SIP domain phones register in (Kamailio treats it as its own name). */
  domain: string;
  /** Where the pid file and the dispatcher list go (created if missing). */
  runDir: string;
  logFile: string;
  /** Extra `#!define`s of lab/kamailio.cfg (e.g. PIKE_DENSITY: '50'); strings need their quotes. */
  defines?: Record<string, string>;
}

export interface RunningKamailio {
  udp: { host: string; port: number };
  ws: string;
  daemon: Daemon;
}

export const KAMAILIO_CFG = resolve(__dirname, 'kamailio.cfg');
const HOST = '127.0.0.1';
/** FACTS §4: ready in ~0.1 s here; the bound leaves room for a loaded machine. */
const READY_WITHIN_MS = 10_000;
const PROBE_EVERY_MS = 100;
const MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/kamailio/modules',
  '/usr/lib/aarch64-linux-gnu/kamailio/modules',
  '/usr/lib64/kamailio/modules',
  '/usr/lib/kamailio/modules',
  '/usr/local/lib64/kamailio/modules',
  '/usr/local/lib/kamailio/modules',
];

/** Kamailio's module directory on this machine (where tm.so is). */
export function kamailioModulesDir(): string {
  const found = MODULE_DIRS.find((dir) => existsSync(join(dir, 'tm.so')));
  if (!found)
    throw new Error(
      `Kamailio's modules (tm.so) are in none of ${MODULE_DIRS.join(', ')}: run lab/install.sh as root`,
    );
  return found;
}

/** Dispatcher set 1, one line per sip-edge node: "setid uri flags priority" (first = highest). */
export function dispatcherList(sipEdges: ReadonlyArray<{ host: string; port: number }>): string {
  return sipEdges
    .map((edge, index) => `1 sip:${edge.host}:${edge.port} 0 ${sipEdges.length - index}\n`)
    .join('');
}

/** The -A arguments for lab/kamailio.cfg. */
export function kamailioDefines(values: {
  udpPort: number;
  wsPort: number;
  runDir: string;
  dispatcherList: string;
  modulesDir: string;
  extra?: Record<string, string>;
}): string[] {
  const defines: Record<string, string> = {
    SIP_PORT: String(values.udpPort),
    WS_PORT: String(values.wsPort),
    RUN_DIR: quoted(values.runDir),
    DISPATCHER_LIST: quoted(values.dispatcherList),
    MODULES_DIR: quoted(`${values.modulesDir}/`),
    CTL_SOCKET: quoted(`unix:${join(values.runDir, `kamailio-${values.udpPort}.ctl`)}`),
    ...values.extra,
  };
  return Object.entries(defines).flatMap(([name, value]) => ['-A', `${name}=${value}`]);
}

/**
 * The platform's SIP jail settings (GET /ops/v1/settings security.sipFraud), as far as Kamailio
 * enforces them at the door. Declared here: lab/ never imports platform/.
 */
export interface JailSettings {
  authFailuresBeforeBan: number;
  failureWindowMs: number;
  banMs: number;
  scannerUserAgents: readonly string[];
}

/**
 * lab/kamailio.cfg's jail and scanner filter with the platform's own thresholds, so the door and
 * the sip-edge ban the same address after the same failure for the same time. htable expiry has
 * whole seconds: the failure window is rounded up (at least 1 s), the ban itself is kept in ms.
 */
export function jailDefines(jail: JailSettings): Record<string, string> {
  for (const [name, value] of Object.entries({
    authFailuresBeforeBan: jail.authFailuresBeforeBan,
    failureWindowMs: jail.failureWindowMs,
    banMs: jail.banMs,
  }))
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`jail setting ${name} is not a positive integer: ${value}`);
  // The fragments become one regex inside a cfg string: plain words only, nothing to escape.
  const unsafe = jail.scannerUserAgents.find((ua) => !/^[A-Za-z0-9 _/-]+$/.test(ua));
  if (unsafe !== undefined || jail.scannerUserAgents.length === 0)
    throw new Error(
      `scanner User-Agents Kamailio's regex cannot carry: ${JSON.stringify(jail.scannerUserAgents)}`,
    );
  const windowS = Math.max(1, Math.ceil(jail.failureWindowMs / 1000));
  const banS = Math.ceil(jail.banMs / 1000) + 1;
  return {
    AUTH_FAILURES_BEFORE_BAN: String(jail.authFailuresBeforeBan),
    BAN_MS: String(jail.banMs),
    AUTHFAIL_TABLE: `"authfail=>size=8;autoexpire=${windowS};initval=0;"`,
    AUTHBAN_TABLE: `"authban=>size=8;autoexpire=${banS};"`,
    SCANNER_UA: `"${jail.scannerUserAgents.join('|')}"`,
  };
}

function quoted(path: string): string {
  if (/["\\\n]/.test(path)) throw new Error(`a path Kamailio's config cannot quote: ${path}`);
  return `"${path}"`;
}

export async function startKamailio(options: KamailioOptions): Promise<RunningKamailio> {
  if (options.sipEdges.length === 0) throw new Error('startKamailio: no sip-edge node to dispatch to');
  const [udpPort, wsPort] = await freeSipPorts([options.udpPort, options.wsPort]);
  mkdirSync(options.runDir, { recursive: true });
  const list = join(options.runDir, `dispatcher-${udpPort}.list`);
  writeFileSync(list, dispatcherList(options.sipEdges));
  const args = [
    '-f',
    KAMAILIO_CFG,
    '-P',
    join(options.runDir, `kamailio-${udpPort}.pid`),
    '-DD',
    '-E',
    ...kamailioDefines({
      udpPort,
      wsPort,
      runDir: options.runDir,
      dispatcherList: list,
      modulesDir: kamailioModulesDir(),
      extra: options.defines,
    }),
  ];
  const daemon = await startDaemon({
    name: 'Kamailio',
    command: 'kamailio',
    args,
    logFile: options.logFile,
    ready: () => answersOptions({ host: HOST, port: udpPort }, options.domain),
    readyWithinMs: READY_WITHIN_MS,
  });
  return { udp: { host: HOST, port: udpPort }, ws: `ws://${HOST}:${wsPort}`, daemon };
}

/**
 * Resolves once Kamailio answers an OPTIONS to itself with 200 over UDP; asks again every
 * 100 ms until then (before it binds, the datagrams are simply lost), and gives up after
 * `withinMs` (so a Kamailio that never answers leaves no probe running).
 */
export async function answersOptions(
  target: { host: string; port: number },
  domain: string,
  withinMs = READY_WITHIN_MS,
): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((done, fail) => socket.once('error', fail).bind(0, HOST, done));
  const callId = `ready-${randomBytes(6).toString('hex')}`;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((done, fail) => {
      deadline = setTimeout(
        () =>
          fail(new Error(`no 200 to OPTIONS from udp:${target.host}:${target.port} within ${withinMs} ms`)),
        withinMs,
      );
      socket.on('message', (data) => {
        const text = data.toString('latin1');
        if (text.startsWith('SIP/2.0 200') && text.includes(callId)) done();
      });
      const send = (): void => {
        const { port } = socket.address();
        const request =
          `OPTIONS sip:${target.host}:${target.port} SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP ${HOST}:${port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:lab-probe@${domain}>;tag=${randomBytes(4).toString('hex')}\r\n` +
          `To: <sip:${target.host}:${target.port}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\n` +
          `Content-Length: 0\r\n\r\n`;
        socket.send(request, target.port, target.host);
        timer = setTimeout(send, PROBE_EVERY_MS);
      };
      send();
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
    socket.close();
  }
}

/**
 * Ports for Kamailio's UDP and WebSocket listeners: each given port as is, each 0 replaced by
 * one that is free for both UDP and TCP right now (Kamailio binds them a moment later).
 */
export async function freeSipPorts(wanted: number[]): Promise<number[]> {
  const chosen: number[] = [];
  for (const port of wanted) {
    if (port !== 0) {
      chosen.push(port);
      continue;
    }
    for (let attempt = 0; ; attempt++) {
      const candidate = await freeTcpPort();
      if (!chosen.includes(candidate) && !wanted.includes(candidate) && (await udpFree(candidate))) {
        chosen.push(candidate);
        break;
      }
      if (attempt >= 20) throw new Error('no port free for both UDP and TCP on 127.0.0.1 after 20 tries');
    }
  }
  return chosen;
}

function freeTcpPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createSocket('udp4');
    socket.once('error', () => done(false));
    socket.bind(port, HOST, () => socket.close(() => done(true)));
  });
}
