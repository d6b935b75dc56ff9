/**
 * Preflight (`npm run preflight`, and before the first scenario in remote mode): proves that each
 * endpoint and credential the selected scenarios need works, and reports one line per problem
 * naming the PHASE2_* variable to fix. Checks run concurrently and each is bounded (3 s by
 * default), so a broken environment is reported in seconds instead of as scenario timeouts.
 *
 * One file per check (checks/): configuration, API and operator key, SMPP, SIP, the carrier
 * double, webhooks; selection.ts picks what the selected tags need. This file wires them.
 *
 * What it leaves behind on the platform: one customer named "preflight …" (the API cannot delete
 * customers) with a number and a SIP account. Connector, route and webhook subscription are
 * removed again; every socket and server it opened is closed.
 */
import type { SuiteConfig } from '../../support/config';
import { checkApi, checkOperatorKey, checkRequestTracing, provision } from './checks/api';
import { checkCarrier } from './checks/carrier';
import { missingEndpoints } from './checks/config';
import { checkSipRegistration, checkSipUdp, checkSipWs } from './checks/sip';
import { checkSmppBind, checkSmppPort } from './checks/smpp';
import { checkWebhooks } from './checks/webhooks';
import { checkFaultEndpoint, missingFaultSeam } from './checks/faults';
import { checkTestProviders } from './checks/providers';
import type { PreflightCheck, PreflightOptions, PreflightReport } from './report';
import { PreflightRun } from './run';
import { selectCapabilities, type Capability, type Selection } from './selection';

export { loadConfiguration } from './checks/config';
export {
  formatReport,
  PreflightError,
  type PreflightCheck,
  type PreflightOptions,
  type PreflightReport,
} from './report';
export {
  CATEGORY_NEEDS,
  selectCapabilities,
  selectedTags,
  tagsFromArgv,
  type Capability,
  type Selection,
} from './selection';

export type PreflightInput = Pick<SuiteConfig, 'target' | 'suiteHost' | 'remote'> &
  Partial<Pick<SuiteConfig, 'faults'>>;

export async function preflight(
  config: PreflightInput,
  options: PreflightOptions = {},
): Promise<PreflightReport> {
  const started = Date.now();
  if (config.target === 'embedded')
    return { target: 'embedded', capabilities: [], checks: [], warnings: [], ok: true, ms: 0 };
  if (config.remote === undefined)
    return {
      target: 'remote',
      capabilities: [],
      checks: [missingEndpoints()],
      warnings: [],
      ok: false,
      ms: 0,
    };
  let selection: Selection;
  try {
    selection = selectCapabilities(options.tags, options.featuresDir);
  } catch (error) {
    const problem = `cannot select scenarios with --tags "${options.tags}": ${(error as Error).message}`;
    const checks = [{ name: 'tag expression', ok: false, problem, ms: 0 }];
    return { target: 'remote', tags: options.tags, capabilities: [], checks, warnings: [], ok: false, ms: 0 };
  }
  const run = new PreflightRun(config.remote, config.suiteHost, options.checkTimeoutMs ?? 3000);
  if (selection.stubbedProviders) run.step('test providers', () => checkTestProviders(run.endpoints));
  const failover = failoverSeam(
    run,
    config.faults ?? {},
    options.tags === undefined ? 'all' : selection.failover,
  );
  const checks = await runChecks(run, selection.capabilities);
  const warnings = [
    ...(selection.note ? [selection.note] : []),
    ...(failover ? [failover] : []),
    ...(await run.cleanup()),
  ];
  return {
    target: 'remote',
    tags: options.tags,
    capabilities: selection.capabilities,
    scenarios: selection.scenarios,
    checks,
    warnings,
    ok: checks.every((check) => check.problem === undefined),
    ms: Date.now() - started,
  };
}

/**
 * Selected @failover scenarios need a fault seam: an endpoint is checked (it must list the
 * nodes); none at all is a warning, not a stop — the other scenarios run, and those fail with it.
 */
function failoverSeam(
  run: PreflightRun,
  faults: NonNullable<PreflightInput['faults']>,
  scenarios: number | 'all' | undefined,
): string | undefined {
  if (scenarios === undefined) return undefined;
  if (faults.url) {
    const url = faults.url;
    run.step('fault seam', () => checkFaultEndpoint(run, url));
    return undefined;
  }
  return faults.command ? undefined : missingFaultSeam(scenarios);
}

/** Starts the checks in the order the report lists them; each awaits only what it depends on. */
function runChecks(run: PreflightRun, capabilities: readonly Capability[]): Promise<PreflightCheck[]> {
  const uses = (capability: Capability): boolean => capabilities.includes(capability);
  run.step('API', () => checkApi(run));
  const key = run.step('operator key', () => checkOperatorKey(run));
  run.step('request ids', () => checkRequestTracing(run, key));
  const customer =
    capabilities.length > 0
      ? run.step('preflight customer', () =>
          provision(run, key, { sip: uses('sip'), webhooks: uses('webhooks') }),
        )
      : undefined;
  if (customer && uses('smpp')) {
    const port = run.step('SMPP port', () => checkSmppPort(run));
    run.step('SMPP bind', () => checkSmppBind(run, port, customer));
  }
  if (customer && uses('sip')) {
    const udp = run.step('SIP over UDP', () => checkSipUdp(run));
    run.step('SIP over WebSocket', () => checkSipWs(run));
    run.step('SIP registration', () => checkSipRegistration(run, udp, customer));
  }
  const carrier = run.step('carrier double bound', () => checkCarrier(run, key, uses('webhooks')));
  if (customer && uses('webhooks')) run.step('webhook delivery', () => checkWebhooks(run, customer, carrier));
  return Promise.all(run.steps.map((step) => step.result));
}
