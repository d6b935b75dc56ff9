import type { Phase2World } from '../world/world';
import { attempts, type EndOfAttempt, type OpenAttempt } from './attempts';
import { METRIC_MEDIA_TYPE } from './metrics';

/** Handsets the network was told not to deliver to: their texts' outcome is the network's, not the platform's. */
const NOT_DELIVERING = new Set(['undeliverable', 'never', 'reject', 'no-response']);

/**
 * At scenario end, before cleanup forgets the handsets: settles each text the scenario sent by
 * what this worker's mobile network received (exactly one copy, exactly as sent), then attaches
 * every attempt of the scenario as an `attempt` metric for the run summary.
 */
export function recordScenarioTraffic(world: Phase2World): void {
  const carrier = world.env?.carrier;
  attempts.settleOpen('text', (attempt) => (carrier ? judgeText(world, attempt) : undefined));
  attempts.settleOpen('call', (attempt) => attempt.judge?.());
  const drained = attempts.drain();
  if (drained.length === 0) return;
  // One attachment for the whole scenario: hundreds of requests must not flood the report.
  world.attach(drained.map((a) => JSON.stringify({ kind: 'attempt', ...a })).join('\n'), {
    mediaType: METRIC_MEDIA_TYPE,
    fileName: `Metric: ${drained.length} attempts (calls, texts, requests)`,
  });
}

function judgeText(world: Phase2World, attempt: OpenAttempt): EndOfAttempt {
  const meant = attempt.text;
  const carrier = world.env.carrier;
  // Texts to another network (a foreign carrier double) are not this network's to judge.
  if (!meant || !meant.to.startsWith(world.env.mobilePrefix)) return undefined;
  if (NOT_DELIVERING.has(carrier.behaviourOf(meant.to)))
    return { outcome: 'refused-as-expected', why: `the network was told not to deliver to ${meant.to}` };
  if (!carrier.knowsHandset(meant.to))
    return { outcome: 'failed', why: `no handset on the network ever received a text for ${meant.to}` };
  const copies = carrier
    .handset(meant.to)
    .inbox.all()
    .filter((sms) => sms.text === meant.text).length;
  if (copies === 1) return { outcome: 'succeeded' };
  return {
    outcome: 'failed',
    why: copies === 0 ? 'never reached the handset as sent' : `${copies} copies on the handset`,
  };
}
