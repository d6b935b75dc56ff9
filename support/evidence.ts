import type { Phase2World } from '../world/world';
import { traffic, type Protocol, type TrafficEntry } from '../world/traffic-log';

/** Attachment names: failure messages point at these, so keep them stable. */
export const EVIDENCE = {
  SIP: 'SIP messages',
  SMPP: 'SMPP PDUs',
  HTTP: 'HTTP exchanges',
  WEBHOOK: 'Webhook deliveries',
  RTP: 'RTP statistics',
} as const satisfies Record<Protocol, string>;

function render(entries: TrafficEntry[]): string {
  return entries
    .map(
      (e) =>
        `#${e.seq} ${e.at} ${e.from} → ${e.to}: ${e.summary}${e.detail ? `\n${e.detail.trimEnd()}` : ''}`,
    )
    .join('\n\n────────\n\n');
}

/** Attaches everything that crossed the wire during the scenario, one attachment per protocol. */
export function attachTrafficEvidence(world: Phase2World): void {
  for (const protocol of Object.keys(EVIDENCE) as Protocol[]) {
    const entries = traffic.since(world.trafficMark, protocol);
    if (entries.length === 0) continue;
    world.attach(render(entries), { mediaType: 'text/plain', fileName: EVIDENCE[protocol] });
  }
}

/** Attaches structured data (RTP statistics, a CDR) under a stable name. */
export function attachJson(world: Phase2World, name: string, value: unknown): void {
  world.attach(JSON.stringify(value, null, 2), { mediaType: 'application/json', fileName: name });
}
