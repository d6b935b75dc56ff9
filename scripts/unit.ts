/**
 * `npm run unit [-- <path filter>] [-- <node option>…]`: the unit tests (node's test runner) over every test/**\/*.test.ts.
 *
 * Speed: one process per test file paid ts-node and the drivers' start-up 60 times, one file at a
 * time. Instead the files are dealt into a few shards (one per core), each shard one process that
 * loads its files once, and node's runner runs the shards side by side and sums their results.
 * Each file is loaded inside a suite named after it, so its top-level before/after hooks stay
 * scoped to its own tests, as they were when it had a process of its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';

/** Any single unit test running longer than this is a hang, not a slow test. */
export const UNIT_TEST_TIMEOUT_MS = 60_000;

/**
 * Tests that drive the real Kamailio and rtpengine (installed by the lab lane, which runs them):
 * not unit tests, so `npm run unit` leaves them out.
 */
export const LAB_TEST_DIR = 'lab';

export function unitTestFiles(dir = 'test'): string[] {
  const lab = join(dir, LAB_TEST_DIR) + sep;
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !file.startsWith(lab))
    .sort();
}

/**
 * Deals files into `count` shards of about equal weight (largest first onto the lightest shard);
 * a file's weight is its size, a rough but stable stand-in for its run time. Empty shards are dropped.
 */
export function shard(files: ReadonlyArray<{ file: string; weight: number }>, count: number): string[][] {
  const shards = Array.from({ length: Math.max(1, count) }, () => ({ weight: 0, files: [] as string[] }));
  const heaviestFirst = [...files].sort((a, b) => b.weight - a.weight || a.file.localeCompare(b.file));
  for (const { file, weight } of heaviestFirst) {
    const lightest = shards.reduce((min, s) => (s.weight < min.weight ? s : min));
    lightest.files.push(file);
    lightest.weight += weight;
  }
  return shards.filter((s) => s.files.length > 0).map((s) => s.files.sort());
}

/** The entry module of one shard: each file required inside a suite named after it. */
export function shardSource(files: readonly string[]): string {
  const lines = ["'use strict';", "const { describe } = require('node:test');"];
  for (const file of files)
    lines.push(`describe(${JSON.stringify(file)}, () => { require(${JSON.stringify(resolve(file))}); });`);
  return `${lines.join('\n')}\n`;
}

export interface UnitRun {
  /** Node arguments: the spec reporter, the per-test bound, the shards side by side. */
  args: string[];
  shards: string[][];
  /** Removes the shard entry modules. */
  cleanup(): void;
}

/** Writes the shard entry modules for these files (a substring filter picks files by path). */
export function prepareUnitRun(options: { filter?: string; shards?: number; dir?: string } = {}): UnitRun {
  const files = unitTestFiles(options.dir).filter(
    (file) => options.filter === undefined || file.includes(options.filter),
  );
  const count = options.shards ?? Math.max(2, availableParallelism());
  const shards = shard(
    files.map((file) => ({ file, weight: statSync(file).size })),
    count,
  );
  const dir = mkdtempSync(join(tmpdir(), 'phase2-unit-'));
  const entries = shards.map((shardFiles, index) => {
    const entry = join(dir, `shard-${index + 1}-of-${shards.length}.js`);
    writeFileSync(entry, shardSource(shardFiles));
    return entry;
  });
  return {
    args: [
      '--require',
      'ts-node/register/transpile-only',
      '--test',
      `--test-concurrency=${shards.length}`,
      `--test-timeout=${UNIT_TEST_TIMEOUT_MS}`,
      '--test-reporter=spec',
      ...entries,
    ],
    shards,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

if (require.main === module) {
  // `npm run unit -- smsc --test-name-pattern=window`: a word picks files, options go to node.
  const extra = process.argv.slice(2);
  const filter = extra.find((arg) => !arg.startsWith('-'));
  const run = prepareUnitRun({ filter });
  if (run.shards.length === 0) {
    console.error(`unit: no test file matches "${filter}"`);
    run.cleanup();
    process.exit(1);
  }
  const options = extra.filter((arg) => arg.startsWith('-'));
  const args = [...run.args.slice(0, -run.shards.length), ...options, ...run.args.slice(-run.shards.length)];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const stop = (): void => void child.kill('SIGINT');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('close', (code) => {
    run.cleanup();
    process.exit(code ?? 1);
  });
}
