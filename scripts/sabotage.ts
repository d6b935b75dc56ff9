/**
 * `npm run sabotage [-- <filter>] [-- --timeout=<s>]`: proves the suite catches realistic defects. For each patch in
 * sabotage/ (a unified diff to platform/ whose header names the plan case(s) that must catch it):
 * a scratch copy of the working tree, the patch applied there, only that case's scenarios run with
 * --fail-fast, and one line: `killed  <patch>  <first line of the first failure>` or
 * `SURVIVED <patch>`. Ends with `sabotage: K/N killed`; exits 0 only when every patch was killed.
 *
 * A patch that no longer applies, or whose header names no case with features, is a fault of the
 * catalogue: reported as BROKEN, never counted as killed. A run past its bound is HUNG.
 * A patch headed `# target: lab` breaks code only the lab lane exercises: it runs with
 * PHASE2_TARGET=lab against its case's @lab scenarios (real Kamailio and rtpengine), only under
 * `--target lab`; the embedded run lists it as skipped. See sabotage/README.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { killRegisteredDaemons } from '../lab/daemons';

/** One patch's run, past which it is killed and reported HUNG. */
export const PATCH_TIMEOUT_MS = 3 * 60_000;
/** Two cores: two scenario runs side by side. */
export const CONCURRENCY = 2;
const CASE_ID = /^(TEST-INT|JOURNEY)-\d+$/;

/** Where a patch's scenarios run: the embedded platform, or the lab lane (PHASE2_TARGET=lab). */
export type SabotageTarget = 'embedded' | 'lab';
const TARGETS: readonly SabotageTarget[] = ['embedded', 'lab'];

export interface PatchHeader {
  /** Plan case ids without '@': TEST-INT-011. */
  cases: string[];
  defect?: string;
  expect?: string;
  /** `# target: lab`; embedded when the header has no target line. */
  target: SabotageTarget;
}

/**
 * Reads the comment lines before the diff: `# case: TEST-INT-011, TEST-INT-012`, `# defect: …`,
 * `# expect: …` (a field may continue on following `#` lines). Problems name what is missing.
 */
export function parseHeader(text: string): { header: PatchHeader; problems: string[] } {
  const fields = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('diff --git ') || line.startsWith('--- ')) break;
    if (!line.startsWith('#')) continue;
    const body = line.replace(/^#\s?/, '');
    const field = /^(case|cases|defect|expect|target):\s*(.*)$/i.exec(body);
    if (field) {
      current = field[1].toLowerCase().replace(/^cases$/, 'case');
      fields.set(current, field[2].trim());
    } else if (current !== undefined && body.trim() !== '') {
      fields.set(current, `${fields.get(current)} ${body.trim()}`.trim());
    }
  }
  const problems: string[] = [];
  const targetText = (fields.get('target') ?? 'embedded').toLowerCase();
  const target = TARGETS.find((t) => t === targetText);
  if (target === undefined)
    problems.push(`"${targetText}" in its # target: line is not a target (${TARGETS.join(' or ')})`);
  const cases = (fields.get('case') ?? '')
    .split(/[\s,]+/)
    .map((id) => id.replace(/^@/, ''))
    .filter(Boolean);
  if (cases.length === 0) problems.push('its header names no case (# case: TEST-INT-011)');
  for (const id of cases)
    if (!CASE_ID.test(id)) problems.push(`"${id}" in its # case: line is not a plan case id (TEST-INT-011)`);
  if (!fields.get('defect')) problems.push('its header does not say what the defect is (# defect: …)');
  if (!fields.get('expect'))
    problems.push('its header does not say which scenario should catch it and why (# expect: …)');
  // A defect lives in the system under test: a patch to the suite would prove nothing.
  const touched = [...text.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)].flatMap((m) => [m[1], m[2]]);
  if (touched.length === 0) problems.push('it holds no diff (diff --git a/platform/… b/platform/…)');
  for (const path of new Set(touched))
    if (!path.startsWith('platform/'))
      problems.push(`it changes ${path}: a sabotage patch changes platform/ only`);
  return {
    header: {
      cases,
      defect: fields.get('defect'),
      expect: fields.get('expect'),
      target: target ?? 'embedded',
    },
    problems,
  };
}

/**
 * The scenarios a patch is run against: its cases, as the CI profile would select them; on the
 * lab target only those the lab lane runs (`npm run lab` requires @lab the same way).
 */
