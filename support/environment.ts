import { mkdirSync } from 'node:fs';
import { loadSuiteConfig, startsItsOwnPlatform, type PlatformEndpoints, type SuiteConfig } from './config';
import { mobileRangePrefix } from '../world/factories';
import { peerNames } from '../world/traffic-log';
import { PlatformApi } from '../world/http/api-client';
import { WebhookReceiver } from '../world/http/webhook-receiver';
import type { CarrierSmscDouble } from '../world/smpp/carrier-smsc';
import { connectCarrier } from '../world/smpp/connected-carrier';
import {
  FAULT_SEAM_MISSING,
  FaultEndpoint,
  NoFaultSeam,
  faultInjectorFor,
  type FaultInjector,
} from '../world/faults/fault-injector';
import type { EmbeddedPlatform } from './embedded-platform';

/**
 * Everything that lives for a whole worker: the platform's endpoints, the mobile network and
 * webhook doubles, and the operator's API client. (The telephone network behind trunks is
 * per scenario: see Phase2World.telephoneNetwork.) Scenarios share these servers but
 * never their data: each scenario makes its own customers, numbers and sessions.
 */
export interface SuiteEnvironment {
  config: SuiteConfig;
  endpoints: PlatformEndpoints;
  /** The operator's API client (admin key): provisions customers and carrier connectors. */
  operator: PlatformApi;
  carrier: CarrierSmscDouble;
  /** Mobile numbers starting with this are routed by the platform to this worker's carrier double. */
  mobilePrefix: string;
  webhooks: WebhookReceiver;
  /** Where to look when the platform misbehaves. */
  platformLog: string;
  /** How scenarios crash, hang and recover the platform's nodes (NoFaultSeam when nothing can). */
  faults: FaultInjector;
  stop(): Promise<void>;
}

/** Which platform an environment runs against: the shared single one, or a cluster of its own. */
export interface EnvironmentOptions {
  /** Embedded only: start a redundant cluster (one process per node) instead of the in-process platform. */
  cluster?: boolean;
  /** With cluster: both API gateway nodes serve at once, each at its own address. */
  gatewayNodes?: boolean;
}

export const REPORTS_DIR = 'reports';

