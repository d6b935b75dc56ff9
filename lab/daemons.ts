/**
 * The lab lane's real peers (rtpengine, Kamailio) run as child processes of whoever starts them.
 * Every one is written to a registry directory (one file per PID) while it runs, so `npm run lab`
 * can stop by PID whatever a crashed or interrupted worker left behind, and nothing outlives a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface DaemonSpec {
  /** What people call it in messages: "rtpengine", "Kamailio". */
  name: string;
  /** An absolute path or a name looked up on PATH, /usr/sbin and /usr/bin. */
  command: string;
  args: string[];
  /** stdout and stderr of the daemon go here (appended). */
  logFile: string;
  /** Resolves once the daemon serves (e.g. answers a ping); rejected or late means it did not start. */
  ready: () => Promise<void>;
  readyWithinMs: number;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, with how. */
  readonly exited: Promise<string>;
  /** SIGTERM, then SIGKILL if it is still there after a grace; resolves once it is gone. */
  stop(): Promise<void>;
}

/** Where running daemons are registered; `npm run lab` points every worker at one directory. */
export function daemonRegistry(): string {
  return process.env.PHASE2_LAB_DAEMONS ?? join(tmpdir(), 'phase2-lab-daemons');
}

const STOP_GRACE_MS = 3000;

/** The executable's path, or null when it is not installed. */
export function findExecutable(command: string): string | null {
  const candidates = command.includes('/')
    ? [command]
    : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'].map((dir) =>
        join(dir, command),
      );
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Children still running when this process exits are killed on the way out (also on a crash). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killChildrenOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) if (child.pid !== undefined) killGroup(child.pid);
  });
}

export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const executable = findExecutable(spec.command);
  if (!executable)
    throw new Error(
      `${spec.name} is not installed (no "${spec.command}" on PATH, /usr/sbin or /usr/bin): run \`npm run lab\`, which installs it, or lab/install.sh as root`,
    );
  const registry = daemonRegistry();
  mkdirSync(registry, { recursive: true });
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  log.write(`--- ${new Date().toISOString()} ${executable} ${spec.args.join(' ')}\n`);
  // A group of its own: Kamailio forks workers that outlive a SIGKILLed main process, so a hard
  // stop kills the whole group. (Also keeps a terminal's Ctrl-C from reaching it before the runner.)
  const child = spawn(executable, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const pid = child.pid;
  if (pid === undefined) {
    const reason = await new Promise<string>((resolve) => child.once('error', (e) => resolve(e.message)));
    log.end();
    throw new Error(`${spec.name} could not be started (${executable}): ${reason}`);
  }
  killChildrenOnExit();
  running.add(child);
  const entry = join(registry, String(pid));
  writeFileSync(
    entry,
    JSON.stringify({ name: spec.name, pid, owner: process.pid, command: executable, args: spec.args }),
  );
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      rmSync(entry, { force: true });
      const how = signal ? `killed by ${signal}` : `exit code ${String(code)}`;
      log.end(`--- ${new Date().toISOString()} ${spec.name} (pid ${pid}) ended: ${how}\n`);
      resolve(how);
    });
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM lets the daemon stop its own workers; the group is killed if it does not in time.
      child.kill('SIGTERM');
      const grace = setTimeout(() => killGroup(pid), STOP_GRACE_MS);
      await exited;
      clearTimeout(grace);
    }
    // Workers orphaned by a main process that died on its own (checked by command: PIDs get reused).
    for (const member of groupMembers(pid, executable)) killQuietly(member);
  };

  // Ready, or the reason it is not: it exited, it did not answer in time, or the probe failed.
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      spec.ready(),
      exited.then((how) => {
        throw new Error(`${spec.name} ended before it was ready (${how})`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${spec.name} was not ready within ${spec.readyWithinMs} ms`)),
          spec.readyWithinMs,
        );
      }),
    ]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its log: ${spec.logFile}`);
  } finally {
    clearTimeout(timer);
  }
  return { name: spec.name, pid, logFile: spec.logFile, exited, stop };
}

/**
 * Stops, by PID, every registered daemon whose owner is gone or that `all` says to stop; returns
 * one line per daemon stopped. A registry entry whose process no longer runs is just removed.
 */
export function killRegisteredDaemons(options: { all?: boolean; registry?: string } = {}): string[] {
  const registry = options.registry ?? daemonRegistry();
  let entries: string[];
  try {
    entries = readdirSync(registry);
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const file of entries) {
    const path = join(registry, file);
    let entry: { name: string; pid: number; owner: number; command: string };
    try {
      entry = JSON.parse(readFileSync(path, 'utf8')) as typeof entry;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    // Only processes of the daemon's group that still run its command: a reused PID is never killed.
    const members = groupMembers(entry.pid, entry.command);
    if (members.length === 0) {
      rmSync(path, { force: true });
      continue;
    }
    if (!options.all && isRunning(entry.owner)) continue;
    for (const member of members) killQuietly(member);
    rmSync(path, { force: true });
    const workers = members.length > 1 ? ` and ${members.length - 1} of its workers` : '';
    stopped.push(`${entry.name} (pid ${entry.pid}${workers}, started by pid ${entry.owner})`);
  }
  return stopped;
}

/** Whether a process with this PID exists (EPERM: it does, owned by someone else). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function runsCommand(pid: number, command: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === command;
  } catch {
    return false;
  }
}

/** The running processes of process group `pgid` whose command is `command` (Linux /proc). */
export function groupMembers(pgid: number, command: string): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, so cut at the last ")".
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && runsCommand(Number(name), command)) members.push(Number(name));
    } catch {
      // ended while we looked
    }
  }
  return members;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // ended meanwhile
  }
}

/** SIGKILL to a daemon's whole process group, while its leader is known to run; nothing left is fine. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}
