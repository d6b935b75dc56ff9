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
