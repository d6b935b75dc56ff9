import { existsSync, readFileSync } from 'node:fs';

export interface ScenarioCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts scenario outcomes from Cucumber's message stream (the `message:` formatter). A
 * scenario passes when every step passed; any failed, undefined, pending or ambiguous step
 * fails it; a scenario whose steps were all skipped counts as skipped.
 */
export function countScenarios(file: string): ScenarioCounts {
  const counts: ScenarioCounts = { passed: 0, failed: 0, skipped: 0 };
  if (!existsSync(file)) return counts;
  const stepStatuses = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const envelope = JSON.parse(line) as {
      testStepFinished?: { testCaseStartedId: string; testStepResult: { status: string } };
      testCaseFinished?: { testCaseStartedId: string; willBeRetried: boolean };
    };
    if (envelope.testStepFinished) {
      const { testCaseStartedId, testStepResult } = envelope.testStepFinished;
      const list = stepStatuses.get(testCaseStartedId) ?? [];
      list.push(testStepResult.status);
      stepStatuses.set(testCaseStartedId, list);
    }
    if (envelope.testCaseFinished && !envelope.testCaseFinished.willBeRetried) {
      const statuses = stepStatuses.get(envelope.testCaseFinished.testCaseStartedId) ?? [];
      if (statuses.length > 0 && statuses.every((s) => s === 'PASSED')) counts.passed += 1;
      else if (statuses.length > 0 && statuses.every((s) => s === 'SKIPPED')) counts.skipped += 1;
      else counts.failed += 1;
    }
  }
  return counts;
}
