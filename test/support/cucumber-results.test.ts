import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countScenarios, describeFailures, failedScenarios } from '../../scripts/cucumber-results';

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

test('names each failed scenario with its plan case and the first line of why; a retried attempt is not named', () => {
  const file = stream([
    { pickle: { id: 'p1', name: 'Alice calls Bob', tags: [{ name: '@voice' }, { name: '@TEST-INT-010' }] } },
    { pickle: { id: 'p2', name: 'Bob texts Carol', tags: [] } },
    { testCase: { id: 'c1', pickleId: 'p1' } },
    { testCase: { id: 'c2', pickleId: 'p2' } },
    { testCaseStarted: { id: 'a1', testCaseId: 'c1' } },
    step('a1', 'PASSED'),
    {
      testStepFinished: {
        testCaseStartedId: 'a1',
        testStepResult: {
          status: 'FAILED',
          message: '\nTimed out after 5000 ms waiting for the ring\n  at x',
        },
      },
    },
    step('a1', 'SKIPPED'),
    done('a1'),
    { testCaseStarted: { id: 'a2', testCaseId: 'c2' } },
    step('a2', 'FAILED'),
    done('a2', true),
    { testCaseStarted: { id: 'a3', testCaseId: 'c2' } },
    step('a3', 'UNDEFINED'),
    done('a3'),
  ]);
  const failures = failedScenarios(file);
  assert.deepEqual(failures, [
    {
      caseId: 'TEST-INT-010',
      name: 'Alice calls Bob',
      reason: 'failed: Timed out after 5000 ms waiting for the ring',
    },
    { caseId: '', name: 'Bob texts Carol', reason: 'undefined: ' },
  ]);
  assert.equal(
    describeFailures(failures, 40),
    'TEST-INT-010 "Alice calls Bob" failed: T | "Bob texts Carol" undefined: ',
  );
});
