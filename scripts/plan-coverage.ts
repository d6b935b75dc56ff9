/**
 * Plan coverage: which cases and journeys of the customer's test plan (docs/test-plan.md) have a
 * feature, how many scenarios each has, and how they fared in the last run
 * (reports/cucumber-messages.ndjson, if any). Writes reports/plan-coverage.md and .json.
 *
 * Exits 1 when the features and the plan disagree: a plan id tag the plan does not know, a
 * feature without a plan id, a @weekN tag other than the plan's week, or two features claiming
 * the same id. Run: `npx ts-node --transpile-only scripts/plan-coverage.ts`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
// The parser Cucumber itself uses (a dependency of @cucumber/cucumber), so scenario counts,
// Rules, Outlines and doc strings are read exactly as `cucumber-js` reads them.
import { AstBuilder, GherkinClassicTokenMatcher, Parser } from '@cucumber/gherkin';

const PLAN_FILE = 'docs/test-plan.md';
const FEATURES_DIR = 'features';
const MESSAGES_FILE = 'reports/cucumber-messages.ndjson';
const REPORT_MD = 'reports/plan-coverage.md';
const REPORT_JSON = 'reports/plan-coverage.json';

/** Anything that looks like a plan id, so a malformed one (`@TEST-INT-20`) is caught, not ignored. */
const PLAN_ID_TAG = /^@(TEST-INT-|JOURNEY-)/i;
const WEEK_TAG = /^@week(\d+)$/;

// ---------------------------------------------------------------------------------------------
// The plan

export type EntryKind = 'case' | 'journey';

export interface PlanEntry {
  id: string;
  title: string;
  kind: EntryKind;
  /** The plan's category name, e.g. "API-SMS Integration". */
  category: string;
  /** The category tag features carry, without '@', e.g. "api-sms". */
  categoryTag: string;
  week: number;
}

/** Splits a markdown table row into trimmed cells; `\|` inside a cell is text, not a border. */
function tableCells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/**
 * Reads the cases and journeys from docs/test-plan.md: rows `| <a id="ID"></a>ID | title | week |`
 * under a `## ` category heading that has a `Feature tag: \`@tag\`` line. Throws, naming the line,
 * on anything that would make the coverage wrong (duplicate id, bad week, row outside a category).
 */
export function parsePlan(markdown: string, file = PLAN_FILE): PlanEntry[] {
  const entries: PlanEntry[] = [];
  let category: { name: string; tag: string | undefined } | undefined;
  markdown.split(/\r?\n/).forEach((line, index) => {
    const where = `${file}:${index + 1}`;
    const heading = /^##\s+(?:\d+\.\s+)?(.+?)\s*$/.exec(line);
    if (heading) {
      category = { name: heading[1], tag: undefined };
      return;
    }
    const featureTag = /^Feature tag:\s*`@([\w-]+)`/.exec(line);
    if (featureTag && category) {
      category.tag = featureTag[1];
      return;
    }
    if (!/^\s*\|\s*<a id="/.test(line)) return;

    const cells = tableCells(line);
    const anchored = /^<a id="([^"]+)"><\/a>\s*(.*)$/.exec(cells[0]);
    if (!anchored || cells.length !== 3) {
      throw new Error(`${where}: expected | <a id="ID"></a>ID | title | week |, got: ${line.trim()}`);
    }
    const [, id, shownId] = anchored;
    if (shownId !== id) throw new Error(`${where}: anchor "${id}" but the row shows "${shownId}"`);
    const kind: EntryKind | undefined = /^TEST-INT-\d{3}$/.test(id)
      ? 'case'
      : /^JOURNEY-\d+$/.test(id)
        ? 'journey'
        : undefined;
    if (!kind) throw new Error(`${where}: "${id}" is neither TEST-INT-nnn nor JOURNEY-n`);
    if (!/^\d+$/.test(cells[2])) throw new Error(`${where}: week of ${id} is "${cells[2]}", not a number`);
    if (!category?.tag) {
      throw new Error(`${where}: ${id} is not under a "## " category heading with a "Feature tag:" line`);
    }
    if (entries.some((entry) => entry.id === id)) throw new Error(`${where}: ${id} is listed twice`);
    entries.push({
      id,
      title: cells[1],
      kind,
      category: category.name,
      categoryTag: category.tag,
      week: Number(cells[2]),
    });
  });
  return entries;
}

