/**
 * The embedded launcher: the ONLY file of the suite that may import platform/ (DESIGN §3).
 * It starts the reference platform in-process on loopback ephemeral ports and hands back
 * nothing but endpoints, exactly what a remote deployment's .env would describe.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { startPlatform } from '../platform';
import { EMBEDDED_SPEECH_TO_TEXT_URL, embeddedDefaults } from '../platform/config';
import { startCluster } from '../platform/cluster/supervisor';
import { claimLabPorts } from '../lab/ports';
import { startLabRtpengine } from '../lab/rtpengine';
import { startKamailio } from '../lab/kamailio';
import type { Daemon } from '../lab/daemons';
import type { PlatformEndpoints } from './config';

export interface EmbeddedPlatform {
  endpoints: PlatformEndpoints;
  /** Where the platform writes its log: failure messages point here. */
  logFile: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPlatform(logFile: string): Promise<EmbeddedPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phase2-embedded-'));
  const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey });
  // In-process, the suite's nock stub answers for the speech-to-text provider (DESIGN §3).
  config.providers.speechToTextUrl = EMBEDDED_SPEECH_TO_TEXT_URL;
  const log = createWriteStream(logFile, { flags: 'w' });
  const platform = await startPlatform(config, (role, message) => {
    log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
  });
  return {
    endpoints: {
      ...platform.endpoints,
      adminApiKey,
      stubbedProviders: { speechToTextUrl: EMBEDDED_SPEECH_TO_TEXT_URL },
    },
    logFile,
    async stop() {
      await platform.stop();
      await new Promise<void>((done) => log.end(done));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface EmbeddedCluster extends EmbeddedPlatform {
  /** The supervisor's fault seam (GET /ops/v1/nodes, POST /ops/v1/faults), operator key required. */
  faultUrl: string;
}

/**
 * The redundant topology for one @failover scenario: every role as two node processes sharing a
 * store, with the same customer-facing addresses across a takeover. Its nodes are other
 * processes, so the suite's nock stubs cannot answer for them: no speech-to-text provider here.
 */
export async function startEmbeddedCluster(logFile: string): Promise<EmbeddedCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phase2-cluster-'));
  const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey });
  const log = createWriteStream(logFile, { flags: 'w' });
  const write = (role: string, message: string): void => {
    log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
  };
  const closeLog = (): Promise<void> => new Promise<void>((done) => log.end(done));
  try {
    const cluster = await startCluster({ config, dataDir, timing: CLUSTER_TIMING }, write);
    return {
      endpoints: { ...cluster.endpoints, adminApiKey },
      logFile,
      faultUrl: cluster.faultUrl,
      async stop() {
        await cluster.stop();
        await closeLog();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await closeLog();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Embedded: adverts every 100 ms, a node silent for 900 ms is taken over (keepalived: 1 s and
 * ~3 s). Not shorter: a node's event loop may stall for a store busy timeout (250 ms) or a
 * loaded CI machine, and a standby must never fence a node that is merely slow.
 */
export const CLUSTER_TIMING = { advertIntervalMs: 100, deadAfterMs: 900 } as const;

/** The lab target's platform: the embedded one behind real peers, whose logs are named too. */
export interface LabPlatform extends EmbeddedPlatform {
  /** Kamailio's and rtpengine's own logs. */
  peerLogs: string[];
}

/**
 * The lab lane (DESIGN §2): real rtpengine relays the media the sip-edge asks it to over ng, the
 * in-process platform behind it, real Kamailio in front of the sip-edge. The suite's SIP endpoints
 * are Kamailio's; the sip-edge's own address is only Kamailio's dispatcher target. Stopped in
 * reverse order, each part even if another fails to stop.
 */
export async function startLabPlatform(logFile: string, worker: string): Promise<LabPlatform> {
  const ports = claimLabPorts();
  const stops: Array<() => Promise<void>> = [async () => ports.release()];
  const stopAll = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(error);
      }
    }
    stops.length = 0;
    if (failures.length > 0)
      throw new AggregateError(
        failures,
        `the lab platform did not stop cleanly: ${failures.map(String).join('; ')}`,
      );
  };
  const logs = {
    rtpengine: join('reports', `lab-rtpengine-${worker}.log`),
    kamailio: join('reports', `lab-kamailio-${worker}.log`),
  };
  const runDir = mkdtempSync(join(tmpdir(), 'phase2-lab-'));
  stops.push(async () => rmSync(runDir, { recursive: true, force: true }));
  try {
    const kamailioPorts = { udpPort: await ports.next('udp'), wsPort: await ports.next('tcp') };
    const rtpengine = await startLabRtpengine(logs.rtpengine);
    stops.push(async () => rtpengine.ports.release());
    stops.push(stopperOf(rtpengine.daemon));

    const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
    const config = embeddedDefaults({
      storeFile: join(runDir, 'platform.db'),
      adminApiKey,
    });
    config.providers.speechToTextUrl = EMBEDDED_SPEECH_TO_TEXT_URL;
    config.media.externalRelay = rtpengine.ng;
    config.sip.trustedProxies = [{ host: '127.0.0.1', port: kamailioPorts.udpPort }];
    const log = createWriteStream(logFile, { flags: 'w' });
    stops.push(() => new Promise<void>((done) => log.end(done)));
    const platform = await startPlatform(config, (role, message) => {
      log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
    });
    stops.push(() => platform.stop());

    const kamailio = await startKamailio({
      ...kamailioPorts,
      sipEdges: [platform.endpoints.sip.udp],
      domain: platform.endpoints.sip.domain,
      runDir: join(runDir, 'kamailio'),
      logFile: logs.kamailio,
    });
    stops.push(stopperOf(kamailio.daemon));
    const wsPort = Number(new URL(kamailio.ws).port);
    return {
      endpoints: {
        ...platform.endpoints,
        sip: { udp: kamailio.udp, ws: kamailio.ws, domain: platform.endpoints.sip.domain },
        adminApiKey,
        stubbedProviders: { speechToTextUrl: EMBEDDED_SPEECH_TO_TEXT_URL },
        topology: [
          {
            name: 'Kamailio',
            host: kamailio.udp.host,
            portMin: kamailio.udp.port,
            portMax: kamailio.udp.port,
          },
          { name: 'Kamailio', host: '127.0.0.1', portMin: wsPort, portMax: wsPort },
          {
            name: 'rtpengine',
            host: rtpengine.ng.host,
            portMin: rtpengine.ports.portMin,
            portMax: rtpengine.ports.portMax,
          },
          {
            name: 'platform SIP',
            host: platform.endpoints.sip.udp.host,
            portMin: platform.endpoints.sip.udp.port,
            portMax: platform.endpoints.sip.udp.port,
          },
        ],
      },
      logFile,
      peerLogs: [logs.kamailio, logs.rtpengine],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/**
 * Stops a real peer. One that ended by itself during the run took the run's calls with it: its
 * stop fails saying so, with its log, so the run cannot pass without anyone noticing.
 */
function stopperOf(daemon: Daemon): () => Promise<void> {
  let endedEarly: string | undefined;
  let stopping = false;
  void daemon.exited.then((how) => {
    if (!stopping) endedEarly = how;
  });
  return async () => {
    stopping = true;
    await daemon.stop();
    if (endedEarly !== undefined)
      throw new Error(
        `${daemon.name} (pid ${daemon.pid}) ended during the run (${endedEarly}); its log: ${daemon.logFile}`,
      );
  };
}

/** A lab cluster: the redundant platform (sip active-active) behind real Kamailio and rtpengine. */
export interface LabCluster extends EmbeddedCluster {
  /** Kamailio's and rtpengine's own logs. */
  peerLogs: string[];
}

/**
 * The lab lane's topology for one @failover scenario (TEST-INT-040): real rtpengine relays the
 * media; the platform runs as node processes (platform/cluster) with both sip-edge nodes active
 * at their own addresses, sharing the store; real Kamailio dispatches over them with OPTIONS
 * probing and fails over by itself (lab/kamailio.cfg: dispatcher algorithm 8, the first live node
 * of the list, so node a carries the traffic until it dies). No relay nodes: rtpengine is the
 * relay, and it does not run inside the platform. The nodes are other processes, so the suite's
 * nock stubs cannot answer for them: no speech-to-text provider here (as startEmbeddedCluster).
 */
export async function startLabCluster(logFile: string, worker: string): Promise<LabCluster> {
  const ports = claimLabPorts();
  const stops: Array<() => Promise<void>> = [async () => ports.release()];
  const stopAll = stopsInReverse(stops, 'the lab cluster');
  const stamp = Date.now();
  const logs = {
    rtpengine: join('reports', `lab-rtpengine-${worker}-failover-${stamp}.log`),
    kamailio: join('reports', `lab-kamailio-${worker}-failover-${stamp}.log`),
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'phase2-lab-cluster-'));
  stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  try {
    const kamailioPorts = { udpPort: await ports.next('udp'), wsPort: await ports.next('tcp') };
    const rtpengine = await startLabRtpengine(logs.rtpengine);
    stops.push(async () => rtpengine.ports.release());
    stops.push(stopperOf(rtpengine.daemon));

    const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
    const config = embeddedDefaults({
      storeFile: join(dataDir, 'platform.db'),
      adminApiKey,
    });
    // The supervisor starts no relay nodes then: the sip nodes drive rtpengine.
    config.media.externalRelay = rtpengine.ng;
    config.sip.trustedProxies = [{ host: '127.0.0.1', port: kamailioPorts.udpPort }];
    const log = createWriteStream(logFile, { flags: 'w' });
    stops.push(() => new Promise<void>((done) => log.end(done)));
    const write = (role: string, message: string): void => {
      log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
    };
    const cluster = await startCluster(
      {
        config,
        dataDir,
        activeActive: ['sip'],
        timing: CLUSTER_TIMING,
      },
      write,
    );
    stops.push(() => cluster.stop());

    const kamailio = await startKamailio({
      ...kamailioPorts,
      sipEdges: cluster.sipNodes.map((node) => node.udp),
      domain: cluster.endpoints.sip.domain,
      runDir: join(dataDir, 'kamailio'),
      logFile: logs.kamailio,
    });
    stops.push(stopperOf(kamailio.daemon));
    const wsPort = Number(new URL(kamailio.ws).port);
    const single = (name: string, at: { host: string; port: number }) => ({
      name,
      host: at.host,
      portMin: at.port,
      portMax: at.port,
    });
    return {
      endpoints: {
        ...cluster.endpoints,
        sip: { udp: kamailio.udp, ws: kamailio.ws, domain: cluster.endpoints.sip.domain },
        adminApiKey,
        topology: [
          single('Kamailio', kamailio.udp),
          single('Kamailio', { host: '127.0.0.1', port: wsPort }),
          {
            name: 'rtpengine',
            host: rtpengine.ng.host,
            portMin: rtpengine.ports.portMin,
            portMax: rtpengine.ports.portMax,
          },
          ...cluster.sipNodes.map((node) => single(`platform SIP node ${node.node}`, node.udp)),
        ],
      },
      logFile,
      faultUrl: cluster.faultUrl,
      peerLogs: [logs.kamailio, logs.rtpengine],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** Runs every stop in reverse order, each even if another fails; then reports the failures. */
function stopsInReverse(stops: Array<() => Promise<void>>, what: string): () => Promise<void> {
  return async () => {
    const failures: unknown[] = [];
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(error);
      }
    }
    stops.length = 0;
    if (failures.length > 0)
      throw new AggregateError(failures, `${what} did not stop cleanly: ${failures.map(String).join('; ')}`);
  };
}
