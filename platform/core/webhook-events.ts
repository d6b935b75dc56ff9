import { createHmac, randomUUID } from 'node:crypto';

/** Every event type a webhook can carry, and the families a `<family>.*` subscription covers. */
export const EVENT_TYPES = [
  'message.sent',
  'message.delivered',
  'message.undeliverable',
  'message.expired',
  'message.rejected',
  'message.failed',
  'call.completed',
  'security.address_banned',
  'fraud.alert',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EVENT_FAMILIES = ['message', 'call', 'security', 'fraud'] as const;

/** The exact JSON body POSTed to a subscriber. */
export interface WebhookEventBody {
  id: string;
  type: EventType;
  createdAt: string;
  data: unknown;
}

export function newEventId(): string {
  return `evt_${randomUUID()}`;
}

/** Exact type, or a family wildcard: 'message.*' matches 'message.delivered'. */
export function subscriptionMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (pattern) => pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  );
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * `t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the timestamp is signed so a
 * captured request cannot be replayed later. During a secret rotation's overlap a second `v1`
 * signs with the previous secret (Stripe's scheme): a receiver accepts if any `v1` verifies.
 */
export function signatureHeader(
  secret: string,
  rawBody: string,
  timestampMs: number,
  previousSecret?: string,
): string {
  const sign = (key: string): string =>
    createHmac('sha256', key).update(`${timestampMs}.${rawBody}`).digest('hex');
  const previous = previousSecret === undefined ? '' : `,v1=${sign(previousSecret)}`;
  return `t=${timestampMs},v1=${sign(secret)}${previous}`;
}
