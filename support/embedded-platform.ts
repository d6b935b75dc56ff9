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
import { EMBEDDED_SPEECH_TO_TEXT_URL, embeddedDefaults, type PlatformConfig } from '../platform/config';
import { startCluster } from '../platform/cluster/supervisor';
import { claimLabPorts } from '../lab/ports';
import { startLabRtpengine } from '../lab/rtpengine';
import { jailDefines, startKamailio, type JailSettings } from '../lab/kamailio';
import type { Daemon } from '../lab/daemons';
import type { PlatformEndpoints } from './config';
import type { NamedPeer } from '../world/traffic-log';

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
export async function startEmbeddedCluster(
  logFile: string,
  /** 'api': both gateway nodes serve at once, each at its own address (as behind a load balancer). */
  activeActive: 'api'[] = [],
): Promise<EmbeddedCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phase2-cluster-'));
  const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey });
  const log = createWriteStream(logFile, { flags: 'w' });
  const write = (role: string, message: string): void => {
    log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
  };
  const closeLog = (): Promise<void> => new Promise<void>((done) => log.end(done));
  try {
    const cluster = await startCluster({ config, dataDir, timing: CLUSTER_TIMING, activeActive }, write);
    const apiNodeUrls = cluster.apiNodes.map((node) => node.apiUrl);
    return {
      endpoints: { ...cluster.endpoints, adminApiKey, ...(apiNodeUrls.length > 0 ? { apiNodeUrls } : {}) },
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
  const stops: Array<() => Promise<void>> = [];
  const stopAll = stopsInReverse(stops, 'the lab platform');
  try {
    const peers = await startLabPeers(`${worker}`, stops);
    const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
    const config = embeddedDefaults({ storeFile: join(peers.runDir, 'platform.db'), adminApiKey });
    config.providers.speechToTextUrl = EMBEDDED_SPEECH_TO_TEXT_URL;
    peers.placeBehind(config);
    const log = createWriteStream(logFile, { flags: 'w' });
    stops.push(() => new Promise<void>((done) => log.end(done)));
    const platform = await startPlatform(config, (role, message) => {
      log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
    });
    stops.push(() => platform.stop());
    const front = await peers.startFront(
      [{ name: 'platform SIP', udp: platform.endpoints.sip.udp }],
      config.sip.domain,
    );
    return {
      endpoints: {
        ...platform.endpoints,
        ...front,
        adminApiKey,
        stubbedProviders: { speechToTextUrl: EMBEDDED_SPEECH_TO_TEXT_URL },
      },
      logFile,
      peerLogs: peers.logs,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** What both lab launchers share: rtpengine before the platform, Kamailio in front of it after. */
interface LabPeers {
  /** A scratch folder for the platform's store and Kamailio's run files (removed at the stop). */
  runDir: string;
  logs: string[];
  /** Points the platform's media relay at rtpengine and makes it trust Kamailio as its proxy. */
  placeBehind(config: PlatformConfig): void;
  /** Starts Kamailio dispatching over the sip-edge nodes (in preference order): the suite's SIP endpoints and who listens where. */
  startFront(
    sipEdges: Array<{ name: string; udp: { host: string; port: number } }>,
    domain: string,
  ): Promise<Pick<PlatformEndpoints, 'sip' | 'topology'>>;
}

/**
 * Kamailio's ports are claimed first (the platform must know its trusted proxy before Kamailio can
 * bind them, after the platform), then rtpengine starts. Every part is pushed onto `stops`.
 */
async function startLabPeers(label: string, stops: Array<() => Promise<void>>): Promise<LabPeers> {
  const ports = claimLabPorts();
  stops.push(async () => ports.release());
  const logs = {
    rtpengine: join('reports', `lab-rtpengine-${label}.log`),
    kamailio: join('reports', `lab-kamailio-${label}.log`),
  };
  const runDir = mkdtempSync(join(tmpdir(), 'phase2-lab-'));
  stops.push(async () => rmSync(runDir, { recursive: true, force: true }));
  const kamailioPorts = { udpPort: await ports.next('udp'), wsPort: await ports.next('tcp') };
  const rtpengine = await startLabRtpengine(logs.rtpengine);
  stops.push(async () => rtpengine.ports.release());
  stops.push(stopperOf(rtpengine.daemon));
  const single = (name: string, at: { host: string; port: number }): NamedPeer => ({
    name,
    host: at.host,
    portMin: at.port,
    portMax: at.port,
  });
  let jail: JailSettings | undefined;
  return {
    runDir,
    logs: [logs.kamailio, logs.rtpengine],
    placeBehind(config) {
      config.media.externalRelay = rtpengine.ng;
      config.sip.trustedProxies = [{ host: '127.0.0.1', port: kamailioPorts.udpPort }];
      jail = config.security.sipFraud;
    },
    async startFront(sipEdges, domain) {
      const kamailio = await startKamailio({
        ...kamailioPorts,
        sipEdges: sipEdges.map((edge) => edge.udp),
        domain,
        runDir: join(runDir, 'kamailio'),
        logFile: logs.kamailio,
        // The door bans as the sip-edge does (docs/architecture.md, "SIP defences in the lab").
        defines: jail ? jailDefines(jail) : undefined,
      });
      stops.push(stopperOf(kamailio.daemon));
      return {
        sip: { udp: kamailio.udp, ws: kamailio.ws, domain },
        topology: [
          single('Kamailio', kamailio.udp),
          single('Kamailio', { host: '127.0.0.1', port: Number(new URL(kamailio.ws).port) }),
          {
            name: 'rtpengine',
            host: rtpengine.ng.host,
            portMin: rtpengine.ports.portMin,
            portMax: rtpengine.ports.portMax,
          },
          ...sipEdges.map((edge) => single(edge.name, edge.udp)),
        ],
      };
    },
  };
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
  const stops: Array<() => Promise<void>> = [];
  const stopAll = stopsInReverse(stops, 'the lab cluster');
  try {
    const peers = await startLabPeers(`${worker}-failover-${Date.now()}`, stops);
    const adminApiKey = `admin-${randomBytes(16).toString('hex')}`;
    const config = embeddedDefaults({ storeFile: join(peers.runDir, 'platform.db'), adminApiKey });
    // The supervisor starts no relay nodes then: the sip nodes drive rtpengine.
    peers.placeBehind(config);
    const log = createWriteStream(logFile, { flags: 'w' });
    stops.push(() => new Promise<void>((done) => log.end(done)));
    const write = (role: string, message: string): void => {
      log.write(`${new Date().toISOString()} [${role}] ${message}\n`);
    };
    const cluster = await startCluster(
      { config, dataDir: peers.runDir, activeActive: ['sip'], timing: CLUSTER_TIMING },
      write,
    );
    stops.push(() => cluster.stop());
    const front = await peers.startFront(
      cluster.sipNodes.map((node) => ({ name: `platform SIP node ${node.node}`, udp: node.udp })),
      config.sip.domain,
    );
    return {
      endpoints: { ...cluster.endpoints, ...front, adminApiKey },
      logFile,
      faultUrl: cluster.faultUrl,
      peerLogs: peers.logs,
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
