import type { Phase2World } from '../world/world';

/**
 * Subscribes a customer's webhook endpoint (on the worker's receiver) to some events; the
 * endpoint is retired when the scenario ends, so a long-lived receiver never mixes scenarios.
 */
export async function subscribeWebhook(
  world: Phase2World,
  customerName: string,
  events: string[],
  format: 'phase2' | 'jasmin' = 'phase2',
): Promise<void> {
  const customer = world.customer(customerName);
  const endpoint = world.env.webhooks.endpoint(`${customer.id}`, format);
  const webhook = await customer.api.createWebhook({ url: endpoint.url, events, format });
  endpoint.setSecret(webhook.secret);
  world.onCleanup(async () => {
    world.env.webhooks.removeEndpoint(endpoint.path);
  });
  customer.webhook = {
    id: webhook.id,
    url: endpoint.url,
    path: endpoint.path,
    setSecret: (secret) => endpoint.setSecret(secret),
  };
}
