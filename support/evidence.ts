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

/**
 * Attaches what crossed the wire since the end of the previous step, one attachment per protocol,
 * so each step carries the traffic it caused (called after every step, and once more after the
 * scenario's cleanup for what teardown sent).
 */
export function attachStepTraffic(world: Phase2World): void {
  for (const protocol of Object.keys(EVIDENCE) as Protocol[]) {
    const entries = traffic.since(world.stepTrafficMark, protocol);
    if (entries.length === 0) continue;
    world.attach(render(entries), { mediaType: 'text/plain', fileName: EVIDENCE[protocol] });
  }
  world.stepTrafficMark = traffic.mark();
}

/** Attaches structured data (RTP statistics, a CDR) under a stable name. */
export function attachJson(world: Phase2World, name: string, value: unknown): void {
  world.attach(JSON.stringify(value, null, 2), { mediaType: 'application/json', fileName: name });
}
