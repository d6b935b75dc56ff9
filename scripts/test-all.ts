/**
 * `npm test`: everything that must hold before a change lands (DESIGN §9), in order:
 * type check, lint, format, no import loops, unit tests, a strict dry run, the embedded BDD suite
 * (two workers), the sabotage catalogue (every patch killed), the remote smoke lane against a
 * standalone `npm run platform`, the lab lane (@lab behind real Kamailio and rtpengine) and the
 * lab sabotage patches (every one killed there). Ends with one line
 * `N passed, N failed` counting unit tests and scenarios (a failed gate counts as one failure).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countScenarios, describeFailures, failedScenarios, type ScenarioCounts } from './cucumber-results';
import { prepareUnitRun } from './unit';
import { writeRunSummary } from './run-summary';
import { scanForSecrets } from './secret-scan';
import { LEFT_RUNNING } from './lab';
import { killRegisteredDaemons } from '../lab/daemons';

interface StageResult {
  name: string;
  ok: boolean;
  passed: number;
  failed: number;
  seconds: number;
  detail: string;
}

const results: StageResult[] = [];
const MESSAGES = 'reports/cucumber-messages.ndjson';
/** Where the suite's runs write the secret values they redacted (outside the repository). */
const SECRETS_FILE = join(mkdtempSync(join(tmpdir(), 'phase2-secrets-')), 'secrets.txt');
process.env.PHASE2_SECRETS_FILE = SECRETS_FILE;

/** Stage processes run in their own groups; Ctrl-C on `npm test` must still stop them. */
const running = new Set<number>();
process.on('SIGINT', () => {
  for (const pid of running) process.kill(-pid, 'SIGINT');
  process.exit(130);
});

/** No stage may hang CI: past this bound the stage is killed and reported as failed. */
const STAGE_TIMEOUT_MS = 10 * 60_000;
/**
 * The sabotage catalogue runs each patch's case on a platform of its own, two at a time: ~100
 * patches took 11–12 min on a 2-core machine (the failover cases start nine processes each).
 */
const SABOTAGE_TIMEOUT_MS = 25 * 60_000;

/** How long a timed-out stage has to stop its own children after SIGTERM. */
const KILL_GRACE_MS = 15_000;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = STAGE_TIMEOUT_MS,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a hung stage can be killed with its children
    });
    if (child.pid !== undefined) running.add(child.pid);
    let hardKill: NodeJS.Timeout | undefined;
    const killer = setTimeout(() => {
      process.stderr.write(`\n${command} ${args.join(' ')} ran past ${timeoutMs / 60_000} min: killed.\n`);
      if (child.pid === undefined) return;
      // SIGTERM first: `npm run lab` then stops its Cucumber (a group of its own) and its daemons.
      signalGroup(child.pid, 'SIGTERM');
      const pid = child.pid;
      hardKill = setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      clearTimeout(hardKill);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ code: code ?? 1, output });
    });
  });
}

async function stage(
  name: string,
  body: () => Promise<Omit<StageResult, 'name' | 'seconds'>>,
): Promise<void> {
  console.log(`\n━━━ ${name} ━━━`);
  const started = Date.now();
  let result: Omit<StageResult, 'name' | 'seconds'>;
  try {
    result = await body();
  } catch (error) {
    result = {
      ok: false,
      passed: 0,
      failed: 1,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
  results.push({ name, seconds: (Date.now() - started) / 1000, ...result });
}

/** A gate (type check, lint…) counts as no test when green and as one failure when red. */
async function gate(name: string, command: string, args: string[]): Promise<void> {
  await stage(name, async () => {
    const { code } = await run(command, args);
    return {
      ok: code === 0,
      passed: 0,
      failed: code === 0 ? 0 : 1,
      detail: code === 0 ? 'ok' : `exit code ${code}`,
    };
  });
}

/** A scenario run as one stage; a red one names its failed scenarios and the first line of why. */
function scenarioStage(messages: string, code: number): Omit<StageResult, 'name' | 'seconds'> {
  const counts: ScenarioCounts = countScenarios(messages);
  const ranNothing = counts.passed + counts.failed === 0;
  const failures = describeFailures(failedScenarios(messages));
  return {
    ok: code === 0 && counts.failed === 0 && !ranNothing,
    passed: counts.passed,
    failed: counts.failed + (ranNothing || (code !== 0 && counts.failed === 0) ? 1 : 0),
    detail: ranNothing
      ? 'no scenario ran'
      : `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${failures ? `: ${failures}` : ''}`,
  };
}

/** The standalone platform prints its operator key for people; reports must not keep it. */
function maskSecrets(text: string): string {
  return text.replace(/(PHASE2_ADMIN_API_KEY=)\S+/g, '$1***');
}

function readEnvFile(file: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2];
  }
  return env;
}

