import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlan, type PlanEntry } from './plan-coverage';

/**
 * `npm run report`: the Allure 3 HTML report (allure-report/) from allure-results/. Before
 * generating, each result is labelled from the plan (docs/test-plan.md): epic = the plan's
 * category, feature = the case's id and title, story = the scenario; so the report reads like
 * the plan, whatever the feature files call themselves.
 */

const RESULTS = 'allure-results';
const PLAN_ID = /^(TEST-INT-\d{3}|JOURNEY-\d+)$/;

interface Label {
  name: string;
  value: string;
}

interface AllureResult {
  name: string;
  labels: Label[];
  links?: Array<{ url: string; type?: string }>;
}

/** The result's labels with epic, feature and story taken from the plan entry its tags name. */
export function planLabels(result: AllureResult, plan: Map<string, PlanEntry>): Label[] {
  // The plan id travels as the TMS link (allure-cucumberjs turns the tag into a link) or a tag.
  const candidates = [
    ...(result.links ?? []).filter((l) => l.type === 'tms').map((l) => /#([^#]+)$/.exec(l.url)?.[1] ?? ''),
    ...result.labels.filter((l) => l.name === 'tag').map((l) => l.value.replace(/^@/, '')),
  ];
  const id = candidates.find((candidate) => PLAN_ID.test(candidate));
  const entry = id ? plan.get(id) : undefined;
  if (!entry) return result.labels;
  const kept = result.labels.filter((l) => !['epic', 'feature', 'story'].includes(l.name));
  // Allure ranks by severity; scenarios without a @severity tag are of normal severity.
  const severity = kept.some((l) => l.name === 'severity') ? [] : [{ name: 'severity', value: 'normal' }];
  return [
    ...kept,
    ...severity,
    { name: 'epic', value: entry.category },
    { name: 'feature', value: `${entry.id} ${entry.title}` },
    { name: 'story', value: result.name },
  ];
}

function main(): number {
  if (!existsSync(RESULTS) || readdirSync(RESULTS).length === 0) {
    process.stderr.write(`${RESULTS}/ is empty: run \`npm run bdd\` first.\n`);
    return 1;
  }
  const plan = new Map(parsePlan(readFileSync('docs/test-plan.md', 'utf8')).map((e) => [e.id, e]));
  let relabelled = 0;
  for (const file of readdirSync(RESULTS).filter((f) => f.endsWith('-result.json'))) {
    const path = join(RESULTS, file);
    const result = JSON.parse(readFileSync(path, 'utf8')) as AllureResult;
    const labels = planLabels(result, plan);
    if (labels === result.labels) continue;
    writeFileSync(path, JSON.stringify({ ...result, labels }));
    relabelled += 1;
  }
  process.stdout.write(`Labelled ${relabelled} results from docs/test-plan.md.\n`);
  // A fresh directory: Allure would otherwise leave an earlier layout's files beside the new ones.
  rmSync('allure-report', { recursive: true, force: true });
  const allure = join('node_modules', 'allure', 'cli.js');
  const generated = spawnSync(process.execPath, [allure, 'generate', RESULTS, '--config', 'allurerc.mjs'], {
    stdio: 'inherit',
  });
  if (generated.status !== 0) return generated.status ?? 1;
  process.stdout.write('Open allure-report/index.html (served over HTTP: npx allure open allure-report).\n');
  return 0;
}

if (require.main === module) process.exit(main());
