import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildCoverage,
  describeResult,
  parseFeature,
  parsePlan,
  readRunResults,
  validateFeatures,
  worstResult,
  type FeatureInfo,
  type PlanEntry,
} from '../../scripts/plan-coverage';

const plan = parsePlan(readFileSync(join(__dirname, '../../docs/test-plan.md'), 'utf8'));

test('the plan document lists the 40 cases and 3 journeys with their category and week', () => {
  assert.equal(plan.filter((entry) => entry.kind === 'case').length, 40);
  assert.deepEqual(
    plan.filter((entry) => entry.kind === 'journey').map((entry) => entry.id),
    ['JOURNEY-1', 'JOURNEY-2', 'JOURNEY-3'],
  );
  assert.deepEqual(
    plan.find((entry) => entry.id === 'TEST-INT-020'),
    {
      id: 'TEST-INT-020',
      title: 'Send SMS via API',
      kind: 'case',
      category: 'API-SMS Integration',
      categoryTag: 'api-sms',
      week: 2,
    },
  );
  assert.equal(
    plan.find((entry) => entry.id === 'TEST-INT-005')?.title,
    'Two-factor authentication (SMS during call)',
  );
  assert.equal(plan.find((entry) => entry.id === 'JOURNEY-2')?.title, 'Call Center Integration');

  // The week rule: the timeline names categories for weeks 1–4; everything else is week 5.
  const weekByTag: Record<string, number> = {
    'voice-sms': 1,
    'api-voice': 2,
    'api-sms': 2,
    failover: 3,
    security: 3,
    load: 4,
    workflows: 5,
    'data-consistency': 5,
    journeys: 5,
  };
  for (const entry of plan) assert.equal(entry.week, weekByTag[entry.categoryTag], entry.id);
});

test('the plan parser refuses a duplicate id and a row outside a tagged category', () => {
  const category =
    '## 1. Voice-SMS Integration\n\nFeature tag: `@voice-sms`\n\n| id | title | week |\n| - | - | - |\n';
  const row = '| <a id="TEST-INT-001"></a>TEST-INT-001 | SMS notification on missed call | 1 |\n';
  assert.throws(() => parsePlan(category + row + row, 'plan.md'), /plan\.md:8: TEST-INT-001 is listed twice/);
  assert.throws(() => parsePlan(row, 'plan.md'), /plan\.md:1: TEST-INT-001 is not under/);
  assert.throws(() => parsePlan(category + row.replace('| 1 |', '| one |')), /week of TEST-INT-001 is "one"/);
});

const featureText = `# a comment
@TEST-INT-020 @api-sms @week2
Feature: Send an SMS through the API
  Some description with Scenario: in it.

  Background:
    Given a customer

  @smoke
  Scenario: A plain scenario
    When the customer sends
      """
      Scenario: this is doc string text, not a scenario
      """
    Then it arrives

  Rule: Every alphabet arrives intact

    Scenario Outline: A text in <alphabet> arrives
      When the customer sends "<text>"

      Examples: Latin
        | alphabet | text  |
        | GSM      | hello |

      Examples:
        | alphabet | text |
        | Arabic   | مرحبا |
        | Greek    | γεια |
`;

test('a feature is read as Cucumber reads it: tags, title, one scenario per pickle', () => {
  const feature = parseFeature(featureText, 'features/api-sms/x.feature');
  assert.equal(feature.title, 'Send an SMS through the API');
  assert.deepEqual(feature.tags, ['@TEST-INT-020', '@api-sms', '@week2']);
  assert.deepEqual(feature.scenarios, [
    { name: 'A plain scenario', line: 10 },
    { name: 'A text in GSM arrives', line: 24 },
    { name: 'A text in Arabic arrives', line: 28 },
    { name: 'A text in Greek arrives', line: 29 },
  ]);
  // Cucumber's parser error names line and column.
  assert.throws(
    () => parseFeature('Feature: x\n  Scenario: y\n    Given z\n  Feature: again\n', 'bad.feature'),
    /\(4:3\)/,
  );
});

