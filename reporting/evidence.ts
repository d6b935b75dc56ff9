import type { IWorld } from '@cucumber/cucumber';
import { traffic, type Protocol, type TrafficEntry } from '../world/traffic-log';
import { looksFailed, renderLadder, type LadderArrow } from './ladder-diagram';

/** Attachment names: failure messages point at these, so keep them stable. */
export const EVIDENCE = {
  SIP: 'SIP messages',
  SMPP: 'SMPP PDUs',
  HTTP: 'HTTP exchanges',
  WEBHOOK: 'Webhook deliveries',
  RTP: 'RTP statistics',
  FAULT: 'Faults injected',
} as const satisfies Record<Protocol, string>;

/** What reporting needs of a scenario: somewhere to attach, and where its traffic starts. */
export interface ReportedScenario {
  attach: IWorld['attach'];
  readonly trafficMark: number;
  stepTrafficMark: number;
  scenarioName?: string;
}

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
export function attachStepTraffic(world: ReportedScenario): void {
  for (const protocol of Object.keys(EVIDENCE) as Protocol[]) {
    const entries = traffic.since(world.stepTrafficMark, protocol);
    if (entries.length === 0) continue;
    world.attach(render(entries), { mediaType: 'text/plain', fileName: EVIDENCE[protocol] });
  }
  world.stepTrafficMark = traffic.mark();
}

/** Attaches structured data (RTP statistics, a CDR) under a stable name. */
export function attachJson(world: ReportedScenario, name: string, value: unknown): void {
  world.attach(JSON.stringify(value, null, 2), { mediaType: 'application/json', fileName: name });
}

/** Call and message journeys as sequence diagrams; a failing wait's awaited item goes into the diagram it belongs to. */
const FLOWS: Array<{ name: string; protocols: Protocol[]; evidence: string[] }> = [
  // Media events (streams started, first packet, keys, closed) sit beside the signalling, so the
  // relay a phone really sent its audio to (the lab's rtpengine) is a column of its own.
  { name: 'Call flow', protocols: ['SIP', 'RTP', 'FAULT'], evidence: [EVIDENCE.SIP, EVIDENCE.RTP] },
  {
    name: 'Message flow',
    protocols: ['SMPP', 'HTTP', 'WEBHOOK', 'FAULT'],
    evidence: [EVIDENCE.SMPP, EVIDENCE.HTTP, EVIDENCE.WEBHOOK],
  },
];

/** What a failed wait was waiting for, from its message ("Timed out after … waiting for X."). */
export function awaitedItem(failure: string | undefined): { awaited: string; lookAt: string } | undefined {
  if (!failure) return undefined;
  const awaited =
    /Timed out after \d+ ms waiting for (.+?)\.(?:\n|$)/.exec(failure)?.[1] ??
    /Waited \d+ ms for (.+?); the last answer/.exec(failure)?.[1];
  if (!awaited) return undefined;
  return { awaited, lookAt: /Look at: (.*)/.exec(failure)?.[1] ?? '' };
}

/**
 * Attaches an SVG ladder diagram per journey kind (calls, messages) drawn from the scenario's
 * traffic: actors as columns, time down the page, failures in red, and what a failed wait
 * expected but never saw at the bottom.
 */
export function attachFlowDiagrams(world: ReportedScenario, failure: string | undefined): void {
  const all = traffic.since(world.trafficMark);
  const missing = awaitedItem(failure);
  for (const flow of FLOWS) {
    const entries = all.filter((e) => flow.protocols.includes(e.protocol));
    const belongsHere =
      missing !== undefined &&
      (flow.evidence.some((name) => missing.lookAt.includes(name)) ||
        (missing.lookAt === '' && flow.name === 'Message flow'));
    // A fault alone is not a journey: it is drawn in the flows whose traffic it interrupted.
    if (entries.every((e) => e.protocol === 'FAULT') && !belongsHere) continue;
    const arrows: LadderArrow[] = entries.map((e) => ({
      at: e.at,
      from: e.from,
      to: e.to,
      label: `${e.protocol === 'SIP' ? '' : `${e.protocol} `}${e.summary}`,
      failed: looksFailed(e.protocol, e.summary),
    }));
    const svg = renderLadder({
      title: `${flow.name}: ${world.scenarioName ?? 'scenario'}`,
      arrows,
      missing: belongsHere ? [missing.awaited] : [],
    });
    world.attach(svg, { mediaType: 'image/svg+xml', fileName: `${flow.name}.svg` });
  }
}
