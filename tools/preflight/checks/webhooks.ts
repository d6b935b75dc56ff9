/**
 * Webhooks: the platform accepts the receiver's URL (no 422 from its host allowlist) and really
 * delivers an event there: a text to the preflight's carrier double makes a message.sent event.
 */
import { apiClient, webhookDrivers } from '../drivers';
import { NotChecked, Problem, passed, type Passed } from '../outcome';
import { until } from '../probes';
import type { PreflightRun, Step } from '../run';
import { seconds } from '../wording';
import type { Provisioned } from './api';
import type { CarrierLink } from './carrier';

export async function checkWebhooks(
  run: PreflightRun,
  customer: Step<Provisioned>,
  carrierStep: Step<CarrierLink>,
): Promise<Passed> {
  const { customer: created, number } = await run.needs(customer);
  const api = run.api(created.apiKey, 'preflight customer');
  const { WebhookReceiver } = webhookDrivers();
  const receiver = new WebhookReceiver({ publicHost: run.suiteHost });
  await receiver.start();
  run.onCleanup('stop the webhook receiver', () => receiver.stop());
  const endpoint = receiver.endpoint('preflight');
  let webhook;
  try {
    webhook = await run.within('POST /v1/webhooks', () =>
      api.createWebhook({ url: endpoint.url, events: ['message.*'] }),
    );
  } catch (error) {
    const { ApiError } = apiClient();
    if (error instanceof ApiError && error.status === 422)
      throw new Problem(
        `the platform refuses webhook URLs at PHASE2_SUITE_HOST=${run.suiteHost} (${error.message}): allow that host on the platform or set PHASE2_SUITE_HOST to one it allows`,
      );
    throw new Problem(`subscribing a webhook: ${(error as Error).message.split('\n')[0]}`);
  }
  endpoint.setSecret(webhook.secret);
  const webhookId = webhook.id;
  // Deleting the subscription also drops its pending deliveries: nothing retries to a closed port.
  run.onCleanup(`remove webhook ${webhookId}`, () => run.removeIfThere(() => api.deleteWebhook(webhookId)));

  const link = await carrierStep.value;
  if (!link?.prefix || !number)
    throw new NotChecked(
      `the platform accepted ${endpoint.url}, but proving a delivery needs the carrier double (see its line)`,
    );
  const to = `${link.prefix}${'1'.padStart(16 - link.prefix.length, '0')}`;
  link.carrier.behaviourFor(to, 'never'); // no receipt: no later event for a receiver about to close
  await run.expectOk('sending a text to trigger a webhook', () =>
    api.sendMessage({ from: number, to, text: 'preflight' }),
  );
  try {
    await run.within('a delivery', (signal) =>
      until(() => receiver.events.all().some((event) => event.path === endpoint.path), signal),
    );
  } catch {
    const refused = receiver.rejected.all().map((r) => r.reason);
    throw new Problem(
      refused.length > 0
        ? `webhook deliveries reached ${endpoint.url} but did not verify: ${refused.join('; ')}`
        : `the platform accepted the webhook URL ${endpoint.url} but no delivery reached it within ${seconds(run.timeoutMs)}: the platform must reach PHASE2_SUITE_HOST=${run.suiteHost} over HTTP (firewall, NAT)`,
    );
  }
  return passed(`the platform delivered a signed event to ${endpoint.url}`);
}
