/**
 * Port blocks for the lab's real peers, claimed with lock files. Kamailio's: its ports must be known before the platform starts (it trusts
 * Kamailio's address) and Kamailio binds them only after it, so each worker claims a small block
 * with an exclusive lock file, below rtpengine's blocks (12000–19999, lab/rtpengine.ts), the
 * cluster's (20000–31999) and Linux's ephemeral range (32768–60999, where phones' sockets come
 * from): nothing else takes them meanwhile. A block whose owner died is claimed again, and each
 * port is still checked free before it is handed out.
 */
import { createServer } from 'node:net';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning } from './daemons';

/** A range of blocks: block i is ports from + i·size … from + (i+1)·size − 1. */
export interface PortBlockRange {
  /** What the blocks are for, in messages ("lab", "rtpengine"). */
  name: string;
  from: number;
  size: number;
  count: number;
  /** Where the lock files live (one per claimed block, holding the owner's PID). */
  lockDir: string;
}

/** Kamailio's blocks: a UDP and a WebSocket port per worker, with room for busy ones. */
export const LAB_PORT_BLOCKS: PortBlockRange = {
  name: 'lab',
  from: 10_000,
  size: 10,
  count: 200,
  lockDir: join(tmpdir(), 'phase2-lab-port-blocks'),
};

export interface PortBlock {
  readonly first: number;
  readonly last: number;
  /** The next port of the block that binds free for this protocol. */
  next(kind: 'tcp' | 'udp'): Promise<number>;
  release(): void;
}

/** Claims a free block of `range` with an exclusive lock file (one left by a dead owner is taken over). */
export function claimPortBlock(range: PortBlockRange): PortBlock {
  mkdirSync(range.lockDir, { recursive: true });
  const start = Math.floor(Math.random() * range.count);
  for (let i = 0; i < range.count; i += 1) {
    const block = (start + i) % range.count;
    const lock = join(range.lockDir, String(block));
    if (!tryLock(lock)) continue;
    const first = range.from + block * range.size;
    const last = first + range.size - 1;
    let offset = 0;
    return {
      first,
      last,
      async next(kind) {
        while (offset < range.size) {
          const port = first + offset;
          offset += 1;
          if (await bindsFree(kind, port)) return port;
        }
        throw new Error(`${range.name} port block ${first}–${last} has no free port left`);
      },
      release: () => rmSync(lock, { force: true }),
    };
  }
  throw new Error(`every ${range.name} port block in ${range.lockDir} is claimed by a running process`);
}

/** Kamailio's ports for one worker (see LAB_PORT_BLOCKS). */
export function claimLabPorts(): PortBlock {
  return claimPortBlock(LAB_PORT_BLOCKS);
}

/** Creates the lock file exclusively; takes over one left by a process that no longer runs. */
function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    let owner = NaN;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
    } catch {
      // removed meanwhile: try again below
    }
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

export function bindsFree(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const server = createServer();
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
