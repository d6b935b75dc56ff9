/**
 * `npm run preflight [-- --tags "<expr>"] [-- --profile smoke]`: checks the configured target the
 * way the suite will use it and prints one line per check. Exit code 0 when nothing is wrong,
 * 1 otherwise (configuration problems included, one line each).
 */
import { formatReport, loadConfiguration, preflight, tagsFromArgv } from '.';

/** Past this, something the preflight opened is still holding the process: say so and exit. */
const EXIT_WATCHDOG_MS = 3000;

async function main(): Promise<number> {
  const loaded = loadConfiguration();
  if ('problems' in loaded) {
    console.log('Preflight: the configuration is not usable (README.md → Targets):');
    for (const problem of loaded.problems) console.log(`  ✖ configuration  ${problem}`);
    return 1;
  }
  const report = await preflight(loaded.config, { tags: tagsFromArgv(process.argv.slice(2)) });
  console.log(formatReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // The preflight closes everything it opened, so the process ends by itself; if it does not,
    // that is a leak to fix, and it must not hang a CI job meanwhile.
    setTimeout(() => {
      console.error(
        `preflight: the process was still busy ${EXIT_WATCHDOG_MS} ms after the report (a handle left open)`,
      );
      process.exit(code);
    }, EXIT_WATCHDOG_MS).unref();
  },
  (error: unknown) => {
    console.error(
      `preflight failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