async function remoteSmoke(): Promise<Omit<StageResult, 'name' | 'seconds'>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phase2-remote-'));
  const envFile = join(dataDir, 'remote.env');
  const platform = spawn(
    process.execPath,
    [
      '--require',
      'ts-node/register/transpile-only',
      'scripts/platform.ts',
      '--ephemeral',
      '--write-env',
      envFile,
      '--data',
      dataDir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let platformOut = '';
  const platformLog = 'reports/remote-platform.log';
  platform.stdout.on('data', (chunk: Buffer) => (platformOut += chunk.toString()));
  platform.stderr.on('data', (chunk: Buffer) => (platformOut += chunk.toString()));
  const exited = new Promise<number>((resolve) => platform.on('close', (code) => resolve(code ?? 1)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`npm run platform did not print READY within 60 s:\n${maskSecrets(platformOut)}`)),
        60_000,
      );
      const onData = (): void => {
        if (platformOut.includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      };
      platform.stdout.on('data', onData);
      void exited.then((code) =>
        reject(new Error(`npm run platform exited early with ${code}:\n${maskSecrets(platformOut)}`)),
      );
    });
    rmSync(MESSAGES, { force: true });
    const { code } = await run('npx', ['cucumber-js', '--profile', 'smoke'], {
      ...readEnvFile(envFile),
      CI: 'true',
    });
    const result = scenarioStage(MESSAGES, code);
    platform.kill('SIGINT');
    const exitCode = await exited;
    const cleanStop = exitCode === 0 && platformOut.includes('Stopped cleanly');
    if (!cleanStop) {
      result.ok = false;
      result.failed += 1;
      result.detail += `; the standalone platform did not stop cleanly on SIGINT (exit ${exitCode})`;
    } else {
      result.detail += '; platform stopped cleanly on SIGINT';
    }
    return result;
  } finally {
    if (platform.exitCode === null) platform.kill('SIGKILL');
    mkdirSync('reports', { recursive: true });
    writeFileSync(platformLog, maskSecrets(platformOut));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The lab patches (`# target: lab`) against the @lab scenarios, two at a time like the embedded
 * catalogue, each on real Kamailio and rtpengine of its own: 8 patches took 96 s on 2 cores
 * (6–17 s each, ~55 s for a TEST-INT-040 one, which runs the two-node cluster's scenarios).
 */
const LAB_SABOTAGE_TIMEOUT_MS = 8 * 60_000;

/** `scripts/sabotage.ts <args>` as one gate: green only when every patch of a non-empty catalogue was killed. */
async function sabotageStage(
  args: string[],
  timeoutMs: number,
): Promise<Omit<StageResult, 'name' | 'seconds'>> {
  const { code, output } = await run(
    process.execPath,
    ['--require', 'ts-node/register/transpile-only', 'scripts/sabotage.ts', ...args],
    {},
    timeoutMs,
  );
  const verdict = /sabotage: (\d+)\/(\d+) killed/.exec(output);
  const ok = code === 0 && verdict !== null && verdict[1] === verdict[2] && Number(verdict[2]) > 0;
  // The patches that were not killed, named on the summary line: CI shows people only its last lines.
  const notKilled = output
    .split('\n')
    .filter((line) => /^(SURVIVED|BROKEN|HUNG) /.test(line))
    .map((line) => line.replace(/\s+/g, ' ').slice(0, 160));
  return {
    ok,
    passed: 0,
    failed: ok ? 0 : 1,
    detail: `${verdict ? verdict[0] : `no verdict (exit code ${code})`}${notKilled.length > 0 ? `: ${notKilled.join(' | ')}` : ''}`,
  };
}

/**
 * The lab lane (issue 12): `npm run lab` installs Kamailio and rtpengine when missing (CI runs as
 * root with apt reachable: ~30 s) and runs the @lab scenarios on two workers (~2 min). Its
 * daemons register in a directory of this stage's own; anything still running there afterwards
 * (the lab run was killed, or a worker's teardown leaked a daemon) fails the stage by name.
 */
const LAB_TIMEOUT_MS = 12 * 60_000;

async function labLane(): Promise<Omit<StageResult, 'name' | 'seconds'>> {
  const registry = mkdtempSync(join(tmpdir(), 'phase2-lab-daemons-'));
  try {
    rmSync(MESSAGES, { force: true });
    const { code, output } = await run(
      'npm',
      ['run', 'lab', '--', '--profile', 'ci', '--parallel', '2'],
      { CI: 'true', PHASE2_LAB_DAEMONS: registry },
      LAB_TIMEOUT_MS,
    );
    const result = scenarioStage(MESSAGES, code);
    const leaked = output.split('\n').filter((line) => line.includes(LEFT_RUNNING));
    const left = killRegisteredDaemons({ all: true, registry });
    const problems = [
      ...leaked.map((line) => line.replace(/^lab: killed /, '')),
      ...left.map((daemon) => `${daemon} still ran after the lab run`),
    ];
    if (problems.length > 0) {
      result.ok = false;
      result.failed += problems.length;
      result.detail += `; daemons left behind: ${problems.join('; ')}`;
    } else {
      result.detail += '; no daemon left behind';
    }
    return result;
  } finally {
    rmSync(registry, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  mkdirSync('reports', { recursive: true });
  await gate('Type check (tsc --noEmit)', 'npx', ['tsc', '--noEmit']);
  await gate('Lint (eslint, incl. the black-box rule)', 'npx', ['eslint', '.']);
  await gate('Format (prettier --check)', 'npx', ['prettier', '--check', '.']);
  await gate('No import loops (scripts/import-cycles.ts)', process.execPath, [
    '--require',
    'ts-node/register/transpile-only',
    'scripts/import-cycles.ts',
  ]);
  await stage('Unit tests (node --test)', async () => {
    const unit = prepareUnitRun();
    const { code, output } = await run(process.execPath, unit.args).finally(() => unit.cleanup());
    const passed = Number(/ℹ pass (\d+)/.exec(output)?.[1] ?? 0);
    const failed = Number(/ℹ fail (\d+)/.exec(output)?.[1] ?? 0);
    const ok = code === 0 && failed === 0 && passed > 0;
    return {
      ok,
      passed,
      failed: failed + (ok || failed > 0 ? 0 : 1),
      detail: `${passed} passed, ${failed} failed`,
    };
  });
  await stage('Strict dry run (no undefined or unused steps)', async () => {
    const { code, output } = await run('npx', [
      'cucumber-js',
      '--dry-run',
      '--strict',
      '--format',
      'usage-json:reports/step-usage.json',
    ]);
    const usage = existsSync('reports/step-usage.json')
      ? (JSON.parse(readFileSync('reports/step-usage.json', 'utf8')) as Array<{
          pattern: string;
          matches: unknown[];
        }>)
      : [];
    const unused = usage
      .filter((definition) => definition.matches.length === 0)
      .map((definition) => definition.pattern);
    const ok =
      code === 0 && unused.length === 0 && !/undefined/i.test(output.split('\n').slice(-5).join('\n'));
    return {
      ok,
      passed: 0,
      failed: ok ? 0 : 1,
      detail:
        unused.length > 0
          ? `unused step definitions: ${unused.join(' | ')}`
          : code === 0
            ? 'ok'
            : `exit code ${code}`,
    };
  });
  await stage('BDD suite on the embedded platform (--parallel 2)', async () => {
    rmSync('allure-results', { recursive: true, force: true });
    mkdirSync('allure-results', { recursive: true });
    rmSync(MESSAGES, { force: true });
    const { code } = await run('npx', ['cucumber-js', '--profile', 'ci', '--parallel', '2'], { CI: 'true' });
    return scenarioStage(MESSAGES, code);
  });
  await stage('Sabotage catalogue: every sabotage/ patch killed', () =>
    sabotageStage([], SABOTAGE_TIMEOUT_MS),
  );
  await stage('Run summary, plan coverage and Allure report', async () => {
    console.log(writeRunSummary(MESSAGES, 'reports/summary.json', 'allure-results'));
    const coverage = await run('npx', ['ts-node', '--transpile-only', 'scripts/plan-coverage.ts']);
    const report = await run('npm', ['run', 'report']);
    const problems = [
      coverage.code === 0 ? '' : 'plan coverage found features the plan does not know (see above)',
      report.code === 0 && existsSync('allure-report/index.html')
        ? ''
        : 'the Allure report was not generated',
    ].filter(Boolean);
    return {
      ok: problems.length === 0,
      passed: 0,
      failed: problems.length,
      detail:
        problems.length === 0
          ? 'reports/summary.json, reports/plan-coverage.md, allure-report/'
          : problems.join('; '),
    };
  });
  await stage('Remote smoke: @smoke against `npm run platform`', remoteSmoke);
  // After the report stage: the lab run writes allure-results/ and the message stream afresh.
  await stage('Lab lane: @lab on real Kamailio + rtpengine', labLane);
  await stage('Lab sabotage: every `# target: lab` patch killed', () =>
    sabotageStage(['--target', 'lab'], LAB_SABOTAGE_TIMEOUT_MS),
  );
  await stage('No secret in allure-results/, reports/ or allure-report/', async () => {
    const secrets = existsSync(SECRETS_FILE)
      ? readFileSync(SECRETS_FILE, 'utf8').split('\n').filter(Boolean)
      : [];
    const findings = scanForSecrets(secrets, ['allure-results', 'reports', 'allure-report']);
    for (const finding of findings) console.log(`  secret ${finding.hint} found in ${finding.file}`);
    // Without secrets to look for, the scan would prove nothing.
    const ok = secrets.length > 0 && findings.length === 0;
    return {
      ok,
      passed: ok ? 1 : 0,
      failed: ok ? 0 : Math.max(1, findings.length),
      detail:
        secrets.length === 0
          ? 'the run reported no secrets to look for'
          : `${new Set(secrets).size} secrets looked for, ${findings.length} found`,
    };
  });
  rmSync(SECRETS_FILE, { force: true });

  console.log('\n━━━ Summary ━━━');
  for (const r of results) {
    console.log(
      `${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(52)} ${r.seconds.toFixed(1).padStart(6)} s  ${r.detail}`,
    );
  }
  const passed = results.reduce((sum, r) => sum + r.passed, 0);
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

void main();
