/**
 * The configuration: the PHASE2_* variables load (support/config.ts says what is wrong with
 * each), and a remote target has its endpoints. One problem line per variable.
 */
import { ConfigError, loadSuiteConfig, type SuiteConfig } from '../../../support/config';
import type { PreflightCheck } from '../report';

/** The suite's configuration, or the problems that make it unusable (one line each). */
export function loadConfiguration(
  env: NodeJS.ProcessEnv = process.env,
): { config: SuiteConfig } | { problems: string[] } {
  try {
    return { config: loadSuiteConfig(env) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { problems: error.problems };
  }
}

/** A remote target without endpoints cannot be checked at all: its one problem line. */
export function missingEndpoints(): PreflightCheck {
  const problem = 'the remote target has no endpoints: set the PHASE2_* variables (README.md → Targets)';
  return { name: 'configuration', ok: false, problem, ms: 0 };
}
