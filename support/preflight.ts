/**
 * Preflight (`npm run preflight`, and before the first scenario in remote mode): proves that each
 * endpoint and credential the selected scenarios need works, and reports one line per problem
 * naming the PHASE2_* variable to fix. Checks run concurrently and each is bounded (3 s by
 * default), so a broken environment is reported in seconds instead of as scenario timeouts.
 *
 * What it leaves behind on the platform: one customer named "preflight …" (the API cannot delete
 * customers) with a number and a SIP account. Connector, route and webhook subscription are
 * removed again; every socket and server it opened is closed.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import { readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, isIP } from 'node:net';
import { join, resolve } from 'node:path';
import got, { type Method } from 'got';
import WebSocket from 'ws';
import type { HostPort, PlatformEndpoints, SuiteConfig, TargetName } from './config';
import type {
  ConnectorStatus,
  CreatedCustomer,
  CreatedWebhook,
  ProblemDetails,
} from '../world/http/api-client';
import type { CarrierSmscDouble } from '../world/smpp/carrier-smsc';

// ---- which checks the selected scenarios need --------------------------------------------------

/** What a scenario may use beyond the API and the carrier double (which every run needs). */
export type Capability = 'sip' | 'smpp' | 'webhooks';

const EVERYTHING: readonly Capability[] = ['sip', 'smpp', 'webhooks'];

const CAPABILITY_NAMES: Readonly<Record<Capability, string>> = {
  sip: 'SIP',
  smpp: 'SMPP',
  webhooks: 'webhooks',
};

/**
 * Category tag → what its scenarios use. The API, the operator key and the carrier double are
 * checked for every run: the suite's environment (support/environment.ts) provisions through the
 * API and waits for the platform to bind to its carrier double before any scenario. Categories
 * without features yet, and scenarios without a category tag, are assumed to use everything.
 */
export const CATEGORY_NEEDS: Readonly<Record<string, readonly Capability[]>> = {
  '@voice-sms': ['sip'], // phones; texts to and from mobiles go through the carrier double
  '@api-voice': ['sip', 'webhooks'], // trunks and phones; call.completed webhooks
  '@api-sms': ['smpp', 'webhooks'], // texts by API and by SMPP; delivery reports as webhooks
  '@workflows': EVERYTHING,
  '@failover': EVERYTHING,
  '@security': EVERYTHING,
  '@load': EVERYTHING,
  '@data-consistency': EVERYTHING,
  '@journeys': EVERYTHING,
};

export interface Selection {
  capabilities: Capability[];
  /** Scenarios (pickles) the tag expression selects; undefined when no expression was given. */
  scenarios?: number;
  /** Why everything is checked although an expression was given (the parser could not load). */
  note?: string;
}

/** Evaluates a tag expression against the feature files, as Cucumber would, and maps the categories. */
export function selectCapabilities(tags: string | undefined, featuresDir = 'features'): Selection {
  if (tags === undefined || tags.trim() === '') return { capabilities: [...EVERYTHING] };
  let parsers: { tagExpressions: TagExpressionsModule; gherkin: GherkinModule };
  try {
    parsers = {
      // Cucumber's own parsers (dependencies of @cucumber/cucumber), loaded only when tags are given.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tagExpressions: require('@cucumber/tag-expressions') as TagExpressionsModule,
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      gherkin: require('@cucumber/gherkin') as GherkinModule,
    };
  } catch (error) {
    return {
      capabilities: [...EVERYTHING],
      note: `could not load Cucumber's tag parser (${(error as Error).message}): checking everything`,
    };
  }
  const expression = parsers.tagExpressions.parse(tags);
  const { Parser, AstBuilder, GherkinClassicTokenMatcher, compile } = parsers.gherkin;
  let nextId = 0;
  const newId = (): string => String((nextId += 1));
  const needed = new Set<Capability>();
  let scenarios = 0;
  for (const file of featureFiles(featuresDir)) {
    const document = new Parser(new AstBuilder(newId), new GherkinClassicTokenMatcher()).parse(
      readFileSync(file, 'utf8'),
    );
    for (const pickle of compile(document, file, newId)) {
      const names = pickle.tags.map((tag) => tag.name);
      if (!expression.evaluate(names)) continue;
      scenarios += 1;
      const categories = names.filter((name) => name in CATEGORY_NEEDS);
      const uses = categories.length > 0 ? categories.flatMap((name) => CATEGORY_NEEDS[name]) : EVERYTHING;
      for (const capability of uses) needed.add(capability);
    }
  }
  return { capabilities: EVERYTHING.filter((c) => needed.has(c)), scenarios };
}

type TagExpressionsModule = typeof import('@cucumber/tag-expressions');
type GherkinModule = typeof import('@cucumber/gherkin');

function featureFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.feature'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The tag expression of a cucumber-js or preflight command line: every `--tags`/`-t` and the
 * tags of every `--profile`/`-p` (from cucumber.js), ANDed as Cucumber does. Undefined when none
 * is given. (Cucumber's parallel workers do not see the command line: they get undefined.)
 */
export function tagsFromArgv(argv: readonly string[], profilesFile = 'cucumber.js'): string | undefined {
  const expressions: string[] = [];
  const profiles: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const inline = /^--(tags|profile)=(.*)$/.exec(arg);
    if (inline) (inline[1] === 'tags' ? expressions : profiles).push(inline[2]);
    else if ((arg === '--tags' || arg === '-t') && argv[i + 1] !== undefined)
      expressions.push(argv[(i += 1)]);
    else if ((arg === '--profile' || arg === '-p') && argv[i + 1] !== undefined)
      profiles.push(argv[(i += 1)]);
  }
  if (profiles.length > 0) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const defined = require(resolve(profilesFile)) as Record<string, { tags?: string } | undefined>;
    for (const profile of profiles) {
      const tags = defined[profile]?.tags;
      if (tags) expressions.push(tags);
    }
  }
  if (expressions.length === 0) return undefined;
  return expressions.length === 1 ? expressions[0] : expressions.map((e) => `(${e})`).join(' and ');
}

// ---- the report ---------------------------------------------------------------------------------

export interface PreflightCheck {
  name: string;
  ok: boolean;
  /** What is wrong and how to fix it, naming the PHASE2_* variable involved. */
  problem?: string;
  /** Not checked because something it needs failed (that failure has its own line). */
  skipped?: string;
  /** What was proven, for a check that passed. */
  detail?: string;
  ms: number;
}

export interface PreflightReport {
  target: TargetName;
  tags?: string;
  capabilities: Capability[];
  scenarios?: number;
  checks: PreflightCheck[];
  /** Things that do not stop the run: cleanup that failed, a tag parser that could not load. */
  warnings: string[];
  ok: boolean;
  ms: number;
}

export interface PreflightOptions {
  /** A Cucumber tag expression: only what the selected scenarios use is checked. */
  tags?: string;
  /** Bound of each check's own work (after what it depends on); default 3000 ms. */
  checkTimeoutMs?: number;
  featuresDir?: string;
}

export type PreflightInput = Pick<SuiteConfig, 'target' | 'suiteHost' | 'remote'>;

/** One line per check (✔ proven, ✖ problem, – not checked) and a last line with the verdict. */
export function formatReport(report: PreflightReport): string {
  if (report.target === 'embedded')
    return 'Preflight: embedded target: the platform starts in-process; nothing to check.';
  const selection =
    report.tags === undefined
      ? 'no tags: checking everything'
      : report.scenarios === undefined
        ? `tags "${report.tags}"`
        : `tags "${report.tags}" select ${report.scenarios} scenario(s), which use: ${['API', 'carrier double', ...report.capabilities.map((c) => CAPABILITY_NAMES[c])].join(', ')}`;
  const width = Math.max(...report.checks.map((check) => check.name.length));
  const lines = [`Preflight of the remote target (${selection})`];
  for (const check of report.checks) {
    const mark = check.ok ? '✔' : check.problem !== undefined ? '✖' : '–';
    const text =
      check.problem ?? (check.skipped !== undefined ? `not checked: ${check.skipped}` : check.detail);
    lines.push(`  ${mark} ${check.name.padEnd(width)}  ${text ?? ''} (${check.ms} ms)`);
  }
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  const problems = report.checks.filter((check) => check.problem !== undefined).length;
  lines.push(
    problems === 0
      ? `Preflight passed in ${(report.ms / 1000).toFixed(1)} s.`
      : `Preflight found ${problems} problem(s) in ${(report.ms / 1000).toFixed(1)} s: fix them (README.md → Targets) and run \`npm run preflight\` again.`,
  );
  return lines.join('\n');
}

/** Thrown by the hook to stop the run; the report has been printed already. */
export class PreflightError extends Error {
  declare readonly report: PreflightReport;

  constructor(report: PreflightReport) {
    const problems = report.checks.filter((check) => check.problem !== undefined);
    super(`Preflight found ${problems.length} problem(s): ${problems.map((p) => p.problem).join(' | ')}`);
    this.name = 'PreflightError';
    // Not enumerable: Cucumber prints the error with its properties, and the lines are printed already.
    Object.defineProperty(this, 'report', { value: report, enumerable: false });
  }
}

// ---- running the checks -------------------------------------------------------------------------

/** The check failed: the message is its one line. */
class Problem extends Error {}
/** The check could not run because something it needs failed. */
class NotChecked extends Error {}

class TimedOut extends Error {
  readonly code = 'ETIMEDOUT';
}

/** What a passed check proved, and what it hands to the checks that depend on it. */
interface Passed<T = true> {
  detail: string;
  value: T;
}

function passed(detail: string): Passed {
  return { detail, value: true };
}