// ---------------------------------------------------------------------------------------------
// The features

export interface ScenarioInfo {
  /** As Cucumber names the pickle: an outline's `<placeholders>` filled from its examples row. */
  name: string;
  /** The line Cucumber's pickle points at: the Scenario line, or the examples row of an outline. */
  line: number;
}

export interface FeatureInfo {
  /** Path relative to the repository root, with '/' separators (as Cucumber's `uri`). */
  uri: string;
  title: string;
  /** The Feature line's tags, with '@'. */
  tags: string[];
  scenarios: ScenarioInfo[];
}

type GherkinDocument = ReturnType<InstanceType<typeof Parser>['parse']>;
type FeatureChild = NonNullable<GherkinDocument['feature']>['children'][number];
type GherkinScenario = NonNullable<FeatureChild['scenario']>;

/** One scenario per pickle Cucumber would run: a plain scenario once, an outline once per row. */
function scenarioInstances(scenario: GherkinScenario): ScenarioInfo[] {
  if (scenario.examples.length === 0) return [{ name: scenario.name, line: scenario.location.line }];
  return scenario.examples.flatMap((examples) =>
    examples.tableBody.map((row) => {
      const headers = examples.tableHeader?.cells.map((cell) => cell.value) ?? [];
      const name = headers.reduce(
        (text, header, column) => text.split(`<${header}>`).join(row.cells[column]?.value ?? ''),
        scenario.name,
      );
      return { name, line: row.location.line };
    }),
  );
}

/** Parses one .feature file's text; throws Cucumber's own message on a syntax error. */
export function parseFeature(text: string, uri: string): FeatureInfo {
  let nextId = 0;
  const parser = new Parser(new AstBuilder(() => String(nextId++)), new GherkinClassicTokenMatcher());
  const feature = parser.parse(text).feature;
  if (!feature) return { uri, title: '', tags: [], scenarios: [] };
  const scenarios = feature.children.flatMap((child) => {
    if (child.scenario) return scenarioInstances(child.scenario);
    if (child.rule) {
      return child.rule.children.flatMap((ruleChild) =>
        ruleChild.scenario ? scenarioInstances(ruleChild.scenario) : [],
      );
    }
    return [];
  });
  return { uri, title: feature.name, tags: feature.tags.map((tag) => tag.name), scenarios };
}

function toUri(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

/** Every features/**\/*.feature file under root, sorted; unparsable files become problems. */
export function readFeatures(root: string): { features: FeatureInfo[]; problems: string[] } {
  const dir = join(root, FEATURES_DIR);
  if (!existsSync(dir)) return { features: [], problems: [] };
  const files = readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.feature'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const features: FeatureInfo[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const uri = toUri(root, file);
    try {
      features.push(parseFeature(readFileSync(file, 'utf8'), uri));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      problems.push(`${uri}: cannot be parsed: ${message.replace(/\s*\n\s*/g, ' ')}`);
    }
  }
  return { features, problems };
}

// ---------------------------------------------------------------------------------------------
// Features against the plan

export interface Validation {
  /** Each makes the script exit 1. */
  problems: string[];
  /** Reported, but the coverage is still right. */
  warnings: string[];
  /** Plan id → the one feature that covers it. */
  featureById: Map<string, FeatureInfo>;
}

