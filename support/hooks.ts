import {
  After,
  AfterAll,
  AfterStep,
  Before,
  BeforeAll,
  parallelCanAssignHelpers,
  setDefaultTimeout,
  setParallelCanAssign,
  Status,
} from '@cucumber/cucumber';
import { recordScenarioTraffic } from '../reporting/traffic-outcomes';
import { recordAuditCompleteness } from '../reporting/audit-completeness';
import { PlatformApi } from '../world/http/api-client';
import nock from 'nock';
import { config as chaiConfig } from 'chai';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { ConfigError, loadSuiteConfig, type PlatformEndpoints } from './config';
import {
  startFailoverEnvironment,
  startGatewayNodesEnvironment,
  startSuiteEnvironment,
  type SuiteEnvironment,
} from './environment';
import { attachFlowDiagrams, attachJson, attachStepTraffic } from '../reporting/evidence';
import { seedFaker } from '../world/factories';
import { formatReport, preflight, PreflightError, selectedTags } from '../tools/preflight';
import type { Phase2World } from '../world/world';
import { MobileNetwork } from '../world/mobile-network';
import { redactedSecrets } from '../world/http/redact';

// A failure message shows the whole actual value (a text, a record), not chai's first 40 characters.
chaiConfig.truncateThreshold = 0;

// Individual waits carry their own, shorter bounds; this only stops a step that hangs outright.
setDefaultTimeout(30_000);
// One redundant platform at a time: each is nine processes whose takeovers are timed, and two of
// them on a 2-core machine would measure the machine, not the failover. The other worker goes on
// with the functional scenarios meanwhile.
setParallelCanAssign(parallelCanAssignHelpers.atMostOnePicklePerTag(['@failover']));

let environment: SuiteEnvironment | undefined;
let startFailure: unknown;
/** Where this run went, without secrets: every scenario attaches it, the run summary reports it. */
let runParameters: Record<string, string | number> = {};
const SUITE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

BeforeAll({ timeout: 120_000 }, async function () {
  // The suite may talk to loopback only (non-negotiables 7 and 9): any other HTTP connection
  // fails loudly instead of reaching the internet. Raw TCP/UDP (SIP, SMPP) stay loopback by config.
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/);
  try {
    // A remote target is checked first: a broken environment stops the run here, one line per
    // problem, before any scenario starts.
    const suiteConfig = loadSuiteConfig();
    if (suiteConfig.target === 'remote') {
      const report = await preflight(suiteConfig, { tags: selectedTags() });
      if (!report.ok) {
        process.stderr.write(`\n${formatReport(report)}\n\n`);
        throw new PreflightError(report);
      }
    }
    environment = await startSuiteEnvironment(suiteConfig);
    const { config, endpoints, operator } = environment;
    runParameters = {
      target: config.target,
      api: endpoints.apiUrl,
      sip: `${endpoints.sip.udp.host}:${endpoints.sip.udp.port} (UDP), ${endpoints.sip.ws} (WebSocket)`,
      smpp: `${endpoints.smpp.host}:${endpoints.smpp.port}`,
      // The lab's real peers and where they listened (the SIP line above is Kamailio's there).
      ...(endpoints.topology ? { peers: describePeers(endpoints.topology) } : {}),
      suiteVersion: SUITE_VERSION,
      platformVersion: (await operator.health()).version,
      fakerSeed: config.fakerSeed,
    };
  } catch (error) {
    startFailure = error;
    if (error instanceof ConfigError) {
      // One clear line per problem, before Cucumber's stack trace buries them.
      process.stderr.write(`\n${error.message}\nSee README.md → Targets.\n\n`);
    }
    throw error;
  }
});

// Defined before the hook below, so it runs first: a failover scenario's World points at a
// redundant platform of its own (embedded) or at the deployment's fault seam (remote).
Before(
  { tags: '@failover', name: 'Start a redundant platform for this failover scenario', timeout: 120_000 },
  async function (this: Phase2World) {
    if (!environment) throw new Error(`The test environment did not start: ${String(startFailure)}`);
    const own = await startFailoverEnvironment(environment);
    // The first cleanup registered runs last: phones and sessions end before their platform stops.
    this.onCleanup(() => own.stop());
    this.env = own;
  },
);

Before(
  {
    tags: '@gateway-nodes',
    name: 'Start a platform with two API gateway nodes serving at once',
    timeout: 120_000,
  },
  async function (this: Phase2World) {
    if (!environment) throw new Error(`The test environment did not start: ${String(startFailure)}`);
    const own = await startGatewayNodesEnvironment(environment);
    this.onCleanup(() => own.stop());
    this.env = own;
  },
);

