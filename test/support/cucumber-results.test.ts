import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countScenarios } from '../../scripts/cucumber-results';

function stream(lines: object[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'msgs-')), 'm.ndjson');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
  return file;
}

const step = (id: string, status: string) => ({
  testStepFinished: { testCaseStartedId: id, testStepResult: { status } },
});
const done = (id: string, willBeRetried = false) => ({
  testCaseFinished: { testCaseStartedId: id, willBeRetried },
});

test('counts passed, failed and skipped scenarios from the message stream', () => {
  const file = stream([
    step('a', 'PASSED'),
    step('a', 'PASSED'),
    done('a'),
    step('b', 'PASSED'),
    step('b', 'FAILED'),
    step('b', 'SKIPPED'),
    done('b'),
    step('c', 'UNDEFINED'),
    done('c'),
    step('d', 'SKIPPED'),
    done('d'),
  ]);
  assert.deepEqual(countScenarios(file), { passed: 1, failed: 2, skipped: 1 });
});

test('an attempt that will be retried is not counted', () => {
  const file = stream([step('a', 'FAILED'), done('a', true), step('b', 'PASSED'), done('b')]);
  assert.deepEqual(countScenarios(file), { passed: 1, failed: 0, skipped: 0 });
});

test('a missing stream counts nothing (the caller treats that as a failure)', () => {
  assert.deepEqual(countScenarios('/nonexistent/file.ndjson'), { passed: 0, failed: 0, skipped: 0 });
});
