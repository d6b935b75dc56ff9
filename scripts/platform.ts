/**
 * `npm run platform`: the reference platform standalone, for people and for the remote lane.
 * Prints its endpoints (and the PHASE2_* lines that point the suite at it), serves until
 * Ctrl-C / SIGTERM, then stops every role and exits 0.
 *
 *   npm run platform                      fixed ports: SIP 5060/udp, 8080/ws, SMPP 2775, API 8000
 *   npm run platform -- --ephemeral       OS-chosen ports (CI, several instances side by side)
 *   npm run platform -- --write-env F      also write the PHASE2_* lines to file F
 *   npm run platform -- --data DIR        keep the database in DIR (default .platform-data/)
 *   npm run platform -- --media-relay rtpengine=HOST:PORT
 *                                         drive a real rtpengine (its ng listener) instead of our relay
 *   npm run platform -- --redundant       every role as two node processes with address takeover,
 *                                         and the fault seam (PHASE2_FAULT_URL) to crash them
 *   npm run platform -- --sip-trusted-proxy 127.0.0.1:5062   a SIP proxy in front of the edge
 *                                         (Kamailio): its requests' true source is its Via's
 *                                         received/rport (repeatable)
 *   PLATFORM_NO_ANSWER_MS=20000 npm run platform   ring longer before a call counts as unanswered
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { startPlatform } from '../platform';
import { startCluster } from '../platform/cluster/supervisor';
import { embeddedDefaults } from '../platform/config';
import { parseMediaRelayOption } from './media-relay-option';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** Every `--sip-trusted-proxy HOST:PORT` given. */
function trustedProxies(argv: readonly string[]): Array<{ host: string; port: number }> {
  const proxies: Array<{ host: string; port: number }> = [];
  argv.forEach((arg, index) => {
    if (arg !== '--sip-trusted-proxy') return;
    const match = /^([^:\s]+):(\d{1,5})$/.exec(argv[index + 1] ?? '');
    if (!match) throw new Error(`--sip-trusted-proxy needs HOST:PORT, got "${argv[index + 1] ?? ''}"`);
    proxies.push({ host: match[1] ?? '', port: Number(match[2]) });
  });
  return proxies;
}

async function main(): Promise<void> {
  const ephemeral = process.argv.includes('--ephemeral');
  const dataDir = resolve(option('--data') ?? '.platform-data');
  mkdirSync(dataDir, { recursive: true });
  const adminApiKey = process.env.PLATFORM_ADMIN_API_KEY ?? `admin-${randomBytes(16).toString('hex')}`;
  const config = embeddedDefaults({ storeFile: join(dataDir, 'platform.db'), adminApiKey });
  if (!ephemeral) {
    config.sip.udpPort = Number(process.env.PLATFORM_SIP_UDP_PORT ?? 5060);
    config.sip.wsPort = Number(process.env.PLATFORM_SIP_WS_PORT ?? 8080);
    config.smsc.port = Number(process.env.PLATFORM_SMPP_PORT ?? 2775);
    config.api.port = Number(process.env.PLATFORM_API_PORT ?? 8000);
  }
  if (process.argv.includes('--media-relay'))
    config.media.externalRelay = parseMediaRelayOption(option('--media-relay'));
  // Timers stay as short as embedded ones so the remote lane runs as fast; a person trying calls
  // by hand can lengthen the ring time.
  config.sip.noAnswerTimeoutMs = Number(process.env.PLATFORM_NO_ANSWER_MS ?? config.sip.noAnswerTimeoutMs);
  config.sip.trustedProxies = trustedProxies(process.argv);

  const log = (role: string, message: string): void => {
    process.stderr.write(`${new Date().toISOString()} [${role}] ${message}\n`);
  };
  const redundant = process.argv.includes('--redundant');
  let faultUrl: string | undefined;
  let platform: Pick<Awaited<ReturnType<typeof startPlatform>>, 'endpoints' | 'stop'>;
  if (redundant) {
    // A person watching a takeover wants it quick too: adverts every 200 ms, taken over after 1 s.
    const cluster = await startCluster(
      { config, dataDir, timing: { advertIntervalMs: 200, deadAfterMs: 1000 } },
      log,
    );
    faultUrl = cluster.faultUrl;
    platform = cluster;
  } else platform = await startPlatform(config, log);
  const { sip, smpp, apiUrl } = platform.endpoints;
  const envLines = [
    'PHASE2_TARGET=remote',
    `PHASE2_SIP_UDP=${sip.udp.host}:${sip.udp.port}`,
    `PHASE2_SIP_WS=${sip.ws}`,
    `PHASE2_SIP_DOMAIN=${sip.domain}`,
    `PHASE2_SMPP=${smpp.host}:${smpp.port}`,
    `PHASE2_API_URL=${apiUrl}`,
    `PHASE2_ADMIN_API_KEY=${adminApiKey}`,
    ...(faultUrl ? [`PHASE2_FAULT_URL=${faultUrl}`] : []),
  ];
  const envFile = option('--write-env');
  if (envFile) writeFileSync(envFile, `${envLines.join('\n')}\n`);

  console.log('Phase 2 reference platform is running.');
  console.log(`  SIP (UDP)        ${sip.udp.host}:${sip.udp.port}   domain ${sip.domain}`);
  console.log(`  SIP (WebSocket)  ${sip.ws}`);
  console.log(`  SMPP             ${smpp.host}:${smpp.port}`);
  console.log(`  API              ${apiUrl}   (contract: ${apiUrl}/openapi.yaml)`);
  console.log(`  Data             ${dataDir}`);
  if (config.media.externalRelay)
    console.log(
      `  Media relay      rtpengine, ng at udp:${config.media.externalRelay.host}:${config.media.externalRelay.port}`,
    );
  if (faultUrl)
    console.log(`  Fault seam       ${faultUrl}/ops/v1/nodes   (redundant: two node processes per role)`);
  console.log('To run the suite against it, put these lines in .env (or export them):');
  for (const line of envLines) console.log(`  ${line}`);
  console.log('READY. Press Ctrl-C to stop.');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received: stopping…`);
    platform.stop().then(
      () => {
        console.log('Stopped cleanly.');
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`Stopped with errors: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`The platform did not start: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
