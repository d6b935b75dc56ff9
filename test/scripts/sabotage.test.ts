import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  featureTags,
  formatOutcome,
  loadPatches,
  matchesFilter,
  formatSkipped,
  parseHeader,
  readRun,
  summarize,
  tagExpression,
  targetOption,
} from '../../scripts/sabotage';

const DIFF = [
  'diff --git a/platform/x.ts b/platform/x.ts',
  '--- a/platform/x.ts',
  '+++ b/platform/x.ts',
  '@@ -1 +1 @@',
  '-# case: not a header line',
  '+x',
].join('\n');

test('the header: cases, defect and expect, continued on later # lines; the diff is not read', () => {
  const { header, problems } = parseHeader(
    [
      '# case: TEST-INT-020, @TEST-INT-023',
      '# defect: UNDELIV maps to delivered,',
      '#   so customers are told a lie.',
      '# expect: TEST-INT-020 fails.',
      DIFF,
    ].join('\n'),
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(header, {
    cases: ['TEST-INT-020', 'TEST-INT-023'],
    defect: 'UNDELIV maps to delivered, so customers are told a lie.',
    expect: 'TEST-INT-020 fails.',
    target: 'embedded',
  });
});

test('a header without a case, defect or expect, or with a malformed case id, is named as such', () => {
  assert.deepEqual(parseHeader(DIFF).problems, [
    'its header names no case (# case: TEST-INT-011)',
    'its header does not say what the defect is (# defect: …)',
    'its header does not say which scenario should catch it and why (# expect: …)',
  ]);
  assert.deepEqual(parseHeader('# case: INT-11\n# defect: d\n# expect: e\n' + DIFF).problems, [
    '"INT-11" in its # case: line is not a plan case id (TEST-INT-011)',
  ]);
});

test('a patch changes platform/ only: a change to the suite, or no diff at all, is refused', () => {
  const header = '# case: TEST-INT-011\n# defect: d\n# expect: e\n';
  assert.deepEqual(parseHeader(header + DIFF.replaceAll('platform/x.ts', 'world/x.ts')).problems, [
    'it changes world/x.ts: a sabotage patch changes platform/ only',
  ]);
  assert.deepEqual(parseHeader(header).problems, ['it holds no diff (diff --git a/platform/… b/platform/…)']);
});

test('the tag expression selects the cases as the CI profile would', () => {
  assert.equal(tagExpression(['TEST-INT-011']), '@TEST-INT-011 and not @soak and not @wip');
  assert.equal(
    tagExpression(['TEST-INT-020', 'TEST-INT-023']),
    '(@TEST-INT-020 or @TEST-INT-023) and not @soak and not @wip',
  );
});

test('# target: lab marks a lab-lane patch; another target is named as a problem', () => {
  const header = '# case: TEST-INT-010\n# defect: d\n# expect: e\n';
  const lab = parseHeader(`${header}# target: Lab\n${DIFF}`);
  assert.deepEqual(lab.problems, []);
  assert.equal(lab.header.target, 'lab');
  assert.equal(parseHeader(header + DIFF).header.target, 'embedded');
  assert.deepEqual(parseHeader(`${header}# target: staging\n${DIFF}`).problems, [
    '"staging" in its # target: line is not a target (embedded or lab)',
  ]);
});

test("a lab patch runs only its case's @lab scenarios", () => {
  assert.equal(tagExpression(['TEST-INT-010'], 'lab'), '@lab and @TEST-INT-010 and not @soak and not @wip');
  assert.equal(
    tagExpression(['TEST-INT-010', 'TEST-INT-040'], 'lab'),
    '@lab and (@TEST-INT-010 or @TEST-INT-040) and not @soak and not @wip',
  );
});

test('--target picks the lab patches, in either form; the default is embedded; another is refused', () => {
  assert.deepEqual(targetOption(['010', '--timeout=60']), {
    target: 'embedded',
    rest: ['010', '--timeout=60'],
  });
  assert.deepEqual(targetOption(['--target', 'lab', '010']), { target: 'lab', rest: ['010'] });
  assert.deepEqual(targetOption(['--target=lab']), { target: 'lab', rest: [] });
  assert.throws(() => targetOption(['--target', 'prod']), /--target prod: the target is embedded or lab/);
  assert.throws(() => targetOption(['--target']), /the target is embedded or lab/);
  assert.deepEqual(formatSkipped(['sip-edge-path.patch'], 'lab'), [
    'skipped sip-edge-path.patch  target lab: npm run sabotage -- --target lab',
  ]);
  const many = Array.from({ length: 21 }, (_, i) => `p${i}.patch`);
  assert.deepEqual(formatSkipped(many, 'embedded'), [
    'skipped 21 embedded patches  (npm run sabotage -- --target embedded)',
  ]);
  assert.deepEqual(formatSkipped([], 'embedded'), []);
});

test('a filter matches a patch by name or by case', () => {
  const header = { cases: ['TEST-INT-011'] };
  assert.ok(matchesFilter('routing.patch', header, '011'));
  assert.ok(matchesFilter('routing.patch', header, 'ROUTING'));
  assert.ok(matchesFilter('routing.patch', header, undefined));
  assert.ok(!matchesFilter('routing.patch', header, '020'));
});

test('one line per patch, and the verdict: green only when every patch of at least one was killed', () => {
  assert.equal(
    formatOutcome('a.patch', { kind: 'killed', failure: 'expected 1 to equal 2' }),
    'killed  a.patch  expected 1 to equal 2',
  );
  assert.equal(formatOutcome('b.patch', { kind: 'survived' }), 'SURVIVED b.patch');
  assert.match(formatOutcome('c.patch', { kind: 'broken', reason: 'does not apply' }), /^BROKEN {2}c\.patch/);
  assert.match(formatOutcome('d.patch', { kind: 'hung', reason: 'no verdict' }), /^HUNG {4}d\.patch/);
  const killed = { kind: 'killed', failure: 'x' } as const;
  assert.deepEqual(summarize([killed, killed]), { line: 'sabotage: 2/2 killed', ok: true });
  assert.deepEqual(summarize([killed, { kind: 'survived' }]), { line: 'sabotage: 1/2 killed', ok: false });
  assert.deepEqual(summarize([killed, { kind: 'broken', reason: 'r' }]), {
    line: 'sabotage: 1/2 killed',
    ok: false,
  });
  assert.deepEqual(summarize([]), { line: 'sabotage: 0/0 killed', ok: false });
});

test("the run's first failure is the first line of the first failed step's message", () => {
  const envelope = (value: object): string => JSON.stringify(value);
  const ndjson = [
    envelope({ testStepFinished: { testCaseStartedId: 'a', testStepResult: { status: 'PASSED' } } }),
    envelope({ testCaseFinished: { testCaseStartedId: 'a', willBeRetried: false } }),
    envelope({
      testStepFinished: {
        testCaseStartedId: 'b',
        testStepResult: {
          status: 'FAILED',
          message: 'AssertionError: stack first?\n  at x',
          exception: { message: '\nexpected delivered to equal undeliverable\nmore' },
        },
      },
    }),
    envelope({ testStepFinished: { testCaseStartedId: 'b', testStepResult: { status: 'SKIPPED' } } }),
    envelope({ testCaseFinished: { testCaseStartedId: 'b', willBeRetried: false } }),
    '',
  ].join('\n');
  assert.deepEqual(readRun(ndjson), {
    ran: 2,
    failed: 1,
    firstFailure: 'expected delivered to equal undeliverable',
  });
  assert.deepEqual(readRun(''), { ran: 0, failed: 0, firstFailure: undefined });
});

test('a patch naming a case no feature carries is a fault of the catalogue', () => {
  const root = mkdtempSync(join(tmpdir(), 'sabotage-test-'));
  try {
    mkdirSync(join(root, 'features', 'api'), { recursive: true });
    mkdirSync(join(root, 'sabotage'));
    writeFileSync(
      join(root, 'features', 'api', 'x.feature'),
      '@TEST-INT-011 @api-voice\nFeature: x\n  @severity:critical\n  Scenario: y\n    Given z @not-a-tag\n',
    );
    const header = '# defect: d\n# expect: e\n';
    writeFileSync(join(root, 'sabotage', 'b.patch'), `# case: TEST-INT-011\n${header}${DIFF}`);
    writeFileSync(join(root, 'sabotage', 'a.patch'), `# case: TEST-INT-099\n${header}${DIFF}`);
    writeFileSync(join(root, 'sabotage', 'README.md'), '# not a patch');
    assert.deepEqual([...featureTags(join(root, 'features'))].sort(), [
      '@TEST-INT-011',
      '@api-voice',
      '@severity:critical',
    ]);
    const patches = loadPatches(join(root, 'sabotage'), join(root, 'features'));
    assert.deepEqual(
      patches.map((p) => [p.name, p.problems]),
      [
        ['a.patch', ['names TEST-INT-099, which no feature carries: nothing can catch it']],
        ['b.patch', []],
      ],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a lab patch naming a case whose feature is not tagged @lab is a fault of the catalogue', () => {
  const root = mkdtempSync(join(tmpdir(), 'sabotage-test-'));
  try {
    mkdirSync(join(root, 'features'));
    mkdirSync(join(root, 'sabotage'));
    writeFileSync(join(root, 'features', 'a.feature'), '@TEST-INT-010 @lab\nFeature: a\n');
    writeFileSync(join(root, 'features', 'b.feature'), '@TEST-INT-020\nFeature: b\n');
    const header = '# defect: d\n# expect: e\n# target: lab\n';
    writeFileSync(join(root, 'sabotage', 'a.patch'), `# case: TEST-INT-010\n${header}${DIFF}`);
    writeFileSync(join(root, 'sabotage', 'b.patch'), `# case: TEST-INT-020\n${header}${DIFF}`);
    assert.deepEqual([...featureTags(join(root, 'features'), '@lab')].sort(), ['@TEST-INT-010', '@lab']);
    const patches = loadPatches(join(root, 'sabotage'), join(root, 'features'));
    assert.deepEqual(
      patches.map((p) => [p.name, p.header.target, p.problems]),
      [
        ['a.patch', 'lab', []],
        [
          'b.patch',
          'lab',
          ['names TEST-INT-020, whose feature is not tagged @lab: the lab lane does not run it'],
        ],
      ],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
