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
