/**
 * `npm run lab [-- <cucumber options>]`: the lab lane (DESIGN §2, issue 12). Installs Kamailio and
 * rtpengine from Debian when missing (lab/install.sh), runs the real-binary unit tests (test/lab/)
 * unless the options pick scenarios, then the @lab scenarios with PHASE2_TARGET=lab: every worker
 * starts its own rtpengine and Kamailio and registers them by PID in a fresh directory. At the
 * end, on failure and on Ctrl-C/SIGTERM, whatever is still registered is killed by PID and named.
 * Exits with Cucumber's code (1 if the real-binary tests failed; 130/143 when interrupted).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRegisteredDaemons } from '../lab/daemons';
import { LAB_TEST_DIR, unitTestFiles } from './unit';

/** What the lab lane needs from Debian; sip-tester (SIPp): the SIPp attack tests (skipped without it) and poking by hand. */
export const LAB_PACKAGES = ['kamailio', 'kamailio-websocket-modules', 'rtpengine-daemon'] as const;
export const OPTIONAL_LAB_PACKAGES = ['sip-tester'] as const;

export interface LabPlan {
  /** Arguments for cucumber-js: the user's, with one --tags expression that requires @lab. */
  cucumberArgs: string[];
  /** False when the user picked scenarios (tags, names, paths) or asked for a dry run: a focused run. */
  runRealBinaryTests: boolean;
}

/** Options of cucumber-js whose value is the next argument (so it is not taken for a feature path). */
const OPTIONS_WITH_VALUE = new Set([
  '--tags',
  '-t',
  '--name',
  '--profile',
  '-p',
  '--parallel',
  '--format',
  '-f',
  '--format-options',
  '--require',
  '-r',
  '--require-module',
  '--import',
  '-i',
  '--world-parameters',
  '--retry',
  '--retry-tag-filter',
  '--order',
  '--language',
  '--config',
  '-c',
  '--shard',
  '--plugin',
  '--plugin-options',
]);
/** Options that choose which scenarios run: a run with them is focused on those. */
const SELECTING = new Set(['--tags', '-t', '--name', '--dry-run', '-d']);

/**
 * The user's Cucumber options with @lab required: their --tags expressions (any number, any
 * form) are folded into one `@lab and (…) and (…)`, everything else passes through untouched.
 */
export function planLabRun(argv: readonly string[]): LabPlan {
  const tags: string[] = [];
  const rest: string[] = [];
  let focused = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg) : [arg, undefined];
    if (SELECTING.has(name)) focused = true;
    if (name === '--tags' || name === '-t') {
      const value = inline ?? argv[i + 1];
      if (inline === undefined) i += 1;
      if (value === undefined || value.trim() === '') throw new Error(`${name} needs a tag expression`);
      tags.push(value);
      continue;
    }
    rest.push(arg);
    if (OPTIONS_WITH_VALUE.has(name) && inline === undefined && i + 1 < argv.length) {
      i += 1;
      rest.push(argv[i]);
    } else if (!arg.startsWith('-')) {
      focused = true; // a feature file or folder
    }
  }
  const expression = ['@lab', ...tags.map((t) => `(${t})`)].join(' and ');
  return { cucumberArgs: [...rest, '--tags', expression], runRealBinaryTests: !focused };
}

function splitOnce(arg: string): [string, string] {
  const at = arg.indexOf('=');
  return [arg.slice(0, at), arg.slice(at + 1)];
}

/** The lab packages dpkg does not report as installed (all of them where there is no dpkg). */
export function missingPackages(packages: readonly string[]): string[] {
  return packages.filter((pkg) => {
    const query = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return query.status !== 0 || !query.stdout.includes('install ok installed');
  });
}

