/**
 * Every driver records the traffic it sends and receives here, so each scenario can attach
 * exactly what crossed the wire while it ran (entries after the scenario's mark).
 */
/** FAULT: a fault the suite injected (a node crashed, hung, recovered): an event in the ladders. */
export type Protocol = 'SIP' | 'RTP' | 'SMPP' | 'HTTP' | 'WEBHOOK' | 'FAULT';

export interface TrafficEntry {
  seq: number;
  at: string;
  protocol: Protocol;
  /** Who sent it and who received it, as actor names ("alice-phone", "platform SIP", "PSTN"). */
  from: string;
  to: string;
  /** One line: the method or status, the PDU name, the HTTP request line. */
  summary: string;
  /** The full message text (SIP), decoded PDU (SMPP), or exchange (HTTP), secrets already redacted. */
  detail?: string;
}

export class TrafficLog {
  private readonly entries: TrafficEntry[] = [];
  private seq = 0;

  record(entry: Omit<TrafficEntry, 'seq' | 'at'>): void {
    this.seq += 1;
    this.entries.push({ ...entry, seq: this.seq, at: new Date().toISOString() });
    // Bounded: a long soak must not grow memory without limit.
    if (this.entries.length > 50_000) this.entries.splice(0, 10_000);
  }

  /** A position to slice from later (scenario start). */
  mark(): number {
    return this.seq;
  }

  since(mark: number, protocol?: Protocol): TrafficEntry[] {
    return this.entries.filter((e) => e.seq > mark && (protocol === undefined || e.protocol === protocol));
  }
}

/** One log per worker process: every long-lived double and per-scenario driver writes to it. */
export const traffic = new TrafficLog();

/** A named peer: one address, or a port range on a host (rtpengine's media ports). */
export interface NamedPeer {
  name: string;
  host: string;
  portMin: number;
  portMax: number;
}

/**
 * The peers a target put in the call path, named by the addresses it started them on (the lab's
 * Kamailio and rtpengine): drivers name the other side of their traffic from here, so the ladders
 * show who a phone really talked to. Empty for targets that hand back no topology.
 */
export class PeerNames {
  private peers: NamedPeer[] = [];

  define(peers: readonly NamedPeer[]): void {
    this.peers = [...peers];
  }

  /** The name of whoever listens at host:port, or undefined when the target named nobody there. */
  nameOf(host: string, port: number): string | undefined {
    return this.peers.find((p) => p.host === host && port >= p.portMin && port <= p.portMax)?.name;
  }
}

/** One per worker, like the traffic log: set once the target's endpoints are known. */
export const peerNames = new PeerNames();