export function validateFeatures(plan: PlanEntry[], features: FeatureInfo[]): Validation {
  const planById = new Map(plan.map((entry) => [entry.id, entry]));
  const categoryTags = new Set(plan.map((entry) => `@${entry.categoryTag}`));
  const problems: string[] = [];
  const warnings: string[] = [];
  const featureById = new Map<string, FeatureInfo>();

  for (const feature of features) {
    const idTags = feature.tags.filter((tag) => PLAN_ID_TAG.test(tag));
    if (idTags.length === 0) {
      problems.push(`${feature.uri}: no plan id tag (@TEST-INT-nnn or @JOURNEY-n) on its Feature line`);
      continue;
    }
    if (idTags.length > 1) {
      problems.push(`${feature.uri}: several plan ids (${idTags.join(' ')}); one feature per plan case`);
    }
    const weekTags = feature.tags.filter((tag) => WEEK_TAG.test(tag));
    for (const tag of idTags) {
      const entry = planById.get(tag.slice(1));
      if (!entry) {
        problems.push(`${feature.uri}: tag ${tag} is not a case or journey in ${PLAN_FILE}`);
        continue;
      }
      const claimedBy = featureById.get(entry.id);
      if (claimedBy) {
        problems.push(`${entry.id} is claimed by two features: ${claimedBy.uri} and ${feature.uri}`);
      } else {
        featureById.set(entry.id, feature);
      }
      // The week profiles select by @weekN, so a missing or wrong week tag hides the feature.
      const expectedWeek = `@week${entry.week}`;
      if (weekTags.length === 0) {
        problems.push(
          `${feature.uri}: no @weekN tag; the plan puts ${entry.id} in week ${entry.week} (${expectedWeek})`,
        );
      } else if (weekTags.length > 1 || weekTags[0] !== expectedWeek) {
        problems.push(
          `${feature.uri}: tag ${weekTags.join(' ')} does not match the plan's week ${entry.week} for ${entry.id} (${expectedWeek})`,
        );
      }
      const featureCategories = feature.tags.filter((tag) => categoryTags.has(tag));
      if (featureCategories.length !== 1 || featureCategories[0] !== `@${entry.categoryTag}`) {
        warnings.push(
          `${feature.uri}: category tag should be @${entry.categoryTag} for ${entry.id} (found: ${featureCategories.join(' ') || 'none'})`,
        );
      }
    }
  }
  return { problems, warnings, featureById };
}

// ---------------------------------------------------------------------------------------------
// The last run

export type ScenarioResult =
  'passed' | 'failed' | 'undefined' | 'ambiguous' | 'pending' | 'skipped' | 'unknown';
export type ResultLabel = ScenarioResult | 'not run';

/** Worst first, for reading a scenario's result off its steps' statuses. */
const SEVERITY: Record<ScenarioResult, number> = {
  failed: 5,
  undefined: 4,
  ambiguous: 4,
  unknown: 4,
  pending: 3,
  skipped: 2,
  passed: 1,
};

function asResult(status: string): ScenarioResult {
  const lower = status.toLowerCase();
  return lower in SEVERITY ? (lower as ScenarioResult) : 'unknown';
}

/** A scenario's result is its worst step's; no steps at all is not a pass. */
export function worstResult(statuses: string[]): ScenarioResult {
  if (statuses.length === 0) return 'unknown';
  return statuses.map(asResult).reduce((worst, next) => (SEVERITY[next] > SEVERITY[worst] ? next : worst));
}

export interface RunResults {
  /** When the run started (ISO 8601), if the stream says. */
  startedAt: string | undefined;
  /** `uri:line` of each scenario that finished (its last attempt) → its result. */
  resultByScenario: Map<string, ScenarioResult>;
  /** The feature texts the run used, to tell when a file changed since. */
  sourceByUri: Map<string, string>;
  /** Lines that were not JSON (e.g. the run was killed mid-write). */
  unreadableLines: number;
}

