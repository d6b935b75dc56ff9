/**
 * The lab lane's real rtpengine (Debian's rtpengine-daemon): started as a child of the worker
 * over lab/daemons.ts, in userspace on loopback, controlled over its ng protocol (UDP), ready
 * once it answers an ng "ping". The platform's sip-edge drives it like Kamailio's rtpengine
 * module does (PlatformConfig.media.externalRelay).
 */
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from './daemons';
import { claimPortBlock, type PortBlockRange } from './ports';

export interface RtpengineOptions {
  /** UDP port of the ng control listener on 127.0.0.1. */
  ngPort: number;
  /** Media ports rtpengine may use (RTP on even ports, RTCP next to them). */
  portMin: number;
  portMax: number;
  logFile: string;
  /**
   * rtpengine's own RTP timeouts (--timeout, --silent-timeout), in seconds. The platform ends
   * silent calls itself (config.media.inactivityTimeoutMs, from ng query): rtpengine must not
   * drop a call under it first, so both default to a day.
   */
  timeoutSeconds?: number;
  silentTimeoutSeconds?: number;
  readyWithinMs?: number;
}

export interface RunningRtpengine {
  ng: { host: '127.0.0.1'; port: number };
  daemon: Daemon;
}

const HOST = '127.0.0.1';
const DAY_SECONDS = 86_400;

/** The command line: FACTS §4's userspace-on-loopback flags (no config file, no kernel table). */
export function rtpengineArgs(options: RtpengineOptions): string[] {
  return [
    '--config-file=none', // otherwise /etc/rtpengine/rtpengine.conf adds listeners of its own
    '--table=-1', // userspace forwarding only: no kernel module here
    `--interface=${HOST}`,
    `--listen-ng=${HOST}:${options.ngPort}`,
    `--port-min=${options.portMin}`,
    `--port-max=${options.portMax}`,
    '--foreground',
    '--log-stderr',
    '--log-level=6',
    '--delete-delay=0', // a deleted call's ports are free at once, not 30 s later
    `--timeout=${options.timeoutSeconds ?? DAY_SECONDS}`,
    `--silent-timeout=${options.silentTimeoutSeconds ?? DAY_SECONDS}`,
  ];
}

export async function startRtpengine(options: RtpengineOptions): Promise<RunningRtpengine> {
  if (options.portMin % 2 !== 0 || options.portMax <= options.portMin + 3)
    throw new Error(
      `rtpengine media ports ${options.portMin}-${options.portMax}: the range must start on an even port and hold at least one RTP/RTCP pair per party`,
    );
  const readyWithinMs = options.readyWithinMs ?? 5_000;
  const daemon = await startDaemon({
    name: 'rtpengine',
    command: 'rtpengine',
    args: rtpengineArgs(options),
    logFile: options.logFile,
    ready: () => waitForPong(options.ngPort, readyWithinMs),
    readyWithinMs,
  });
  return { ng: { host: HOST, port: options.ngPort }, daemon };
}

/** Pings until rtpengine answers "pong" (it binds its ng socket about 0.2 s after it starts). */
async function waitForPong(port: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) if (await ngPing(port, 200)) return;
  throw new Error(`rtpengine did not answer an ng ping on udp:${HOST}:${port} within ${withinMs} ms`);
}

/** One ng "ping"; true when the answer is "pong" with our cookie. lab/ may not import platform/, hence bencode by hand. */
export function ngPing(port: number, withinMs: number): Promise<boolean> {
  const cookie = `lab_${process.pid}_${Date.now()}`;
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    let settled = false;
    const done = (answered: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), withinMs);
    socket.on('error', () => done(false)); // ICMP "port unreachable" before it listens
    socket.on('message', (reply) => {
      const text = reply.toString('latin1');
      if (text.startsWith(`${cookie} `)) done(/6:result4:pong/.test(text));
    });
    socket.connect(port, HOST, () => socket.send(`${cookie} d7:command4:pinge`));
  });
}

/**
 * Addresses for one rtpengine: a block of ports claimed with an exclusive lock file, so two
 * workers (and a failover cluster) each running an rtpengine at the same time never share an ng
 * port or media ports. Blocks lie below Linux's ephemeral range (32768–60999, where the phones'
 * RTP sockets come from) and below the cluster supervisor's blocks (20000–31999). The block's
 * first free port is the ng port; the media range is the rest, from the next even port.
 */
export interface RtpenginePorts {
  ngPort: number;
  portMin: number;
  portMax: number;
  /** Gives the block back (the lock is also taken over once its owner has exited). */
  release(): void;
}

const BLOCKS: PortBlockRange = {
  name: 'rtpengine',
  from: 12_000,
  size: 500,
  count: 16,
  lockDir: join(tmpdir(), 'phase2-rtpengine-port-blocks'),
};

export function rtpengineBlockLocks(): string {
  return BLOCKS.lockDir;
}

export async function claimRtpenginePorts(): Promise<RtpenginePorts> {
  const block = claimPortBlock(BLOCKS);
  try {
    const ngPort = await block.next('udp');
    if (block.last - ngPort < 4)
      throw new Error(`rtpengine port block ${block.first}–${block.last} has no room for media`);
    const portMin = ngPort % 2 === 0 ? ngPort + 2 : ngPort + 1;
    return { ngPort, portMin, portMax: block.last, release: () => block.release() };
  } catch (error) {
    block.release();
    throw error;
  }
}

/**
 * Claims a port block and starts rtpengine on it; stopping it also gives the block back. What a
 * lab worker calls (the runner's startLabPlatform).
 */
export async function startLabRtpengine(
  logFile: string,
  options: Pick<RtpengineOptions, 'timeoutSeconds' | 'silentTimeoutSeconds'> = {},
): Promise<RunningRtpengine & { ports: RtpenginePorts; stop(): Promise<void> }> {
  const ports = await claimRtpenginePorts();
  try {
    const running = await startRtpengine({ ...options, ...ports, logFile });
    return {
      ...running,
      ports,
      async stop() {
        await running.daemon.stop();
        ports.release();
      },
    };
  } catch (error) {
    ports.release();
    throw error;
  }
}