export async function startSuiteEnvironment(
  config: SuiteConfig = loadSuiteConfig(),
  options: EnvironmentOptions = {},
): Promise<SuiteEnvironment> {
  mkdirSync(REPORTS_DIR, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  // Every server gets its stop even if an earlier one fails; then the failures are reported.
  const stop = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const fn of stops.reverse()) {
      try {
        await fn();
      } catch (error) {
        failures.push(error);
      }
    }
    stops.length = 0;
    if (failures.length > 0) {
      // Cucumber prints only an AggregateError's message: name every server that failed to stop.
      const reasons = failures.map((f, i) => `  ${i + 1}. ${f instanceof Error ? f.message : String(f)}`);
      throw new AggregateError(
        failures,
        `${failures.length} test server(s) did not stop cleanly:\n${reasons.join('\n')}`,
      );
    }
  };
  try {
    let endpoints: PlatformEndpoints;
    let platformLog = 'the platform deployment’s own logs';
    let faults: FaultInjector | undefined;
    const worker = process.env.CUCUMBER_WORKER_ID ?? '0';
    if (startsItsOwnPlatform(config.target)) {
      // Loaded lazily so a remote run never even loads the reference platform. A require, not
      // import(): under CommonJS, import() would bypass ts-node.
      const launcher = './embedded-platform';
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const loaded = require(launcher) as typeof import('./embedded-platform');
      let platform: EmbeddedPlatform;
      if (config.target === 'lab' && options.cluster) {
        const log = `${REPORTS_DIR}/cluster-${worker}-${Date.now()}.log`;
        const cluster = await loaded.startLabCluster(log, worker).catch((error: unknown) => {
          throw new Error(
            `The redundant lab platform for this scenario did not start: ${(error as Error).message} (its log: ${log})`,
          );
        });
        platformLog = [log, ...cluster.peerLogs].join(', ');
        faults = new FaultEndpoint(cluster.faultUrl, cluster.endpoints.adminApiKey, config.waitMs);
        platform = cluster;
      } else if (config.target === 'lab') {
        const lab = await loaded.startLabPlatform(`${REPORTS_DIR}/platform-${worker}.log`, worker);
        platformLog = [lab.logFile, ...lab.peerLogs].join(', ');
        platform = lab;
      } else if (options.cluster) {
        platformLog = `${REPORTS_DIR}/cluster-${worker}-${Date.now()}.log`;
        const log = platformLog;
        const cluster = await loaded
          .startEmbeddedCluster(log, options.gatewayNodes ? ['api'] : [])
          .catch((error: unknown) => {
            throw new Error(
              `The redundant platform for this scenario did not start: ${(error as Error).message} (its log: ${log})`,
            );
          });
        faults = new FaultEndpoint(cluster.faultUrl, cluster.endpoints.adminApiKey, config.waitMs);
        platform = cluster;
      } else {
        platformLog = `${REPORTS_DIR}/platform-${worker}.log`;
        platform = await loaded.startEmbeddedPlatform(platformLog);
      }
      stops.push(() => platform.stop());
      endpoints = platform.endpoints;
    } else {
      endpoints = config.remote as PlatformEndpoints;
    }
    // The lab names its real peers by address: the ladders draw them as columns of their own.
    peerNames.define(endpoints.topology ?? []);
    faults ??=
      config.target === 'remote'
        ? faultInjectorFor(config.faults, endpoints.adminApiKey, config.waitMs)
        : new NoFaultSeam();

    const operator = new PlatformApi({
      baseUrl: endpoints.apiUrl,
      apiKey: endpoints.adminApiKey,
      actor: 'operator',
      // The run's setup must not die on it: each customer's client checks the echo in its scenario.
      checkRequestIdEcho: false,
    });

    const webhooks = new WebhookReceiver({ publicHost: config.suiteHost });
    await webhooks.start();
    stops.push(() => webhooks.stop());

    // Point the platform's SMSC at this worker's carrier double for this worker's mobile range.
    const mobilePrefix = mobileRangePrefix();
    const { double: carrier } = await connectCarrier(
      operator,
      {
        label: process.env.CUCUMBER_WORKER_ID ?? '0',
        prefix: mobilePrefix,
        suiteHost: config.suiteHost,
        bindWithinMs: config.waitMs,
      },
      (undo) => stops.push(undo),
    );

    return { config, endpoints, operator, carrier, mobilePrefix, webhooks, platformLog, faults, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The environment of one @gateway-nodes scenario: embedded, a cluster of its own whose two
 * gateway nodes serve at once, each at its own address, on one store (Kong nodes behind a load
 * balancer); elsewhere, the deployment's own gateway nodes as its endpoints name them.
 */
export async function startGatewayNodesEnvironment(shared: SuiteEnvironment): Promise<SuiteEnvironment> {
  if (startsItsOwnPlatform(shared.config.target) && shared.config.target !== 'lab')
    return startSuiteEnvironment(shared.config, { cluster: true, gatewayNodes: true });
  if ((shared.endpoints.apiNodeUrls ?? []).length < 2) throw new Error(GATEWAY_NODES_MISSING);
  return { ...shared, stop: () => Promise.resolve() };
}

const GATEWAY_NODES_MISSING =
  'This scenario sends requests to two API gateway nodes directly: the target must name at least two ' +
  "in its endpoints' apiNodeUrls (the embedded target starts them itself; the lab lane does not run it).";

/**
 * The environment of one @failover scenario. Embedded: a redundant cluster of its own, with its
 * own carrier double and webhook receiver, stopped when the scenario ends (crashing nodes must
 * never disturb the other scenarios). Lab: the same behind its own Kamailio and rtpengine, the sip
 * nodes active-active under Kamailio's dispatcher. Remote: the deployment itself, through its fault seam —
 * and without one, the scenario fails here with the message that says what to configure.
 */
export async function startFailoverEnvironment(shared: SuiteEnvironment): Promise<SuiteEnvironment> {
  if (startsItsOwnPlatform(shared.config.target))
    return startSuiteEnvironment(shared.config, { cluster: true });
  if (shared.faults instanceof NoFaultSeam) throw new Error(FAULT_SEAM_MISSING);
  return { ...shared, stop: () => Promise.resolve() };
}