export function tagExpression(cases: readonly string[], target: SabotageTarget = 'embedded'): string {
  const tags = cases.map((id) => `@${id}`);
  const either = tags.length === 1 ? tags[0] : `(${tags.join(' or ')})`;
  return `${target === 'lab' ? '@lab and ' : ''}${either} and not @soak and not @wip`;
}

/**
 * `--target lab` / `--target=lab` picks the lab patches; without it the embedded ones. Returns
 * the target and the remaining arguments.
 */
export function targetOption(args: readonly string[]): { target: SabotageTarget; rest: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  let given = false;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--target') {
      given = true;
      value = args[i + 1];
      i += 1;
    } else if (args[i].startsWith('--target=')) {
      given = true;
      value = args[i].slice('--target='.length);
    } else rest.push(args[i]);
  }
  if (!given) return { target: 'embedded', rest };
  const target = TARGETS.find((t) => t === value);
  if (target === undefined) throw new Error(`--target ${value ?? ''}: the target is ${TARGETS.join(' or ')}`);
  return { target, rest };
}

/**
 * Every tag any feature file carries (feature, rule or scenario level); with `onlyWith`, only the
 * tags of feature files that carry that tag somewhere (`@lab`: the cases the lab lane runs).
 */
export function featureTags(featuresDir: string, onlyWith?: string): Set<string> {
  const tags = new Set<string>();
  if (!existsSync(featuresDir)) return tags;
  for (const entry of readdirSync(featuresDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.feature')) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
    const fileTags = text
      .split('\n')
      .filter((line) => line.trim().startsWith('@'))
      .flatMap((line) => line.match(/@[^\s#]+/g) ?? []);
    if (onlyWith !== undefined && !fileTags.includes(onlyWith)) continue;
    for (const tag of fileTags) tags.add(tag);
  }
  return tags;
}

/** A filter picks patches by file name or by case id (`011` matches TEST-INT-011). */
export function matchesFilter(
  name: string,
  header: Pick<PatchHeader, 'cases'>,
  filter: string | undefined,
): boolean {
  if (filter === undefined || filter === '') return true;
  const needle = filter.toLowerCase();
  return name.toLowerCase().includes(needle) || header.cases.some((id) => id.toLowerCase().includes(needle));
}

export type Outcome =
  | { kind: 'killed'; failure: string }
  | { kind: 'survived' }
  /** A fault of the catalogue: the patch does not apply, or its header is wrong. */
  | { kind: 'broken'; reason: string }
  | { kind: 'hung'; reason: string }
  /** The run failed without a failed scenario (it could not start): proves nothing. */
  | { kind: 'error'; reason: string };

export function formatOutcome(patch: string, outcome: Outcome): string {
  switch (outcome.kind) {
    case 'killed':
      return `killed  ${patch}  ${outcome.failure}`;
    case 'survived':
      return `SURVIVED ${patch}`;
    case 'broken':
      return `BROKEN  ${patch}  ${outcome.reason}`;
    case 'hung':
      return `HUNG    ${patch}  ${outcome.reason}`;
    case 'error':
      return `ERROR   ${patch}  ${outcome.reason}`;
  }
}

/**
 * The patches of the other target, not counted here: each named when they are few (the lab ones,
 * in the embedded run), else counted in one line (the embedded catalogue, in the lab run).
 */
export function formatSkipped(patches: readonly string[], target: SabotageTarget): string[] {
  const how = `npm run sabotage -- --target ${target}`;
  if (patches.length > MAX_SKIPPED_NAMED) return [`skipped ${patches.length} ${target} patches  (${how})`];
  return patches.map((patch) => `skipped ${patch}  target ${target}: ${how}`);
}
const MAX_SKIPPED_NAMED = 20;

/** The last line, and whether the catalogue is green: every patch killed, and at least one. */
export function summarize(outcomes: readonly Outcome[]): { line: string; ok: boolean } {
  const killed = outcomes.filter((outcome) => outcome.kind === 'killed').length;
  return {
    line: `sabotage: ${killed}/${outcomes.length} killed`,
    ok: outcomes.length > 0 && killed === outcomes.length,
  };
}

interface Envelope {
  testStepFinished?: {
    testCaseStartedId: string;
    testStepResult: { status: string; message?: string; exception?: { message?: string } };
  };
  testCaseFinished?: { testCaseStartedId: string; willBeRetried: boolean };
}

/**
 * From Cucumber's message stream: how many scenarios ran and failed, and the first line of the
 * first failure (a failed step's error message; an undefined/ambiguous step is named as such).
 */
export function readRun(ndjson: string): { ran: number; failed: number; firstFailure?: string } {
  let ran = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const failedCases = new Set<string>();
  for (const line of ndjson.split('\n')) {
    if (!line.trim()) continue;
    const envelope = JSON.parse(line) as Envelope;
    const step = envelope.testStepFinished;
    if (step && !['PASSED', 'SKIPPED'].includes(step.testStepResult.status)) {
      failedCases.add(step.testCaseStartedId);
      const message = step.testStepResult.exception?.message ?? step.testStepResult.message;
      firstFailure ??=
        message
          ?.split('\n')
          .map((text) => text.trim())
          .find(Boolean) ?? `a step ended ${step.testStepResult.status}`;
    }
    const finished = envelope.testCaseFinished;
    if (finished && !finished.willBeRetried) {
      ran += 1;
      if (failedCases.has(finished.testCaseStartedId)) failed += 1;
    }
  }
  return { ran, failed, firstFailure };
}

// ---- running -----------------------------------------------------------------------------------

const scratchDirs = new Set<string>();
const runningGroups = new Set<number>();

/** The working tree as it is (tracked and new files, not ignored ones), node_modules linked. */
function scratchCopy(repo: string): string {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr.trim()}`);
  const dir = mkdtempSync(join(tmpdir(), 'phase2-sabotage-'));
  scratchDirs.add(dir);
  for (const file of new Set(listed.stdout.split('\0').filter(Boolean))) {
    if (file === 'node_modules' || file.startsWith('node_modules/')) continue;
    const from = join(repo, file);
    if (!existsSync(from) || !statSync(from).isFile()) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(from, join(dir, file));
  }
  symlinkSync(resolve(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  scratchDirs.delete(dir);
}

function runIn(
  dir: string,
  command: string,
  args: string[],
  timeoutMs: number,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number; output: string; timedOut: boolean }> {
  return new Promise((resolvePromise) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', PHASE2_TARGET: 'embedded', ...extraEnv };
    // The sabotaged runs' secrets are not the main run's: they must not join its secret scan.
    delete env.PHASE2_SECRETS_FILE;
    const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid;
    if (pid !== undefined) runningGroups.add(pid);
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) process.kill(-pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pid !== undefined) runningGroups.delete(pid);
      resolvePromise({ code: code ?? 1, output, timedOut });
    });
  });
}

interface Patch {
  name: string;
  file: string;
  header: PatchHeader;
  problems: string[];
}

async function runPatch(repo: string, patch: Patch, timeoutMs: number): Promise<Outcome> {
  if (patch.problems.length > 0) return { kind: 'broken', reason: patch.problems.join('; ') };
  const dir = scratchCopy(repo);
  try {
    const applied = await runIn(dir, 'git', ['apply', '--whitespace=nowarn', patch.file], 30_000);
    if (applied.code !== 0)
      return {
        kind: 'broken',
        reason: `does not apply (regenerate it against today's platform/): ${applied.output.trim().split('\n')[0]}`,
      };
    const started = Date.now();
    const cucumber = join(dir, 'node_modules', '@cucumber', 'cucumber', 'bin', 'cucumber.js');
    const tags = tagExpression(patch.header.cases, patch.header.target);
    // Lab: every worker's Kamailio and rtpengine register in a directory of this run's own, and
    // whatever is still registered afterwards (a run killed at its bound) is killed by PID.
    const registry =
      patch.header.target === 'lab' ? mkdtempSync(join(tmpdir(), 'phase2-sabotage-lab-')) : null;
    let run: Awaited<ReturnType<typeof runIn>>;
    try {
      run = await runIn(
        dir,
        process.execPath,
        [cucumber, '--profile', 'ci', '--tags', tags, '--fail-fast'],
        timeoutMs,
        registry ? { PHASE2_TARGET: 'lab', PHASE2_LAB_DAEMONS: registry } : {},
      );
    } finally {
      if (registry) {
        for (const daemon of killRegisteredDaemons({ all: true, registry }))
          console.error(`sabotage: ${patch.name}: killed ${daemon}, left running by its run`);
        rmSync(registry, { recursive: true, force: true });
      }
    }
    const messages = join(dir, 'reports', 'cucumber-messages.ndjson');
    const result = readRun(existsSync(messages) ? readFileSync(messages, 'utf8') : '');
    if (run.timedOut)
      return {
        kind: 'hung',
        reason: `no verdict within ${timeoutMs / 1000} s (killed); ${result.ran} scenario(s) had finished`,
      };
    if (result.failed > 0) return { kind: 'killed', failure: result.firstFailure ?? 'a scenario failed' };
    if (run.code !== 0 || result.ran === 0) {
      const tail = run.output.trim().split('\n').slice(-3).join(' | ');
      return {
        kind: 'error',
        reason: `${tags} ran ${result.ran} scenario(s) and exited ${run.code} after ${Math.round((Date.now() - started) / 1000)} s: ${tail}`,
      };
    }
    return { kind: 'survived' };
  } finally {
    removeScratch(dir);
  }
}

export function loadPatches(dir: string, featuresDir: string): Patch[] {
  if (!existsSync(dir)) return [];
  const tags = featureTags(featuresDir);
  const labTags = featureTags(featuresDir, '@lab');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.patch'))
    .sort()
    .map((name) => {
      const file = resolve(dir, name);
      const { header, problems } = parseHeader(readFileSync(file, 'utf8'));
      for (const id of header.cases)
        if (CASE_ID.test(id) && !tags.has(`@${id}`))
          problems.push(`names ${id}, which no feature carries: nothing can catch it`);
        else if (CASE_ID.test(id) && header.target === 'lab' && !labTags.has(`@${id}`))
          problems.push(`names ${id}, whose feature is not tagged @lab: the lab lane does not run it`);
      return { name, file, header, problems };
    });
}

async function main(): Promise<number> {
  const repo = process.cwd();
  const { target, rest: args } = targetOption(process.argv.slice(2));
  const filter = args.find((arg) => !arg.startsWith('-'));
  // --timeout=<s>: another bound per patch (a slower machine, or proving the HUNG path).
  const timeoutArg = args.find((arg) => arg.startsWith('--timeout='));
  const timeoutMs = timeoutArg ? Number(timeoutArg.slice('--timeout='.length)) * 1000 : PATCH_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new Error(`${timeoutArg}: the bound must be a positive number of seconds`);
  const matching = loadPatches(join(repo, 'sabotage'), join(repo, 'features')).filter((patch) =>
    matchesFilter(patch.name, patch.header, filter),
  );
  const patches = matching.filter((patch) => patch.header.target === target);
  // Listed, never counted: the other target's run judges them.
  for (const other of TARGETS.filter((t) => t !== target))
    for (const line of formatSkipped(
      matching.filter((p) => p.header.target === other).map((p) => p.name),
      other,
    ))
      console.log(line);
  if (patches.length === 0) {
    console.log(`sabotage: no ${target} patch in sabotage/${filter ? ` matches "${filter}"` : ''}`);
    console.log(summarize([]).line);
    return 1;
  }
  console.log(
    `sabotage: ${patches.length} ${target} patch(es), ${CONCURRENCY} at a time, each against its case's scenarios${target === 'lab' ? ' behind real Kamailio and rtpengine' : ''} (bound ${timeoutMs / 1000} s)`,
  );
  const outcomes: Outcome[] = new Array<Outcome>(patches.length);
  const seconds: number[] = new Array<number>(patches.length).fill(0);
  const began = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < patches.length) {
      const index = next++;
      const started = Date.now();
      const outcome = await runPatch(repo, patches[index], timeoutMs).catch((error: unknown): Outcome => ({
        kind: 'error',
        reason: (error as Error).message,
      }));
      outcomes[index] = outcome;
      seconds[index] = Math.round((Date.now() - started) / 1000);
      console.log(formatOutcome(basename(patches[index].file), outcome));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, patches.length) }, worker));
  const slowest = seconds.indexOf(Math.max(...seconds));
  console.log(
    `sabotage: took ${Math.round((Date.now() - began) / 1000)} s (slowest ${patches[slowest].name}, ${seconds[slowest]} s)`,
  );
  const { line, ok } = summarize(outcomes);
  console.log(line);
  return ok ? 0 : 1;
}

function stopEverything(): void {
  for (const pid of runningGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of [...scratchDirs]) removeScratch(dir);
}

if (require.main === module) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      console.log(`\nsabotage: ${signal}: stopping the runs and removing the scratch copies`);
      stopEverything();
      process.exit(130);
    });
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(
        `sabotage failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      stopEverything();
      process.exit(1);
    },
  );
}
