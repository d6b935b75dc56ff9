import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeRunSummary } from './run-summary';

/**
 * `npm run bdd -- <cucumber options>`: a fresh allure-results/, then Cucumber with the options
 * given, then the plan's success metrics over the run. Exits with Cucumber's own exit code.
 */
const CUCUMBER_BIN = join(dirname(require.resolve('@cucumber/cucumber/package.json')), 'bin', 'cucumber-js');

rmSync('allure-results', { recursive: true, force: true });
const cucumber = spawn(process.execPath, [CUCUMBER_BIN, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
cucumber.on('exit', (code, signal) => {
  const dryRun = process.argv.includes('--dry-run') || process.argv.includes('-d');
  if (!dryRun && code !== null) {
    try {
      process.stdout.write(
        `\n${writeRunSummary('reports/cucumber-messages.ndjson', 'reports/summary.json', 'allure-results')}\n`,
      );
    } catch (error) {
      process.stderr.write(
        `The run summary could not be written: ${(error as Error).stack ?? String(error)}\n`,
      );
    }
  }
  process.exit(code ?? (signal ? 1 : 0));
});
