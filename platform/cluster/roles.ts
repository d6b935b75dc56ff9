/**
 * What each role's node process runs once it is active. The same start functions as the
 * single-process platform (platform/index.ts); what crosses a process boundary here goes through
 * the shared store, the bus and the protocols.
 */
import type { RoleDeps } from '../role';
import { ngAddress } from '../config';
import { startMediaRelay } from '../media-relay';
import { startSipEdge, type ActiveActiveNode } from '../sip-edge';
import { startSmsc } from '../smsc';
import { startGateway } from '../gateway';
import { startVoiceFeatures } from '../core/voice-features';
import { startCallApplications } from '../core/voice-apps';
import { startOptOutKeywords } from '../core/opt-outs';
import { startCampaignRunner } from '../core/campaign-runner';
import { createCoreServices } from '../core/services';
import { PeerAllowlist } from '../core/peers';
import { startWebhookDispatcher } from '../core/webhooks';
import { RemoteLiveCalls, serveCallControl } from '../sip-edge/call-control';
import { QueueingSmsc, type SmscService } from '../smsc';
import type { ClusterRole } from './spec';

export interface RunningRoleProcess {
  stop(): Promise<void>;
  /** Active-active role: a fenced peer's work is this node's now. */
  peerDead(node: string): void;
}

export async function startRoleProcess(
  role: ClusterRole,
  deps: RoleDeps,
  activeActive?: ActiveActiveNode,
  /** An active-active sip role's live-call control addresses by node (for the api role). */
  sipControl: Record<string, { host: string; port: number }> = {},
): Promise<RunningRoleProcess> {
  const stops: Array<() => Promise<void>> = [];
  let peerDead: (node: string) => void = () => undefined;
  const run = async (): Promise<void> => {
    switch (role) {
      case 'media': {
        // An external relay (rtpengine) does the role: the supervisor starts no media nodes then.
        if (deps.config.media.externalRelay) return;
        const relay = await startMediaRelay(deps);
        stops.push(() => relay.stop());
        return;
      }
      case 'smsc': {
        const smsc = await startSmsc(deps);
        stops.push(() => smsc.stop());
        const optOuts = startOptOutKeywords(deps, smsc);
        stops.push(async () => optOuts.stop());
        const campaigns = startCampaignRunner(deps, smsc);
        stops.push(async () => campaigns.stop());
        return;
      }
      case 'sip': {
        const smsc = queueingSmsc(deps);
        const apps = startCallApplications(deps, smsc);
        stops.push(() => apps.stop());
        // Media only over ng, to whichever relay node holds the relay's control address.
        const sip = await startSipEdge(deps, ngAddress(deps.config), apps, activeActive);
        stops.push(() => sip.stop());
        peerDead = (node) => {
          sip.adoptCallsOf(node);
        };
        const control = await serveCallControl(
          deps.config.host,
          deps.config.sip.controlPort,
          sip.liveCalls,
          (message) => deps.log('sip-edge', message),
        );
        stops.push(() => control.stop());
        const features = startVoiceFeatures(deps, smsc, sip);
        stops.push(async () => features.stop());
        return;
      }
      case 'api': {
        const core = createCoreServices({
          db: deps.db,
          smsc: queueingSmsc(deps),
          sipDomain: deps.config.sip.domain,
          peers: new PeerAllowlist(deps.config.network.allowedPeerHosts),
          calls: new RemoteLiveCalls(
            deps.db,
            { host: deps.config.host, port: deps.config.sip.controlPort },
            (message) => deps.log('core', message),
            sipControl,
          ),
          campaigns: deps.config.campaigns,
          bus: deps.bus,
          spam: deps.config.security.spam,
          limits: deps.config.security.limits,
        });
        const gateway = await startGateway(deps, core);
        stops.push(() => gateway.stop());
        const webhooks = startWebhookDispatcher(deps);
        stops.push(() => webhooks.stop());
        return;
      }
    }
  };
  try {
    await run();
  } catch (error) {
    await stopAll(stops);
    throw error;
  }
  deps.log('node', `role ${role} serving`);
  return { stop: () => stopAll(stops), peerDead: (node) => peerDead(node) };
}

async function stopAll(stops: Array<() => Promise<void>>): Promise<void> {
  for (const stop of [...stops].reverse()) await stop();
}

/** The SMSC for processes without the SMSC role: the store is the queue, the bus the nudge. */
function queueingSmsc(deps: RoleDeps): SmscService {
  return new QueueingSmsc(deps.db, deps.bus);
}