Before(
  { name: 'Join the test environment and seed the test data' },
  function (this: Phase2World, { pickle }) {
    if (!environment) {
      throw new Error(`The test environment did not start: ${String(startFailure)}`);
    }
    this.env ??= environment;
    this.mobileNetwork = new MobileNetwork(this.env.carrier, this.env.mobilePrefix, (fn) =>
      this.onCleanup(fn),
    );
    this.scenarioName = pickle.name;
    const network = this.mobileNetwork;
    const violationsBefore = network.violations.all().length;
    // The mobile network double notices protocol faults (wrong alphabet, bad PDUs, unacknowledged
    // receipts) even when the scenario's own checks pass: any during this scenario fails it.
    this.onCleanup(async () => {
      const seen = network.violations.all().slice(violationsBefore);
      if (seen.length > 0) {
        throw new Error(
          `The mobile network saw ${seen.length} protocol violation(s) from the platform (see "SMPP PDUs"):\n` +
            seen.map((v) => `  - ${v}`).join('\n'),
        );
      }
    });
    // Seeded per scenario, so a scenario's data can be replayed whatever order or worker it ran in.
    const scenarioSeed = createHash('sha256')
      .update(`${this.env.config.fakerSeed}:${pickle.uri}:${pickle.name}`)
      .digest()
      .readUInt32BE(0);
    seedFaker(scenarioSeed);
    attachJson(this, 'Run parameters', {
      ...runParameters,
      ...(this.env === environment
        ? {}
        : { api: this.env.endpoints.apiUrl, platformLog: this.env.platformLog }),
      scenarioSeed,
      worker: process.env.CUCUMBER_WORKER_ID ?? '0',
    });
  },
);

// Evidence sits on the step that caused it: a failing step carries the traffic that explains it.
// The flow diagrams go on the last step to run (the failing one, or the scenario's last), so the
// report shows them beside the step a reader opens first.
AfterStep(function (this: Phase2World, { pickle, pickleStep, result }) {
  attachStepTraffic(this);
  const failed = result.status === Status.FAILED;
  if (failed || pickle.steps.at(-1)?.id === pickleStep.id)
    attachFlowDiagrams(this, failed ? result.message : undefined);
});

After(
  { name: 'Clean up: end calls and sessions, attach what teardown sent' },
  async function (this: Phase2World, { result }) {
    try {
      // Before cleanup stops a failover scenario's own platform: its trail is looked up there.
      await recordAuditCompleteness(this, [this.env, environment].flatMap(auditReader));
      recordScenarioTraffic(this); // before cleanup forgets the handsets it judges by
      await this.cleanup();
    } finally {
      attachStepTraffic(this);
      if (result?.status === Status.FAILED && this.env) {
        this.attach(`Platform log: ${this.env.platformLog}`, {
          mediaType: 'text/plain',
          fileName: 'Where to look',
        });
      }
    }
  },
);

AfterAll({ timeout: 30_000 }, async function () {
  nock.enableNetConnect();
  // For the secret scan of `npm test`: the values redaction hid, in a file outside the reports.
  const secretsFile = process.env.PHASE2_SECRETS_FILE;
  if (secretsFile) {
    const secrets = [...redactedSecrets, environment?.endpoints.adminApiKey ?? ''].filter(
      (s) => s.length >= 6,
    );
    appendFileSync(secretsFile, secrets.map((s) => `${s}\n`).join(''), { mode: 0o600 });
  }
  if (environment) await environment.stop();
});

/**
 * The operator's client for looking changes up in a platform's audit trail at scenario end, with
 * a short bound: a scenario that failed with its API node hung must still reach its cleanup.
 */
function auditReader(env: SuiteEnvironment | undefined): Array<{ baseUrl: string; api: PlatformApi }> {
  if (!env) return [];
  const api = new PlatformApi({
    baseUrl: env.endpoints.apiUrl,
    apiKey: env.endpoints.adminApiKey,
    actor: 'operator (audit check)',
    timeoutMs: 3_000,
    checkRequestIdEcho: false,
  });
  return [{ baseUrl: env.endpoints.apiUrl.replace(/\/+$/, ''), api }];
}

/** "Kamailio 127.0.0.1:10000, rtpengine 127.0.0.1:10010–10249": who the target put in the path. */
function describePeers(peers: NonNullable<PlatformEndpoints['topology']>): string {
  return peers
    .map((p) => `${p.name} ${p.host}:${p.portMin}${p.portMax === p.portMin ? '' : `–${p.portMax}`}`)
    .join(', ');
}
