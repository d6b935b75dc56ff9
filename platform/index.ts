/**
 * The reference platform: every Phase 2 role, composed in one process on loopback. This is the
 * one place that wires it: it opens the store, makes the bus, builds the core services and hands
 * each role what it needs. Roles talk to each other through the store and the bus, like services
 * sharing a database and a message broker; from outside, only SIP/RTP, SMPP and HTTP are visible.
 * Every start function can be called again with other ports: a role's listeners and timers
 * belong to the value its start returns.
 */
import type { PlatformConfig } from './config';
import { PlatformBus } from './bus';
import { openStore } from './store/store';
import type { RoleDeps } from './role';
import { startMediaRelay } from './media-relay';
import { startSipEdge } from './sip-edge';
import { startSmsc } from './smsc';
import { startGateway } from './gateway';
import { startVoiceFeatures } from './core/voice-features';
import { startCallApplications } from './core/voice-apps';
import { startOptOutKeywords } from './core/opt-outs';
import { startCampaignRunner } from './core/campaign-runner';
import { createCoreServices } from './core/services';
import { PeerAllowlist } from './core/peers';
import { startWebhookDispatcher } from './core/webhooks';

export interface PlatformEndpointsInfo {
  sip: { udp: { host: string; port: number }; ws: string; domain: string };
  smpp: { host: string; port: number };
  apiUrl: string;
}

export interface RunningPlatform {
  endpoints: PlatformEndpointsInfo;
  config: PlatformConfig;
  stop(): Promise<void>;
}

export type PlatformLog = (role: string, message: string) => void;

export async function startPlatform(config: PlatformConfig, log: PlatformLog): Promise<RunningPlatform> {
  const db = openStore(config.store.file, { busyTimeoutMs: config.store.busyTimeoutMs });
  const deps: RoleDeps = { config, db, bus: new PlatformBus(), log };
  const stops: Array<() => Promise<void>> = [];
  try {
    let ng = config.media.externalRelay;
    if (ng) log('platform', `media relay: external, ng at udp:${ng.host}:${ng.port}; none of our own`);
    else {
      const relay = await startMediaRelay(deps);
      stops.push(() => relay.stop());
      ng = relay.endpoints.ng;
    }
    const smsc = await startSmsc(deps);
    stops.push(() => smsc.stop());
    const apps = startCallApplications(deps, smsc);
    stops.push(() => apps.stop());
    const sip = await startSipEdge(deps, ng, apps);
    stops.push(() => sip.stop());
    const features = startVoiceFeatures(deps, smsc, sip);
    stops.push(async () => features.stop());
    const optOuts = startOptOutKeywords(deps, smsc);
    stops.push(async () => optOuts.stop());
    const campaigns = startCampaignRunner(deps, smsc);
    stops.push(async () => campaigns.stop());
    const core = createCoreServices({
      db,
      smsc,
      sipDomain: config.sip.domain,
      peers: new PeerAllowlist(config.network.allowedPeerHosts),
      calls: sip.liveCalls,
      campaigns: config.campaigns,
      bus: deps.bus,
      spam: config.security.spam,
      limits: config.security.limits,
    });
    const gateway = await startGateway(deps, core);
    stops.push(() => gateway.stop());
    // Stopped before the gateway (stops run in reverse), as when the gateway owned it.
    const webhooks = startWebhookDispatcher(deps);
    stops.push(() => webhooks.stop());
    log(
      'platform',
      `started: ${JSON.stringify({ sip: sip.endpoints, smpp: smsc.endpoints, api: gateway.endpoints })}`,
    );
    return {
      config,
      endpoints: { sip: sip.endpoints, smpp: smsc.endpoints, apiUrl: gateway.endpoints.apiUrl },
      stop: () => stopAll(stops, db, log),
    };
  } catch (error) {
    await stopAll(stops, db, log);
    throw error;
  }
}

/** Stops roles in reverse start order; every role gets its stop even if an earlier one fails. */
async function stopAll(
  stops: Array<() => Promise<void>>,
  db: ReturnType<typeof openStore>,
  log: PlatformLog,
): Promise<void> {
  const failures: unknown[] = [];
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch (error) {
      failures.push(error);
      log('platform', `stop failed: ${String(error)}`);
    }
  }
  db.close();
  if (failures.length > 0) throw new AggregateError(failures, 'some platform roles did not stop cleanly');
}
