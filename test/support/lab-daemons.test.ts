import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, groupMembers, killRegisteredDaemons, startDaemon } from '../../lab/daemons';

/** A registry of this test's own, so nothing another run registered is ever touched. */
function withRegistry(): { dir: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'phase2-daemons-test-'));
  const before = process.env.PHASE2_LAB_DAEMONS;
  process.env.PHASE2_LAB_DAEMONS = dir;
  return {
    dir,
    done() {
      if (before === undefined) delete process.env.PHASE2_LAB_DAEMONS;
      else process.env.PHASE2_LAB_DAEMONS = before;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a started daemon is registered by PID, and its stop ends it and removes the entry', async () => {
  const registry = withRegistry();
  const logDir = mkdtempSync(join(tmpdir(), 'phase2-daemons-log-'));
  try {
    const daemon = await startDaemon({
      name: 'sleeper',
      command: 'sleep',
      args: ['300'],
      logFile: join(logDir, 'sleeper.log'),
      ready: () => Promise.resolve(),
      readyWithinMs: 1_000,
    });
    assert.deepEqual(readdirSync(registry.dir), [String(daemon.pid)]);
    assert.ok(running(daemon.pid));
    await daemon.stop();
    assert.equal(await daemon.exited, 'killed by SIGTERM');
    assert.deepEqual(readdirSync(registry.dir), [], 'the entry goes with the process');
  } finally {
    registry.done();
    rmSync(logDir, { recursive: true, force: true });
  }
});

test('a daemon whose owner is gone is killed by PID, with the workers of its process group', async () => {
  const registry = withRegistry();
  const sleep = findExecutable('sleep');
  const sh = findExecutable('sh');
  assert.ok(sleep && sh);
  // A stand-in for Kamailio: a group leader with a worker of its own, "owned" by a dead process.
  const leader = spawn(sh, ['-c', `${sleep} 300 & exec ${sleep} 301`], { detached: true, stdio: 'ignore' });
  const pid = leader.pid as number;
  try {
    await waitFor(() => groupMembers(pid, sleep).length === 2, 'the leader and its worker to run sleep');
    writeFileSync(
      join(registry.dir, String(pid)),
      JSON.stringify({ name: 'sleeper', pid, owner: 999_999_999, command: sleep, args: ['301'] }),
    );
    const stopped = killRegisteredDaemons();
    assert.deepEqual(stopped, [`sleeper (pid ${pid} and 1 of its workers, started by pid 999999999)`]);
    await waitFor(() => groupMembers(pid, sleep).length === 0, 'the group to be gone');
    assert.deepEqual(readdirSync(registry.dir), []);
  } finally {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    registry.done();
  }
});

test('an entry whose PID now runs another command is dropped, and that process is left alone', async () => {
  const registry = withRegistry();
  const sleep = findExecutable('sleep');
  assert.ok(sleep);
  const other = spawn(sleep, ['300'], { detached: true, stdio: 'ignore' });
  const pid = other.pid as number;
  try {
    writeFileSync(
      join(registry.dir, String(pid)),
      JSON.stringify({ name: 'Kamailio', pid, owner: 999_999_999, command: '/usr/sbin/kamailio', args: [] }),
    );
    assert.deepEqual(killRegisteredDaemons({ all: true }), []);
    assert.ok(running(pid), 'a process that is not the registered command is never killed');
    assert.deepEqual(readdirSync(registry.dir), [], 'the stale entry is removed');
  } finally {
    other.kill('SIGKILL');
    registry.done();
  }
});

test("a live owner's daemons are left to it unless all are asked for", async () => {
  const registry = withRegistry();
  const sleep = findExecutable('sleep');
  assert.ok(sleep);
  const child = spawn(sleep, ['300'], { detached: true, stdio: 'ignore' });
  const pid = child.pid as number;
  try {
    const entry = { name: 'sleeper', pid, owner: process.pid, command: sleep, args: ['300'] };
    writeFileSync(join(registry.dir, String(pid)), JSON.stringify(entry));
    assert.deepEqual(killRegisteredDaemons(), []);
    assert.ok(running(pid));
    assert.deepEqual(killRegisteredDaemons({ all: true }), [
      `sleeper (pid ${pid}, started by pid ${process.pid})`,
    ]);
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  } finally {
    child.kill('SIGKILL');
    registry.done();
  }
});

async function waitFor(condition: () => boolean, what: string, withinMs = 3_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`waited ${withinMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
