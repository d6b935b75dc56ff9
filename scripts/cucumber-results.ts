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

/** A scenario that failed, as a CI summary line names it: its plan case, its name, why. */
export interface FailedScenario {
  caseId: string;
  name: string;
  reason: string;
}

/**
 * The failed scenarios of a message stream, so a red summary line says which scenario failed and
 * why without the reader opening the log (CI shows people only the summary's last lines).
 */
export function failedScenarios(file: string): FailedScenario[] {
  if (!existsSync(file)) return [];
  const pickles = new Map<string, { name: string; tags: string[] }>();
  const pickleOfCase = new Map<string, string>();
  const caseOfAttempt = new Map<string, string>();
  const reasons = new Map<string, string>();
  const failed: FailedScenario[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const envelope = JSON.parse(line) as {
      pickle?: { id: string; name: string; tags: { name: string }[] };
      testCase?: { id: string; pickleId: string };
      testCaseStarted?: { id: string; testCaseId: string };
      testStepFinished?: {
        testCaseStartedId: string;
        testStepResult: { status: string; message?: string };
      };
      testCaseFinished?: { testCaseStartedId: string; willBeRetried: boolean };
    };
    if (envelope.pickle) {
      const { id, name, tags } = envelope.pickle;
      pickles.set(id, { name, tags: tags.map((tag) => tag.name) });
    }
    if (envelope.testCase) pickleOfCase.set(envelope.testCase.id, envelope.testCase.pickleId);
    if (envelope.testCaseStarted) {
      caseOfAttempt.set(envelope.testCaseStarted.id, envelope.testCaseStarted.testCaseId);
    }
    const finished = envelope.testStepFinished;
    if (finished && !['PASSED', 'SKIPPED'].includes(finished.testStepResult.status)) {
      if (!reasons.has(finished.testCaseStartedId)) {
        const message = finished.testStepResult.message?.split('\n').find((l) => l.trim()) ?? '';
        reasons.set(
          finished.testCaseStartedId,
          `${finished.testStepResult.status.toLowerCase()}: ${message.trim()}`,
        );
      }
    }
    const ended = envelope.testCaseFinished;
    if (ended && !ended.willBeRetried && reasons.has(ended.testCaseStartedId)) {
      const pickle = pickles.get(pickleOfCase.get(caseOfAttempt.get(ended.testCaseStartedId) ?? '') ?? '');
      failed.push({
        caseId: pickle?.tags.find((tag) => /^@(TEST-INT|JOURNEY)-\d+$/.test(tag))?.slice(1) ?? '',
        name: pickle?.name ?? ended.testCaseStartedId,
        reason: reasons.get(ended.testCaseStartedId) ?? '',
      });
    }
  }
  return failed;
}

/** One line per failed scenario, each cut to `width` characters. */
export function describeFailures(failures: FailedScenario[], width = 240): string {
  return failures
    .map((f) => `${f.caseId ? `${f.caseId} ` : ''}"${f.name}" ${f.reason}`.slice(0, width))
    .join(' | ');
}