interface Step<T> {
  name: string;
  result: Promise<PreflightCheck>;
  /** What the check produced for the checks that depend on it; undefined when it did not pass. */
  value: Promise<T | undefined>;
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

export async function preflight(
  config: PreflightInput,
  options: PreflightOptions = {},
): Promise<PreflightReport> {
  const started = Date.now();
  if (config.target === 'embedded')
    return { target: 'embedded', capabilities: [], checks: [], warnings: [], ok: true, ms: 0 };
  if (config.remote === undefined) {
    const problem = 'the remote target has no endpoints: set the PHASE2_* variables (README.md → Targets)';
    const checks = [{ name: 'configuration', ok: false, problem, ms: 0 }];
    return { target: 'remote', capabilities: [], checks, warnings: [], ok: false, ms: 0 };
  }
  const timeoutMs = options.checkTimeoutMs ?? 3000;
  let selection: Selection;
  try {
    selection = selectCapabilities(options.tags, options.featuresDir);
  } catch (error) {
    const problem = `cannot select scenarios with --tags "${options.tags}": ${(error as Error).message}`;
    const checks = [{ name: 'tag expression', ok: false, problem, ms: 0 }];
    return { target: 'remote', tags: options.tags, capabilities: [], checks, warnings: [], ok: false, ms: 0 };
  }
  const run = new PreflightRun(config.remote, config.suiteHost, timeoutMs, selection.capabilities);
  const checks = await run.checks();
  const warnings = [...(selection.note ? [selection.note] : []), ...(await run.cleanup())];
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

interface Provisioned {
  customer: CreatedCustomer;
  number?: string;
  sip?: { username: string; password: string };
}

interface CarrierLink {
  carrier: CarrierSmscDouble;
  /** Mobile numbers starting with this are routed to the preflight's carrier double. */
  prefix?: string;
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

class PreflightRun {
  private readonly steps: Array<Step<unknown>> = [];
  private readonly cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
  /** Work a timed-out check left running: cleanup waits for it (each piece is bounded itself). */
  private readonly inflight = new Set<Promise<unknown>>();
  // No keep-alive: nothing may hold the process open once the preflight is over.
  private readonly agent = { http: new http.Agent(), https: new https.Agent() };
  private readonly smppAt: string;
  private readonly sipUdpAt: string;
  /**
   * The drivers' own timeouts: a little longer than the check's bound, so that bound (which
   * reads pending I/O before it gives up) decides, and the work still ends by itself after.
   */
  private readonly backstopMs: number;

  constructor(
    private readonly endpoints: PlatformEndpoints,
    private readonly suiteHost: string,
    private readonly timeoutMs: number,
    private readonly capabilities: readonly Capability[],
  ) {
    this.smppAt = `${endpoints.smpp.host}:${endpoints.smpp.port}`;
    this.sipUdpAt = `${endpoints.sip.udp.host}:${endpoints.sip.udp.port}`;
    this.backstopMs = timeoutMs + 1000;
  }

  async checks(): Promise<PreflightCheck[]> {
    const uses = (capability: Capability): boolean => this.capabilities.includes(capability);
    // Created in the order the report lists them; each awaits only what it depends on.
    this.step('API', () => this.checkApi());
    const key = this.step('operator key', () => this.checkOperatorKey());
    const customer =
      this.capabilities.length > 0
        ? this.step('preflight customer', () => this.provision(key, uses('sip'), uses('webhooks')))
        : undefined;
    if (customer && uses('smpp')) {
      const port = this.step('SMPP port', () => this.checkSmppPort());
      this.step('SMPP bind', () => this.checkSmppBind(port, customer));
    }
    if (customer && uses('sip')) {
      const udp = this.step('SIP over UDP', () => this.checkSipUdp());
      this.step('SIP over WebSocket', () => this.checkSipWs());
      this.step('SIP registration', () => this.checkSipRegistration(udp, customer));
    }
    const carrier = this.step('carrier double bound', () => this.checkCarrier(key, uses('webhooks')));
    if (customer && uses('webhooks'))
      this.step('webhook delivery', () => this.checkWebhooks(customer, carrier));
    return Promise.all(this.steps.map((step) => step.result));
  }

  /** Undoes what the checks set up, latest first; returns what could not be undone. */
  async cleanup(): Promise<string[]> {
    await Promise.allSettled([...this.inflight]);
    const failures: string[] = [];
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await this.within(`${cleanup.what} did not finish`, () => cleanup.run());
      } catch (error) {
        failures.push(`could not ${cleanup.what}: ${(error as Error).message}`);
      }
    }
    this.cleanups.length = 0;
    this.agent.http.destroy();
    this.agent.https.destroy();
    return failures;
  }

  // ---- the checks ----

  private async checkApi(): Promise<Passed> {
    const { apiUrl } = this.endpoints;
    if (!LOOPBACK_HOST.test(new URL(apiUrl).host))
      throw new Problem(
        `PHASE2_API_URL=${apiUrl} is not a loopback address: the suite's network guard (nock, support/hooks.ts) lets HTTP reach loopback only; reach the API through a loopback address (a tunnel)`,
      );
    const answer = await this.request('GET', '/health', null).catch((error: unknown) => {
      throw new Problem(
        `${networkProblem('PHASE2_API_URL', apiUrl, error, this.timeoutMs)}: start the platform's API gateway there or correct PHASE2_API_URL`,
      );
    });
    if (answer.status !== 200)
      throw new Problem(
        `GET ${apiUrl}/health answered ${answered(answer)}: PHASE2_API_URL must be the API's base URL through the gateway`,
      );
    const version = (answer.body as { version?: unknown } | undefined)?.version;
    return passed(`GET ${apiUrl}/health → 200${typeof version === 'string' ? ` (version ${version})` : ''}`);
  }

  private async checkOperatorKey(): Promise<Passed> {
    const answer = await this.request('GET', '/ops/v1/settings', this.endpoints.adminApiKey).catch(() => {
      throw new NotChecked('the API does not answer (see the API line)');
    });
    if (answer.status === 401)
      throw new Problem(
        `PHASE2_ADMIN_API_KEY is not accepted by the gateway (${answered(answer)}): set it to this deployment's operator key`,
      );
    if (answer.status === 403)
      throw new Problem(
        `PHASE2_ADMIN_API_KEY is a valid key but not the operator's (${answered(answer)}): set it to the operator key, not a customer's`,
      );
    if (answer.status !== 200)
      throw new Problem(`GET /ops/v1/settings with PHASE2_ADMIN_API_KEY answered ${answered(answer)}`);
    return passed('GET /ops/v1/settings → 200 with PHASE2_ADMIN_API_KEY');
  }

  /** The customer the other checks act as: made by the operator, as the suite makes its own. */
  private async provision(key: Step<true>, sip: boolean, webhooks: boolean): Promise<Passed<Provisioned>> {
    await this.needs(key);
    const { localDid, password, sipUsername } = factories();
    return this.within('provisioning a customer through the API', async () => {
      const customer = (await this.expect2xx(
        'POST',
        '/v1/customers',
        this.endpoints.adminApiKey,
        { name: `preflight ${new Date().toISOString()}`, tier: 'standard' },
        'the operator could not create a customer',
      )) as CreatedCustomer;
      const provisioned: Provisioned = { customer };
      if (sip || webhooks) {
        const number = localDid();
        await this.expect2xx(
          'POST',
          '/v1/numbers',
          customer.apiKey,
          { number, kind: 'local' },
          'the preflight customer could not add a number',
        );
        provisioned.number = number;
      }
      if (sip && provisioned.number) {
        const account = { username: sipUsername('preflight'), password: password() };
        await this.expect2xx(
          'POST',
          '/v1/sip-accounts',
          customer.apiKey,
          { ...account, number: provisioned.number },
          'the preflight customer could not create a SIP account',
        );
        provisioned.sip = account;
      }
      const made = [`customer ${customer.id} "${customer.name}"`];
      if (provisioned.number) made.push(`number ${provisioned.number}`);
      if (provisioned.sip) made.push(`SIP account ${provisioned.sip.username}`);
      return { detail: `created through the API: ${made.join(', ')}`, value: provisioned };
    });
  }

  private async checkSmppPort(): Promise<Passed> {
    const { host, port } = this.endpoints.smpp;
    await this.within('TCP connect', (signal) => tcpProbe(host, port, signal)).catch((error: unknown) => {
      throw new Problem(
        `${networkProblem('PHASE2_SMPP', this.smppAt, error, this.timeoutMs)}: start the SMSC there or correct PHASE2_SMPP`,
      );
    });
    return passed(`TCP connect to ${this.smppAt}`);
  }

  private async checkSmppBind(port: Step<true>, customer: Step<Provisioned>): Promise<Passed> {
    await this.needs(port);
    const { smpp } = (await this.needs(customer)).customer;
    const { SmppCustomerSession, SmppCommandError } = smppDrivers();
    const session = new SmppCustomerSession({
      connectTimeoutMs: this.backstopMs,
      responseTimeoutMs: this.backstopMs,
      enquireLinkMs: 0,
    });
    this.cleanups.push({ what: 'close the SMPP session', run: () => session.close() });
    try {
      await this.within('bind_transceiver and unbind', async () => {
        await session.connect({ ...this.endpoints.smpp, actor: 'preflight ESME' });
        await session.bind({ systemId: smpp.systemId, password: smpp.password, mode: 'transceiver' });
        await session.unbind();
      });
    } catch (error) {
      if (error instanceof SmppCommandError)
        throw new Problem(
          `the SMSC at PHASE2_SMPP=${this.smppAt} refused ${error.command} of a customer just created through the API (${error.statusName}): PHASE2_SMPP and PHASE2_API_URL must belong to the same deployment`,
        );
      throw new Problem(
        `SMPP at PHASE2_SMPP=${this.smppAt} accepts TCP but the bind failed (${(error as Error).message.split('\n')[0]}): is PHASE2_SMPP the SMSC's SMPP port?`,
      );
    }
    return passed(`bound as transceiver with system_id ${smpp.systemId}, then unbound`);
  }

  private async checkSipUdp(): Promise<Passed> {
    const { udp, domain } = this.endpoints.sip;
    const statusLine = await this.within('SIP OPTIONS', (signal) => sipOptions(udp, domain, signal)).catch(
      (error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED')
          throw new Problem(
            `nothing listens for SIP on PHASE2_SIP_UDP=${this.sipUdpAt} (ICMP port unreachable): start the SIP proxy there or correct PHASE2_SIP_UDP`,
          );
        if (code === 'ETIMEDOUT')
          throw new Problem(
            `no SIP response to an OPTIONS sent to PHASE2_SIP_UDP=${this.sipUdpAt} within ${seconds(this.timeoutMs)} (nothing listening, or a firewall drops UDP): correct PHASE2_SIP_UDP or open UDP ${udp.port}`,
          );
        throw new Problem(`${networkProblem('PHASE2_SIP_UDP', this.sipUdpAt, error, this.timeoutMs)}`);
      },
    );
    return passed(`OPTIONS → ${statusLine}`);
  }

  private async checkSipWs(): Promise<Passed> {
    const url = this.endpoints.sip.ws;
    await this.within('WebSocket handshake', (signal) => wsHandshake(url, signal)).catch((error: unknown) => {
      const message = (error as Error).message;
      if (/subprotocol/i.test(message))
        throw new Problem(
          `PHASE2_SIP_WS=${url} answered the WebSocket handshake without the "sip" subprotocol (RFC 7118): is it the SIP WebSocket port?`,
        );
      if (/Unexpected server response/i.test(message))
        throw new Problem(
          `PHASE2_SIP_WS=${url} answered HTTP instead of a WebSocket upgrade (${message}): correct PHASE2_SIP_WS`,
        );
      throw new Problem(
        `${networkProblem('PHASE2_SIP_WS', url, error, this.timeoutMs)}: start SIP over WebSocket there or correct PHASE2_SIP_WS`,
      );
    });
    return passed(`WebSocket handshake with subprotocol "sip" at ${url}`);
  }

  private async checkSipRegistration(udp: Step<true>, customer: Step<Provisioned>): Promise<Passed> {
    await this.needs(udp);
    const { sip } = await this.needs(customer);
    if (!sip) throw new NotChecked('the preflight customer has no SIP account');
    const { domain } = this.endpoints.sip;
    const { SipPhone } = sipDrivers();
    const phone = new SipPhone({
      actor: 'preflight phone',
      username: sip.username,
      password: sip.password,
      domain,
      transport: 'udp',
      server: this.endpoints.sip.udp,
      registerExpiresSec: 60,
      requestTimeoutMs: this.backstopMs,
    });
    // stop() un-REGISTERs: the platform keeps no binding of the preflight.
    this.cleanups.push({ what: 'stop the preflight phone', run: () => phone.stop() });
    try {
      await this.within('REGISTER', async () => {
        await phone.start();
        await phone.register();
      });
    } catch (error) {
      const message = (error as Error).message;
      const refused = /refused with (\d{3} [^(]*)/.exec(message);
      if (refused)
        throw new Problem(
          `the registrar at PHASE2_SIP_UDP=${this.sipUdpAt} refused a SIP account just created through the API (${refused[1].trim()}): PHASE2_SIP_DOMAIN=${domain} must be the platform's SIP domain and digest realm`,
        );
      throw new Problem(
        `REGISTER of sip:${sip.username}@${domain} at PHASE2_SIP_UDP=${this.sipUdpAt} failed: ${message.split('\n')[0]}`,
      );
    }
    return passed(
      `REGISTER sip:${sip.username}@${domain} accepted (un-REGISTERed again when the preflight ends)`,
    );
  }

  /** The suite's environment does the same for every run: register its carrier double and wait for the bind. */
  private async checkCarrier(key: Step<true>, withRoute: boolean): Promise<Passed<CarrierLink>> {
    await this.needs(key);
    const { CarrierSmscDouble } = carrierDrivers();
    const credentials = {
      systemId: `pf${randomBytes(3).toString('hex')}`,
      password: randomBytes(4).toString('hex'),
    };
    const carrier = new CarrierSmscDouble();
    await carrier.start(credentials);
    this.cleanups.push({ what: 'stop the carrier double', run: () => carrier.stop() });
    const port = carrier.address().port;
    const where = `PHASE2_SUITE_HOST=${this.suiteHost} (carrier double on port ${port})`;
    const id = `preflight-${randomBytes(3).toString('hex')}`;
    const admin = this.endpoints.adminApiKey;
    // Registered before the PUT (a timed-out PUT may still land; DELETE of nothing is a 404) and
    // before the route, so it runs last; deleting the connector also removes its routes.
    this.cleanups.push({
      what: `remove connector ${id}`,
      run: () => this.delete(`/ops/v1/smsc/connectors/${id}`),
    });
    const put = await this.request('PUT', `/ops/v1/smsc/connectors/${id}`, admin, {
      host: this.suiteHost,
      port,
      ...credentials,
    }).catch((error: unknown) => {
      throw new Problem(`PUT /ops/v1/smsc/connectors/${id} got no answer: ${(error as Error).message}`);
    });
    if (put.status === 422)
      throw new Problem(
        `the platform refuses a carrier connector at ${where} (${answered(put)}): set PHASE2_SUITE_HOST to an address the platform may and can reach`,
      );
    if (put.status < 200 || put.status >= 300)
      throw new Problem(`PUT /ops/v1/smsc/connectors/${id} answered ${answered(put)}`);
    let prefix: string | undefined;
    if (withRoute) {
      const routed = factories().mobileRangePrefix();
      this.cleanups.push({
        what: `remove route ${routed}`,
        run: () => this.delete(`/ops/v1/smsc/routes/${encodeURIComponent(routed)}`),
      });
      prefix = routed;
      await this.expect2xx(
        'PUT',
        '/ops/v1/smsc/routes',
        admin,
        { prefix, connectorId: id },
        'routing a mobile range',
      );
    }
    try {
      await this.within('bind', (signal) => until(() => carrier.boundSessions() > 0, signal));
    } catch {
      const status = await this.connectorStatus(id);
      throw new Problem(
        `the platform did not bind to the carrier double at ${where} within ${seconds(this.timeoutMs)}` +
          `${status ? ` (connector ${status.state}${status.lastError ? `: ${status.lastError}` : ''})` : ''}` +
          ': PHASE2_SUITE_HOST must be the address at which the platform reaches this machine',
      );
    }
    const status = await this.connectorStatus(id);
    if (status?.state !== 'bound')
      throw new Problem(
        `the carrier double saw a bind, but GET /ops/v1/smsc/connectors shows ${id} ${status ? status.state : 'missing'}`,
      );
    return {
      detail: `connector ${id} bound to ${this.suiteHost}:${port}${prefix ? `, route ${prefix}` : ''}`,
      value: { carrier, prefix },
    };
  }

  /**
   * The platform accepts the receiver's URL (no 422 from its host allowlist) and really delivers
   * an event there: a text to the preflight's carrier double makes a message.sent event.
   */
  private async checkWebhooks(customer: Step<Provisioned>, carrierStep: Step<CarrierLink>): Promise<Passed> {
    const { customer: created, number } = await this.needs(customer);
    const { WebhookReceiver } = webhookDrivers();
    const receiver = new WebhookReceiver({ publicHost: this.suiteHost });
    await receiver.start();
    this.cleanups.push({ what: 'stop the webhook receiver', run: () => receiver.stop() });
    const endpoint = receiver.endpoint('preflight');
    const answer = await this.request('POST', '/v1/webhooks', created.apiKey, {
      url: endpoint.url,
      events: ['message.*'],
    }).catch((error: unknown) => {
      throw new Problem(`POST /v1/webhooks got no answer: ${(error as Error).message}`);
    });
    if (answer.status === 422)
      throw new Problem(
        `the platform refuses webhook URLs at PHASE2_SUITE_HOST=${this.suiteHost} (${answered(answer)}): allow that host on the platform or set PHASE2_SUITE_HOST to one it allows`,
      );
    if (answer.status < 200 || answer.status >= 300)
      throw new Problem(`POST /v1/webhooks answered ${answered(answer)}`);
    const webhook = answer.body as CreatedWebhook;
    endpoint.setSecret(webhook.secret);
    // Deleting the subscription also drops its pending deliveries: nothing retries to a closed port.
    this.cleanups.push({
      what: `remove webhook ${webhook.id}`,
      run: () => this.delete(`/v1/webhooks/${webhook.id}`, created.apiKey),
    });

    const link = await carrierStep.value;
    if (!link?.prefix || !number)
      throw new NotChecked(
        `the platform accepted ${endpoint.url}, but proving a delivery needs the carrier double (see its line)`,
      );
    const to = `${link.prefix}${'1'.padStart(16 - link.prefix.length, '0')}`;
    link.carrier.behaviourFor(to, 'never'); // no receipt: no later event for a receiver about to close
    await this.expect2xx(
      'POST',
      '/v1/messages',
      created.apiKey,
      { from: number, to, text: 'preflight' },
      'sending a text to trigger a webhook',
    );
    try {
      await this.within('a delivery', (signal) =>
        until(() => receiver.events.all().some((event) => event.path === endpoint.path), signal),
      );
    } catch {
      const refused = receiver.rejected.all().map((r) => r.reason);
      throw new Problem(
        refused.length > 0
          ? `webhook deliveries reached ${endpoint.url} but did not verify: ${refused.join('; ')}`
          : `the platform accepted the webhook URL ${endpoint.url} but no delivery reached it within ${seconds(this.timeoutMs)}: the platform must reach PHASE2_SUITE_HOST=${this.suiteHost} over HTTP (firewall, NAT)`,
      );
    }
    return passed(`the platform delivered a signed event to ${endpoint.url}`);
  }

  // ---- plumbing ----

  private step<T>(name: string, body: () => Promise<Passed<T>>): Step<T> {
    const started = Date.now();
    const outcome = body().then(
      ({ detail, value }) => ({ value, check: { name, ok: true, detail, ms: 0 } as PreflightCheck }),
      (error: unknown) => {
        const check: PreflightCheck = { name, ok: false, ms: 0 };
        if (error instanceof NotChecked) check.skipped = error.message;
        else if (error instanceof Problem) check.problem = error.message;
        else check.problem = `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
        return { value: undefined, check };
      },
    );
    const step: Step<T> = {
      name,
      result: outcome.then(({ check }) => ({ ...check, ms: Date.now() - started })),
      value: outcome.then(({ value }) => value),
    };
    this.steps.push(step as Step<unknown>);
    return step;
  }

  /** The value of a check this one depends on; NotChecked when that check did not pass. */
  private async needs<T>(step: Step<T>): Promise<T> {
    const [check, value] = await Promise.all([step.result, step.value]);
    if (check.ok && value !== undefined) return value;
    throw new NotChecked(check.skipped ?? `needs "${step.name}" (✖ above)`);
  }

  /**
   * Bounds a piece of a check's work: past the check bound it is aborted through the signal (the
   * probes, HTTP requests and waits stop at once) and rejects with ETIMEDOUT. The drivers cannot be
   * aborted and end by their own, slightly longer timeouts: cleanup waits for whatever is in flight.
   */
  private within<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const running = work(controller.signal);
    this.inflight.add(running);
    const settled = (): void => void this.inflight.delete(running);
    running.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // setImmediate: an answer that arrived while the event loop was busy (loading a driver)
      // is read in the poll phase first, instead of losing to a timer that fired late.
      timer = setTimeout(
        () =>
          setImmediate(() => {
            reject(new TimedOut(`${what}: no result within ${seconds(this.timeoutMs)}`));
            controller.abort();
          }),
        this.timeoutMs,
      );
    });
    return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
  }

  private async request(
    method: Method,
    path: string,
    apiKey: string | null,
    json?: unknown,
  ): Promise<HttpAnswer> {
    const response = await this.within(`${method} ${path}`, (signal) =>
      got(`${this.endpoints.apiUrl}${path}`, {
        signal,
        method,
        headers: {
          ...(apiKey === null ? {} : { apikey: apiKey }),
          'x-request-id': `preflight-${randomBytes(6).toString('hex')}`,
        },
        json,
        throwHttpErrors: false,
        retry: { limit: 0 },
        followRedirect: false,
        timeout: { request: this.backstopMs },
        agent: this.agent,
        responseType: 'text',
      }),
    );
    let body: unknown = response.body;
    if (/json/i.test(response.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(response.body) as unknown;
      } catch {
        // leave the text: answered() shows it
      }
    }
    return { status: response.statusCode, body };
  }

  private async expect2xx(
    method: Method,
    path: string,
    apiKey: string,
    json: unknown,
    what: string,
  ): Promise<unknown> {
    const answer = await this.request(method, path, apiKey, json).catch((error: unknown) => {
      throw new Problem(`${what}: ${method} ${path} got no answer (${(error as Error).message})`);
    });
    if (answer.status < 200 || answer.status >= 300)
      throw new Problem(`${what}: ${method} ${path} → ${answered(answer)}`);
    return answer.body;
  }

  private async delete(path: string, apiKey = this.endpoints.adminApiKey): Promise<void> {
    const answer = await this.request('DELETE', path, apiKey);
    if (answer.status >= 300 && answer.status !== 404)
      throw new Error(`DELETE ${path} → ${answered(answer)}`);
  }

  private async connectorStatus(id: string): Promise<ConnectorStatus | undefined> {
    try {
      const answer = await this.request('GET', '/ops/v1/smsc/connectors', this.endpoints.adminApiKey);
      return (answer.body as { items?: ConnectorStatus[] } | undefined)?.items?.find((c) => c.id === id);
    } catch {
      return undefined;
    }
  }
}

// ---- probes that need no driver -------------------------------------------------------------------

/** Rejects with the signal's reason when aborted; runs `stop` first to release the socket. */
function onAbort(signal: AbortSignal, stop: () => void, reject: (error: Error) => void): void {
  signal.addEventListener('abort', () => {
    stop();
    reject(new TimedOut('aborted'));
  });
}

function tcpProbe(host: string, port: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = tcpConnect({ host, port });
    onAbort(signal, () => socket.destroy(), reject);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise();
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

/** Resolves once `condition` holds (checked every 20 ms): a wait that, unlike Observed's, can be aborted. */
function until(condition: () => boolean, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const poll = (): void => {
      if (!condition()) return;
      clearInterval(timer);
      resolvePromise();
    };
    const timer = setInterval(poll, 20);
    onAbort(signal, () => clearInterval(timer), reject);
    poll();
  });
}

/**
 * UDP cannot be proven by a connect: send a real OPTIONS and wait for any SIP response. The
 * socket is connected, so an ICMP port unreachable comes back as ECONNREFUSED at once.
 */
function sipOptions(target: HostPort, domain: string, signal: AbortSignal): Promise<string> {
  const socket = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
  const callId = `preflight-${randomBytes(8).toString('hex')}`;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      socket.close();
    } catch {
      // already closed by the runtime after an error
    }
  };
  return new Promise<string>((resolvePromise, reject) => {
    onAbort(signal, close, reject);
    socket.on('error', reject);
    socket.on('message', (datagram) => {
      const text = datagram.toString('utf8');
      if (text.startsWith('SIP/2.0 ') && text.includes(callId)) resolvePromise(text.split('\r\n', 1)[0]);
    });
    socket.connect(target.port, target.host, () => {
      if (closed) return; // aborted while the host name was being resolved
      const local = socket.address();
      const via =
        local.family === 'IPv6' ? `[${local.address}]:${local.port}` : `${local.address}:${local.port}`;
      const host = domain || target.host;
      const message = [
        `OPTIONS sip:${host} SIP/2.0`,
        `Via: SIP/2.0/UDP ${via};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
        'Max-Forwards: 70',
        `From: <sip:preflight@${host}>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${host}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:preflight@${via}>`,
        'Accept: application/sdp',
        'User-Agent: phase2-acceptance preflight',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      socket.send(message, (error) => {
        if (error) reject(error);
      });
    });
  }).finally(close);
}

function wsHandshake(url: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = new WebSocket(url, 'sip');
    onAbort(signal, () => socket.terminate(), reject);
    socket.once('open', () => {
      const confirmed = socket.protocol === 'sip';
      socket.terminate(); // nothing to say on it; a close handshake would only add a wait
      if (confirmed) resolvePromise();
      else reject(new Error('the server did not confirm the subprotocol "sip"'));
    });
    socket.once('error', (error) => {
      socket.terminate();
      reject(error);
    });
  });
}

