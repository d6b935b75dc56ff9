/**
 * Ports for one worker's Kamailio. They must be known before the platform starts (it trusts
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

export const LAB_PORT_BLOCKS = { from: 10_000, size: 10, count: 200 } as const;

export interface LabPortBlock {
  /** The next port of the block that binds free for this protocol. */
  next(kind: 'tcp' | 'udp'): Promise<number>;
  release(): void;
}

export function claimLabPorts(lockDir = join(tmpdir(), 'phase2-lab-port-blocks')): LabPortBlock {
  mkdirSync(lockDir, { recursive: true });
  const start = Math.floor(Math.random() * LAB_PORT_BLOCKS.count);
  for (let i = 0; i < LAB_PORT_BLOCKS.count; i += 1) {
    const block = (start + i) % LAB_PORT_BLOCKS.count;
    const lock = join(lockDir, String(block));
    if (!tryLock(lock)) continue;
    const base = LAB_PORT_BLOCKS.from + block * LAB_PORT_BLOCKS.size;
    let offset = 0;
    return {
      async next(kind) {
        while (offset < LAB_PORT_BLOCKS.size) {
          const port = base + offset;
          offset += 1;
          if (await bindsFree(kind, port)) return port;
        }
        throw new Error(`lab port block ${base}–${base + LAB_PORT_BLOCKS.size - 1} has no free port left`);
      },
      release: () => rmSync(lock, { force: true }),
    };
  }
  throw new Error(`every lab port block in ${lockDir} is claimed by a running process`);
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