/** The envelope fields this script reads; Cucumber's message stream has many more. */
interface Envelope {
  source?: { uri: string; data: string };
  gherkinDocument?: { uri: string; feature?: { children: EnvelopeChild[] } };
  pickle?: { id: string; uri: string; astNodeIds: string[]; location?: { line: number } };
  testCase?: { id: string; pickleId: string };
  testRunStarted?: { timestamp: { seconds: number; nanos: number } };
  testCaseStarted?: { id: string; testCaseId: string };
  testStepFinished?: { testCaseStartedId: string; testStepResult: { status: string } };
  testCaseFinished?: { testCaseStartedId: string; willBeRetried: boolean };
}
interface EnvelopeScenario {
  id: string;
  location: { line: number };
  examples: { tableBody: { id: string; location: { line: number } }[] }[];
}
interface EnvelopeChild {
  scenario?: EnvelopeScenario;
  rule?: { children: { scenario?: EnvelopeScenario }[] };
}

export function scenarioKey(uri: string, line: number): string {
  return `${uri}:${line}`;
}

/** Reads a Cucumber message stream (ndjson text). Scenarios the run did not include are absent. */
export function readRunResults(ndjson: string): RunResults {
  const lineByAstNodeId = new Map<string, number>();
  const keyByPickleId = new Map<string, string>();
  const pickleIdByTestCaseId = new Map<string, string>();
  const testCaseIdByStartedId = new Map<string, string>();
  const statusesByStartedId = new Map<string, string[]>();
  const results: RunResults = {
    startedAt: undefined,
    resultByScenario: new Map(),
    sourceByUri: new Map(),
    unreadableLines: 0,
  };

  const rememberScenario = (scenario: EnvelopeScenario | undefined): void => {
    if (!scenario) return;
    lineByAstNodeId.set(scenario.id, scenario.location.line);
    for (const examples of scenario.examples) {
      for (const row of examples.tableBody) lineByAstNodeId.set(row.id, row.location.line);
    }
  };

  for (const line of ndjson.split('\n')) {
    if (!line.trim()) continue;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(line) as Envelope;
    } catch {
      results.unreadableLines += 1;
      continue;
    }
    if (envelope.source) results.sourceByUri.set(envelope.source.uri, envelope.source.data);
    if (envelope.testRunStarted) {
      const { seconds, nanos } = envelope.testRunStarted.timestamp;
      results.startedAt = new Date(seconds * 1000 + Math.round(nanos / 1e6)).toISOString();
    }
    for (const child of envelope.gherkinDocument?.feature?.children ?? []) {
      rememberScenario(child.scenario);
      for (const ruleChild of child.rule?.children ?? []) rememberScenario(ruleChild.scenario);
    }
    if (envelope.pickle) {
      const { id, uri, astNodeIds, location } = envelope.pickle;
      // The last AST node is the examples row for an outline, the scenario otherwise.
      const line = lineByAstNodeId.get(astNodeIds[astNodeIds.length - 1]) ?? location?.line;
      if (line !== undefined) keyByPickleId.set(id, scenarioKey(uri, line));
    }
    if (envelope.testCase) pickleIdByTestCaseId.set(envelope.testCase.id, envelope.testCase.pickleId);
    if (envelope.testCaseStarted) {
      testCaseIdByStartedId.set(envelope.testCaseStarted.id, envelope.testCaseStarted.testCaseId);
    }
    if (envelope.testStepFinished) {
      const { testCaseStartedId, testStepResult } = envelope.testStepFinished;
      const statuses = statusesByStartedId.get(testCaseStartedId) ?? [];
      statuses.push(testStepResult.status);
      statusesByStartedId.set(testCaseStartedId, statuses);
    }
    // An attempt that will be retried is not the scenario's result; its last attempt is.
    if (envelope.testCaseFinished && !envelope.testCaseFinished.willBeRetried) {
      const startedId = envelope.testCaseFinished.testCaseStartedId;
      const pickleId = pickleIdByTestCaseId.get(testCaseIdByStartedId.get(startedId) ?? '');
      const key = keyByPickleId.get(pickleId ?? '');
      if (key) results.resultByScenario.set(key, worstResult(statusesByStartedId.get(startedId) ?? []));
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Coverage

const LABEL_ORDER: ResultLabel[] = [
  'passed',
  'failed',
  'undefined',
  'ambiguous',
  'pending',
  'skipped',
  'unknown',
  'not run',
];

export type ResultCounts = Record<ResultLabel, number>;

function emptyCounts(): ResultCounts {
  return Object.fromEntries(LABEL_ORDER.map((label) => [label, 0])) as ResultCounts;
}

/** "5/5 passed", "4 passed, 1 failed", "3 passed, 2 not run", "not run". */
export function describeResult(counts: ResultCounts): string {
  const total = LABEL_ORDER.reduce((sum, label) => sum + counts[label], 0);
  if (total === 0) return 'no scenarios';
  if (counts['not run'] === total) return 'not run';
  if (counts.passed === total) return `${total}/${total} passed`;
  return LABEL_ORDER.filter((label) => counts[label] > 0)
    .map((label) => `${counts[label]} ${label}`)
    .join(', ');
}

export interface CoverageRow extends PlanEntry {
  feature: { uri: string; title: string } | undefined;
  scenarios: (ScenarioInfo & { result: ResultLabel })[];
  counts: ResultCounts;
  /** As shown in the table's "last run result" column. */
  result: string;
  /** The run used a different version of the feature file, so line matching may be off. */
  changedSinceRun: boolean;
}

export interface CoverageTotals {
  cases: number;
  casesWithFeature: number;
  journeys: number;
  journeysWithFeature: number;
  scenarios: number;
  scenariosRun: number;
  passed: number;
}

export function buildCoverage(
  plan: PlanEntry[],
  featureById: Map<string, FeatureInfo>,
  run: RunResults | undefined,
  currentSourceByUri: Map<string, string> = new Map(),
): { rows: CoverageRow[]; totals: CoverageTotals } {
  const rows = plan.map((entry): CoverageRow => {
    const feature = featureById.get(entry.id);
    const counts = emptyCounts();
    if (!feature) {
      return {
        ...entry,
        feature: undefined,
        scenarios: [],
        counts,
        result: 'no feature yet',
        changedSinceRun: false,
      };
    }
    const scenarios = feature.scenarios.map((scenario) => {
      const result: ResultLabel =
        run?.resultByScenario.get(scenarioKey(feature.uri, scenario.line)) ?? 'not run';
      counts[result] += 1;
      return { ...scenario, result };
    });
    const runSource = run?.sourceByUri.get(feature.uri);
    const currentSource = currentSourceByUri.get(feature.uri);
    const changedSinceRun =
      runSource !== undefined && currentSource !== undefined && runSource !== currentSource;
    const result = describeResult(counts) + (changedSinceRun ? ' (file changed since the run)' : '');
    return {
      ...entry,
      feature: { uri: feature.uri, title: feature.title },
      scenarios,
      counts,
      result,
      changedSinceRun,
    };
  });

  const cases = rows.filter((row) => row.kind === 'case');
  const journeys = rows.filter((row) => row.kind === 'journey');
  const sum = (pick: (row: CoverageRow) => number): number =>
    rows.reduce((total, row) => total + pick(row), 0);
  const totals: CoverageTotals = {
    cases: cases.length,
    casesWithFeature: cases.filter((row) => row.feature).length,
    journeys: journeys.length,
    journeysWithFeature: journeys.filter((row) => row.feature).length,
    scenarios: sum((row) => row.scenarios.length),
    scenariosRun: sum((row) => row.scenarios.length - row.counts['not run']),
    passed: sum((row) => row.counts.passed),
  };
  return { rows, totals };
}

export function totalsLine(totals: CoverageTotals): string {
  return (
    `${totals.casesWithFeature}/${totals.cases} cases and ${totals.journeysWithFeature}/${totals.journeys} journeys have a feature; ` +
    `${totals.scenarios} scenarios, ${totals.scenariosRun} run in the last run, ${totals.passed} passed`
  );
}

// ---------------------------------------------------------------------------------------------
// Output

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderMarkdown(
  rows: CoverageRow[],
  totals: CoverageTotals,
  lastRun: string,
  problems: string[],
  warnings: string[],
): string {
  // The report lives in reports/, so links climb one level to the plan and the features.
  const tableRows = rows.map((row) =>
    [
      `[${row.id}](../${PLAN_FILE}#${row.id})`,
      cell(row.title),
      String(row.week),
      row.feature ? `[${cell(row.feature.uri)}](../${row.feature.uri})` : '—',
      row.feature ? String(row.scenarios.length) : '—',
      row.result,
    ].join(' | '),
  );
  const lines = [
    '# Plan coverage',
    '',
    `Plan: [${PLAN_FILE}](../${PLAN_FILE}) · features: \`${FEATURES_DIR}/\` · last run: ${lastRun}`,
    '',
    '| id | title | week | feature file | scenarios | last run result |',
    '| --- | --- | --- | --- | --- | --- |',
    ...tableRows.map((row) => `| ${row} |`),
    '',
    `**Totals:** ${totalsLine(totals)}.`,
  ];
  if (problems.length > 0) lines.push('', '## Problems', '', ...problems.map((problem) => `- ${problem}`));
  if (warnings.length > 0) lines.push('', '## Warnings', '', ...warnings.map((warning) => `- ${warning}`));
  return lines.join('\n') + '\n';
}

/** Runs the whole check from the repository root; returns the exit code. */
export function main(root: string): number {
  let plan: PlanEntry[];
  try {
    plan = parsePlan(readFileSync(join(root, PLAN_FILE), 'utf8'));
  } catch (error) {
    process.stderr.write(`plan-coverage: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }

  const { features, problems: parseProblems } = readFeatures(root);
  const { problems, warnings, featureById } = validateFeatures(plan, features);
  problems.unshift(...parseProblems);

  const messagesPath = join(root, MESSAGES_FILE);
  const run = existsSync(messagesPath) ? readRunResults(readFileSync(messagesPath, 'utf8')) : undefined;
  if (run && run.unreadableLines > 0) {
    warnings.push(`${MESSAGES_FILE}: ${run.unreadableLines} line(s) are not JSON and were ignored`);
  }
  const currentSourceByUri = new Map(
    features.map((feature) => [feature.uri, readFileSync(join(root, feature.uri), 'utf8')]),
  );
  const { rows, totals } = buildCoverage(plan, featureById, run, currentSourceByUri);
  const lastRun = run ? `${MESSAGES_FILE} (started ${run.startedAt ?? 'at an unknown time'})` : 'none found';

  mkdirSync(join(root, 'reports'), { recursive: true });
  writeFileSync(join(root, REPORT_MD), renderMarkdown(rows, totals, lastRun, problems, warnings));
  const json = {
    generatedAt: new Date().toISOString(),
    plan: PLAN_FILE,
    lastRun: run ? { file: MESSAGES_FILE, startedAt: run.startedAt ?? null } : null,
    totals,
    rows: rows.map((row) => ({ ...row, feature: row.feature ?? null })),
    problems,
    warnings,
  };
  writeFileSync(join(root, REPORT_JSON), JSON.stringify(json, null, 2) + '\n');

  process.stdout.write(`Plan coverage: ${totalsLine(totals)}.\nTable: ${REPORT_MD} (data: ${REPORT_JSON})\n`);
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  if (problems.length > 0) {
    process.stderr.write(`\nThe features and ${PLAN_FILE} disagree:\n`);
    for (const problem of problems) process.stderr.write(`  ${problem}\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  process.exitCode = main(resolve(__dirname, '..'));
}