function installIfMissing(): void {
  const missing = missingPackages(LAB_PACKAGES);
  if (missing.length === 0) return;
  const optional = missingPackages(OPTIONAL_LAB_PACKAGES);
  console.log(`lab: installing ${[...missing, ...optional].join(' ')} (lab/install.sh)`);
  const install = spawnSync('sh', [join('lab', 'install.sh'), ...missing, ...optional], { stdio: 'inherit' });
  if (install.status !== 0) {
    console.error(
      `lab: the packages could not be installed (lab/install.sh exit ${String(install.status)}); the lab lane needs ${LAB_PACKAGES.join(', ')}`,
    );
    process.exit(install.status ?? 1);
  }
}

/** How long an interrupted Cucumber gets to run its AfterAll hooks (which stop the daemons) itself. */
const INTERRUPT_GRACE_MS = 10_000;

let current: ChildProcess | undefined;

function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    // Its own process group: a signal reaches Cucumber's workers too, not just the first process.
    const child = spawn(command, args, { stdio: 'inherit', env, detached: true });
    current = child;
    child.on('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Kills, by PID, every daemon still registered and says which: a clean run prints nothing. */
function killLeftovers(): string[] {
  const killed = killRegisteredDaemons({ all: true });
  for (const line of killed) console.error(`lab: killed ${line}, ${LEFT_RUNNING}`);
  return killed;
}

/** Printed for each daemon the run's own teardown left behind: `npm test` fails the stage on it. */
export const LEFT_RUNNING = 'left running by the run';

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

async function main(): Promise<void> {
  const plan = planLabRun(process.argv.slice(2));
  installIfMissing();
  mkdirSync('reports', { recursive: true });
  // A registry given by the caller (npm test checks it afterwards) is used and kept; else a fresh one.
  const given = process.env.PHASE2_LAB_DAEMONS;
  const registry = given ?? mkdtempSync(join(tmpdir(), 'phase2-lab-daemons-'));
  mkdirSync(registry, { recursive: true });
  process.env.PHASE2_LAB_DAEMONS = registry; // killRegisteredDaemons looks here, and so do the workers
  const cleanUp = (): void => {
    killLeftovers();
    if (!given) rmSync(registry, { recursive: true, force: true });
  };
  const env: NodeJS.ProcessEnv = { ...process.env, PHASE2_TARGET: 'lab' };

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nlab: ${signal}: stopping the run and every daemon it started`);
    const child = current;
    const finish = (): never => {
      cleanUp();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    if (!child || child.exitCode !== null) finish();
    if (child) signalGroup(child, signal);
    const grace = setTimeout(() => {
      if (child) signalGroup(child, 'SIGKILL');
      finish();
    }, INTERRUPT_GRACE_MS);
    child?.once('exit', () => {
      clearTimeout(grace);
      finish();
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let realBinaryTestsFailed = false;
  try {
    const labTests = join('test', LAB_TEST_DIR);
    const realBinaryTests = existsSync(labTests) ? unitTestFiles(labTests) : [];
    if (plan.runRealBinaryTests && realBinaryTests.length > 0) {
      console.log(`lab: ${realBinaryTests.length} test file(s) of test/lab/ against the real binaries`);
      const code = await runChild(
        process.execPath,
        [
          '--require',
          'ts-node/register/transpile-only',
          '--test',
          '--test-reporter=spec',
          ...realBinaryTests,
        ],
        env,
      );
      realBinaryTestsFailed = code !== 0;
      killLeftovers();
    }
    console.log(`lab: cucumber-js ${plan.cucumberArgs.join(' ')} (PHASE2_TARGET=lab)`);
    // Through scripts/bdd.ts: a fresh allure-results/ and the run summary, as `npm run bdd` has.
    const code = await runChild(
      process.execPath,
      ['--require', 'ts-node/register/transpile-only', join(__dirname, 'bdd.ts'), ...plan.cucumberArgs],
      env,
    );
    process.exitCode = code !== 0 ? code : realBinaryTestsFailed ? 1 : 0;
    if (realBinaryTestsFailed) console.error('lab: test/lab/ failed (see above)');
  } finally {
    if (!interrupted) cleanUp();
  }
}

if (require.main === module) void main();