// ---- wording ------------------------------------------------------------------------------------

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** One phrase for a failed connection, naming the variable and its value. */
function networkProblem(variable: string, value: string, error: unknown, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing listens on ${variable}=${value} (connection refused)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host of ${variable}=${value} does not resolve (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${variable}=${value} is unreachable from here (${code})`;
    case 'ECONNRESET':
      return `${variable}=${value} closed the connection at once (${code})`;
    case 'ETIMEDOUT':
      return `no answer from ${variable}=${value} within ${seconds(timeoutMs)} (host down, or a firewall drops the traffic)`;
    default:
      return `${variable}=${value}: ${(error as Error | undefined)?.message ?? String(error)}`;
  }
}

/** "401 Invalid authentication credentials": the status and what the body says (Kong's
 * {message}, a problem's title and fields, or the start of a text). */
function answered(answer: HttpAnswer): string {
  const { body } = answer;
  let text = '';
  if (typeof body === 'string') text = body.slice(0, 120);
  else if (body !== null && typeof body === 'object') {
    const problem = body as ProblemDetails;
    const fields = problem.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    text = problem.message ?? [problem.title, fields ?? problem.detail].filter(Boolean).join(': ');
  }
  return text ? `${answer.status} ${text}` : String(answer.status);
}

// ---- drivers, loaded only when a check needs them -------------------------------------------------
// The usual failure (a wrong key, a closed port) is reported without loading sip.js, the SMPP
// library or faker.

function factories(): typeof import('../world/factories') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../world/factories') as typeof import('../world/factories');
}

function smppDrivers(): typeof import('../world/smpp/smpp-session') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../world/smpp/smpp-session') as typeof import('../world/smpp/smpp-session');
}

function sipDrivers(): typeof import('../world/sip/sip-phone') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../world/sip/sip-phone') as typeof import('../world/sip/sip-phone');
}

function carrierDrivers(): typeof import('../world/smpp/carrier-smsc') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../world/smpp/carrier-smsc') as typeof import('../world/smpp/carrier-smsc');
}

function webhookDrivers(): typeof import('../world/http/webhook-receiver') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../world/http/webhook-receiver') as typeof import('../world/http/webhook-receiver');
}
