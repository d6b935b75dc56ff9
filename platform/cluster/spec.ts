/** What the supervisor tells every node process: the shared config and who its peers are. */
import type { PlatformConfig } from '../config';

export const CLUSTER_ROLES = ['sip', 'media', 'smsc', 'api'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export interface ClusterNodeSpec {
  role: ClusterRole;
  node: string;
  /** UDP port this node hears its peers' adverts on (127.0.0.1). */
  heartbeatPort: number;
  /** An active-active sip node's own addresses (every node serves at once, each at its own). */
  sip?: { udpPort: number; wsPort: number; controlPort: number };
  /** An active-active api node's own port (gateway nodes behind a load balancer, as Kong's are). */
  api?: { port: number };
}

export interface ClusterTiming {
  /** How often a node tells its peers it is alive (keepalived's advert_int). */
  advertIntervalMs: number;
  /** Silence after which a standby takes the active node's addresses (keepalived: 3 × advert_int + skew). */
  deadAfterMs: number;
  /** How often the active node of a role reads the cluster bus (default 20 ms). */
  busPollMs?: number;
}

export interface ClusterSpec {
  /** Every node gets the same config: the role's customer-facing ports are fixed, whoever is active binds them. */
  config: PlatformConfig;
  nodes: ClusterNodeSpec[];
  timing: ClusterTiming;
  /**
   * Roles whose nodes are all active at their own addresses (membership mode 'peers'), with
   * something in front spreading the traffic: 'sip' behind Kamailio's dispatcher, 'api' behind
   * a load balancer (Kong nodes sharing one database).
   */
  activeActive?: ClusterRole[];
}

/** Messages a node sends its supervisor over the IPC channel. */
export type NodeReport =
  | {
      type: 'state';
      state: 'standby' | 'activating' | 'active';
      epoch: number;
      fenced?: { node: string; pid: number };
    }
  | { type: 'failed'; reason: string }
  /** The node's write-behind queue changed (platform/store/write-behind.ts): shown on GET /ops/v1/nodes. */
  | { type: 'store'; queued: number; oldestSince: string | null; outage: boolean }
  /**
   * STONITH request: kill this silent peer of mine (the supervisor checks the pid is its child's).
   * pid 0: a peer never heard, whose pid is unknown: its process is killed only if it has been
   * sending adverts for at least `unheardForMs` (one that is still starting is refused).
   */
  | { type: 'fence'; request: number; node: string; pid: number; unheardForMs?: number };

/** The supervisor's answer to a fence request. */
export interface FenceReply {
  type: 'fenced';
  request: number;
  /** True when the node was alive (hung) and was killed; false when it had already ended. */
  killed: boolean;
  /** pid 0 only: its process started too recently to be called silent; nothing was done. */
  refused?: boolean;
}