/** One line of a message stream. */
const envelope = (message: object): string => JSON.stringify(message);
const steps = (startedId: string, ...statuses: string[]): string[] =>
  statuses.map((status) =>
    envelope({ testStepFinished: { testCaseStartedId: startedId, testStepResult: { status } } }),
  );

const uri = 'features/api-sms/x.feature';
const ndjson = [
  envelope({ source: { uri, data: featureText } }),
  envelope({ testRunStarted: { timestamp: { seconds: 1_700_000_000, nanos: 0 } } }),
  envelope({
    gherkinDocument: {
      uri,
      feature: {
        children: [
          { background: { id: 'bg' } },
          { scenario: { id: 's1', location: { line: 10 }, examples: [] } },
          {
            rule: {
              children: [
                {
                  scenario: {
                    id: 's2',
                    location: { line: 19 },
                    examples: [
                      { tableBody: [{ id: 'row-gsm', location: { line: 24 } }] },
                      {
                        tableBody: [
                          { id: 'row-arabic', location: { line: 28 } },
                          { id: 'row-greek', location: { line: 29 } },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          },
        ],
      },
    },
  }),
  envelope({ pickle: { id: 'p1', uri, astNodeIds: ['s1'], name: 'A plain scenario' } }),
  envelope({ pickle: { id: 'p2', uri, astNodeIds: ['s2', 'row-gsm'], name: 'A text in GSM arrives' } }),
  envelope({ pickle: { id: 'p3', uri, astNodeIds: ['s2', 'row-arabic'], name: 'A text in Arabic arrives' } }),
  envelope({ pickle: { id: 'p4', uri, astNodeIds: ['s2', 'row-greek'], name: 'A text in Greek arrives' } }),
  // p4 is not in this (tag-filtered) run: no test case for it.
  envelope({ testCase: { id: 'tc1', pickleId: 'p1' } }),
  envelope({ testCase: { id: 'tc2', pickleId: 'p2' } }),
  envelope({ testCase: { id: 'tc3', pickleId: 'p3' } }),
  // p1 fails once, is retried and passes: the last attempt counts.
  envelope({ testCaseStarted: { id: 'run1a', testCaseId: 'tc1', attempt: 0 } }),
  ...steps('run1a', 'PASSED', 'FAILED', 'SKIPPED'),
  envelope({ testCaseFinished: { testCaseStartedId: 'run1a', willBeRetried: true } }),
  envelope({ testCaseStarted: { id: 'run1b', testCaseId: 'tc1', attempt: 1 } }),
  ...steps('run1b', 'PASSED', 'PASSED', 'PASSED'),
  envelope({ testCaseFinished: { testCaseStartedId: 'run1b', willBeRetried: false } }),
  envelope({ testCaseStarted: { id: 'run2', testCaseId: 'tc2', attempt: 0 } }),
  ...steps('run2', 'PASSED', 'UNDEFINED', 'SKIPPED'),
  envelope({ testCaseFinished: { testCaseStartedId: 'run2', willBeRetried: false } }),
  envelope({ testCaseStarted: { id: 'run3', testCaseId: 'tc3', attempt: 0 } }),
  ...steps('run3', 'PASSED', 'PENDING', 'FAILED'),
  envelope({ testCaseFinished: { testCaseStartedId: 'run3', willBeRetried: false } }),
].join('\n');

test('each scenario takes its worst step status, from its last attempt; scenarios not run are absent', () => {
  const run = readRunResults(ndjson + '\n{"truncated');
  assert.equal(run.startedAt, '2023-11-14T22:13:20.000Z');
  assert.equal(run.unreadableLines, 1);
  assert.deepEqual(
    [...run.resultByScenario],
    [
      [`${uri}:10`, 'passed'],
      [`${uri}:24`, 'undefined'],
      [`${uri}:28`, 'failed'],
    ],
  );
  assert.equal(worstResult(['PASSED', 'SKIPPED', 'PENDING']), 'pending');
  assert.equal(worstResult(['AMBIGUOUS', 'PENDING']), 'ambiguous');
  assert.equal(worstResult([]), 'unknown');
});

test('coverage counts a feature’s scenarios per result and says what has no feature yet', () => {
  const feature = parseFeature(featureText, uri);
  const entries = plan.filter((entry) => ['TEST-INT-020', 'TEST-INT-021'].includes(entry.id));
  const { rows, totals } = buildCoverage(
    entries,
    new Map([['TEST-INT-020', feature]]),
    readRunResults(ndjson),
    new Map([[uri, featureText]]),
  );
  assert.equal(rows[0].result, '1 passed, 1 failed, 1 undefined, 1 not run');
  assert.equal(rows[0].changedSinceRun, false);
  assert.equal(rows[1].result, 'no feature yet');
  assert.deepEqual(totals, {
    cases: 2,
    casesWithFeature: 1,
    journeys: 0,
    journeysWithFeature: 0,
    scenarios: 4,
    scenariosRun: 3,
    passed: 1,
  });

  const edited = buildCoverage(
    entries,
    new Map([['TEST-INT-020', feature]]),
    readRunResults(ndjson),
    new Map([[uri, 'new']]),
  );
  assert.match(edited.rows[0].result, /\(file changed since the run\)$/);
  const noRun = buildCoverage(entries, new Map([['TEST-INT-020', feature]]), undefined);
  assert.equal(noRun.rows[0].result, 'not run');
});

test('results read "5/5 passed", "not run" or a list by result', () => {
  const counts = {
    passed: 5,
    failed: 0,
    undefined: 0,
    ambiguous: 0,
    pending: 0,
    skipped: 0,
    unknown: 0,
    'not run': 0,
  };
  assert.equal(describeResult(counts), '5/5 passed');
  assert.equal(describeResult({ ...counts, passed: 0, 'not run': 5 }), 'not run');
  assert.equal(describeResult({ ...counts, passed: 4, failed: 1 }), '4 passed, 1 failed');
});

test('features that disagree with the plan are named with the file and the tag', () => {
  const feature = (path: string, tags: string[]): FeatureInfo => ({
    uri: path,
    title: 't',
    tags,
    scenarios: [],
  });
  const entries: PlanEntry[] = plan;
  const { problems, warnings, featureById } = validateFeatures(entries, [
    feature('features/a.feature', ['@TEST-INT-020', '@api-sms', '@week2']),
    feature('features/b.feature', ['@TEST-INT-020', '@api-sms', '@week2']),
    feature('features/c.feature', ['@TEST-INT-099', '@api-sms', '@week2']),
    feature('features/d.feature', ['@TEST-INT-021', '@api-sms', '@week3']),
    feature('features/e.feature', ['@api-sms', '@week2']),
    feature('features/f.feature', ['@JOURNEY-1', '@journeys']),
    feature('features/g.feature', ['@TEST-INT-001', '@api-sms', '@week1']),
  ]);
  assert.deepEqual(problems, [
    'TEST-INT-020 is claimed by two features: features/a.feature and features/b.feature',
    'features/c.feature: tag @TEST-INT-099 is not a case or journey in docs/test-plan.md',
    "features/d.feature: tag @week3 does not match the plan's week 2 for TEST-INT-021 (@week2)",
    'features/e.feature: no plan id tag (@TEST-INT-nnn or @JOURNEY-n) on its Feature line',
    'features/f.feature: no @weekN tag; the plan puts JOURNEY-1 in week 5 (@week5)',
  ]);
  assert.deepEqual(warnings, [
    'features/g.feature: category tag should be @voice-sms for TEST-INT-001 (found: @api-sms)',
  ]);
  assert.equal(featureById.get('TEST-INT-020')?.uri, 'features/a.feature');
});
