/**
 * Runs the unit tests (node's test runner) over every test/**\/*.test.ts file.
 * Node 20's runner does not expand globs itself, so the files are listed here.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Any single unit test running longer than this is a hang, not a slow test. */
export const UNIT_TEST_TIMEOUT_MS = 60_000;

export function unitTestFiles(dir = 'test'): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Node arguments that run every unit test with the spec reporter and the per-test bound. */
export function unitTestArgs(): string[] {
  return [
    '--require',
    'ts-node/register/transpile-only',
    '--test',
    `--test-timeout=${UNIT_TEST_TIMEOUT_MS}`,
    '--test-reporter=spec',
    ...unitTestFiles(),
  ];
}

if (require.main === module) {
  const child = spawn(process.execPath, [...unitTestArgs(), ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('close', (code) => process.exit(code ?? 1));
}
