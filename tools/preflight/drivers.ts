/**
 * The suite's drivers, loaded only when a check needs them: the usual failure (a wrong key, a
 * closed port) is reported without loading sip.js, the SMPP library, faker or the API contract.
 */

/** A module loaded on the first call, not when the preflight starts. */
function onDemand<M>(path: string): () => M {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the point is to load late
  return () => require(path) as M;
}

export const factories = onDemand<typeof import('../../world/factories')>('../../world/factories');
export const apiClient = onDemand<typeof import('../../world/http/api-client')>(
  '../../world/http/api-client',
);
export const smppDrivers = onDemand<typeof import('../../world/smpp/smpp-session')>(
  '../../world/smpp/smpp-session',
);
export const sipDrivers = onDemand<typeof import('../../world/sip/sip-phone')>('../../world/sip/sip-phone');
export const carrierDrivers = onDemand<typeof import('../../world/smpp/carrier-smsc')>(
  '../../world/smpp/carrier-smsc',
);
export const webhookDrivers = onDemand<typeof import('../../world/http/webhook-receiver')>(
  '../../world/http/webhook-receiver',
);
