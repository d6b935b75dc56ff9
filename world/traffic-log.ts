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
