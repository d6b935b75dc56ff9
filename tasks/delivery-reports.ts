import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { ReceivedWebhook, WebhookFailure } from '../world/http/webhook-receiver';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { bound, describeEvidence, PLATFORM_LOG } from './waiting';
import { finalReportAt, networkReceiptFor } from './messaging';

/**
 * Delivery reports at the customer's webhook: signed, in the order the network reported them,
 * retried with growing pauses while the customer's endpoint fails, and processed exactly once.
 */

/**
 * Pauses are measured between arrivals at the endpoint, not departures: an attempt's arrival
 * can lag its start by tens of ms (connection set-up), so a pause may read that much short. A
 * retry may also start late when the machine is loaded (up to ~150 ms measured with two
 * workers on two shared cores), but never by half its delay beyond that: a schedule off by one
 * doubling is 100 % late on every pause and fails by the second one at the latest.
 */
const PAUSE_EARLY_MS = 50;
const lateness = (delayMs: number): number => Math.max(150, delayMs / 2);

/** How a failing endpoint fails, as the feature says it. */
const FAILURES: Record<string, WebhookFailure> = {
  'answers 500 Internal Server Error': 500,
  'does not answer at all': 'timeout',
  'answers without ACK/Jasmin': 'no-ack',
};

/** Then {string}'s Jasmin endpoint hears the SMSC's acknowledgement and then {word}, acknowledging each with ACK\/Jasmin */
export async function expectJasminAcknowledgementThenOutcome(
  world: Phase2World,
  customerName: string,
  state: string,
) {
  const message = world.currentMessage();
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const final = await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) => e.eventId === `${message.id}#2`,
    bound(world, `the level-2 Jasmin DLR for ${message.id} at "${customerName}"'s endpoint`, {
      lookAt: [EVIDENCE.WEBHOOK],
    }),
  );
  const reports = world.env.webhooks.events.filter(
    (e) => e.path === webhook.path && e.eventId.startsWith(`${message.id}#`),
  );
  attachJson(world, 'Jasmin DLRs', reports);
  expect(
    reports.map((r) => r.eventId),
    'level 1 (SMSC acknowledgement) before level 2 (final state)',
  ).to.deep.equal([`${message.id}#1`, `${message.id}#2`]);
  expect(reports[0]?.data, 'the level-1 report').to.deep.include({
    id: message.id,
    level: '1',
    message_status: 'ESME_ROK',
  });
  const fields = final.data as Record<string, string>;
  expect(fields, 'the level-2 report').to.deep.include({
    id: message.id,
    level: '2',
    message_status: state,
  });
  expect(fields.id_smsc, "the carrier's message id").to.have.length.above(0);
  expect(fields.donedate, 'done date, YYMMDDhhmm').to.match(/^\d{10}$/);
  expect(fields.err, 'error code').to.match(/^\d{3}$/);
}

/** Given {string}'s webhook endpoint {string} to the first {int} attempts */
export function failFirstWebhookAttempts(
  world: Phase2World,
  customerName: string,
  how: string,
  count: number,
) {
  const failure = FAILURES[how];
  if (failure === undefined)
    throw new Error(`Unknown failure "${how}" (known: ${Object.keys(FAILURES).join(', ')}).`);
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  world.env.webhooks.failNextAt(webhook.path, count, failure);
  world.messaging.webhookFailure = failure;
}

/**
 * The later event after which counting reports means something: a second text's "delivered"
 * report at the same endpoint. The platform delivers reports to an endpoint in order, so a
 * duplicate or retry of an earlier report would have come before it.
 */
async function laterReportAtTheSameEndpoint(world: Phase2World, customerName: string): Promise<void> {
  const customer = world.customer(customerName);
  const webhook = customer.webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const from = world.currentMessage().from;
  const control = await customer.api.sendMessage({
    from,
    to: world.newHandset('deliver'),
    text: `control ${Date.now()}`,
  });
  await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) => e.type === 'message.delivered' && (e.data as { id?: string }).id === control.id,
    bound(
      world,
      `the delivered report for the later control text ${control.id} at "${customerName}"'s webhook`,
      {
        lookAt: [EVIDENCE.WEBHOOK],
      },
    ),
  );
}

function eventsOf(world: Phase2World, customerName: string, messageId: string): ReceivedWebhook[] {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  return world.env.webhooks.events.filter(
    (e) => e.path === webhook.path && (e.data as { id?: string }).id === messageId,
  );
}

/** Then {string}'s webhook hears that the message was sent and then that it was delivered, in that order */
export async function expectWebhookHearsSentThenDelivered(world: Phase2World, customerName: string) {
  const message = world.currentMessage();
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  await world.env.webhooks.waitForEvent(
    webhook.path,
    (e) => e.type === 'message.delivered' && (e.data as { id?: string }).id === message.id,
    bound(world, `the delivered report for ${message.id} at "${customerName}"'s webhook`, {
      lookAt: [EVIDENCE.WEBHOOK],
    }),
  );
  await laterReportAtTheSameEndpoint(world, customerName);
  const events = eventsOf(world, customerName, message.id);
  attachJson(world, 'Delivery reports', events);
  const onHandset = world.mobileNetwork
    .handset(message.to)
    .inbox.all()
    .find((sms) => sms.text === message.text);
  const delivered = events.find((e) => e.type === 'message.delivered');
  // Only first-time deliveries measure the platform: retries measure the failing endpoint.
  // (and only a network that reports at once: a late receipt measures the simulated network).
  const promptNetwork = world.mobileNetwork.behaviourOf(message.to) === 'deliver';
  if (onHandset && delivered && promptNetwork && events.every((e) => e.attempts === 1))
    recordMetric(world, {
      kind: 'latency',
      name: 'handset → delivery report at the webhook',
      ms: Date.parse(delivered.receivedAt) - onHandset.receivedAt,
    });
  expect(
    events.map((e) => e.type),
    `reports for ${message.id}, in the order they reached the webhook`,
  ).to.deep.equal(['message.sent', 'message.delivered']);
  expect(
    Date.parse(events[0]?.createdAt ?? '') <= Date.parse(events[1]?.createdAt ?? ''),
    `the platform dates "sent" (${events[0]?.createdAt}) before "delivered" (${events[1]?.createdAt})`,
  ).to.equal(true);
  expect(
    events.map((e) => (e.data as { status?: string }).status),
    'the message status each report carries',
  ).to.deep.equal(['sent', 'delivered']);
  await expectNoReportSentAgain(world, customerName, events);
}

/**
 * A report the endpoint acknowledged is never sent again. No ordering ties a re-send to a later
 * event (the platform orders the reports of one message, and a re-send stands outside that), so
 * absence is proven over the documented retry window instead: a platform that took the
 * acknowledgement of attempt k for a failure would, by its schedule, send the report again
 * retryBaseMs·2^(k−1) after it, however loaded the machine (see `lateness`).
 */
async function expectNoReportSentAgain(
  world: Phase2World,
  customerName: string,
  reports: ReceivedWebhook[],
): Promise<void> {
  const { webhooks: schedule } = await world.platformSettings();
  if (!schedule)
    throw new Error(
      "The target's GET /ops/v1/settings reports no webhook retry schedule (retryBaseMs): " +
        'a report sent again after it was acknowledged cannot be ruled out.',
    );
  const ids = new Map(reports.map((r) => [r.eventId, r] as const));
  const windowEnds = reports.map((r) => {
    const acknowledged = r.attemptsAt[r.attempts - r.duplicates - 1] ?? Date.now();
    const delay = schedule.retryBaseMs * 2 ** (r.attempts - r.duplicates - 1);
    return acknowledged + delay + lateness(delay);
  });
  await world.env.webhooks.redeliveries.expectNone((d) => ids.has(d.eventId), {
    duringMs: Math.max(0, Math.max(...windowEnds) - Date.now()),
    unexpected:
      `"${customerName}"'s webhook acknowledged a report, and the platform sent it again ` +
      `(within the ${schedule.retryBaseMs}·2^(k−1) ms retry window after the acknowledged attempt k)`,
    lookAt: describeEvidence(world, [EVIDENCE.WEBHOOK, PLATFORM_LOG]),
  });
}

/** Then the {word} report took {int} attempts, each pause longer than the one before, and each report was processed once */
export async function expectReportRetriedWithGrowingPauses(
  world: Phase2World,
  status: string,
  attempts: number,
) {
  const message = world.currentMessage();
  const report = eventsOf(world, message.customer, message.id).find((e) => e.type === `message.${status}`);
  if (!report) throw new Error(`No ${status} report for ${message.id} has been processed.`);
  const pauses = report.attemptsAt.slice(1).map((at, i) => at - (report.attemptsAt[i] ?? at));
  attachJson(world, 'Delivery attempts', { eventId: report.eventId, attemptsAt: report.attemptsAt, pauses });
  expect(report.attempts, `requests that carried report ${report.eventId}`).to.equal(attempts);
  const { webhooks: schedule } = await world.platformSettings();
  if (!schedule)
    throw new Error(
      "The target's GET /ops/v1/settings reports no webhook retry schedule (retryBaseMs, timeoutMs): " +
        'the pauses between attempts cannot be checked against it.',
    );
  // The documented schedule: after failed attempt k the next comes retryBaseMs·2^(k−1) later,
  // counted from the failure (for an endpoint that never answers, from the attempt's timeout).
  const waited = world.messaging.webhookFailure === 'timeout' ? schedule.timeoutMs : 0;
  pauses.forEach((pause, i) => {
    const delay = schedule.retryBaseMs * 2 ** i;
    const due = waited + delay;
    expect(
      pause,
      `pause before attempt ${i + 2} of report ${report.eventId}: the schedule says ${due} ms ` +
        `(retryBaseMs ${schedule.retryBaseMs}·2^${i}${waited ? ` after the ${waited} ms timeout` : ''}; see "Delivery attempts")`,
    ).to.be.within(due - PAUSE_EARLY_MS, due + lateness(delay));
  });
  const processed = eventsOf(world, message.customer, message.id).filter(
    (e) => e.type === 'message.delivered',
  );
  expect(processed, 'delivered reports the application processed').to.have.length(1);
}

/** Then {string}'s webhook receives a signed report that the message was undeliverable, with the network's error code */
export async function expectSignedUndeliverableReport(world: Phase2World, customerName: string) {
  const message = world.currentMessage();
  const report = await finalReportAt(world, customerName, message);
  expect(report.type, 'the final report').to.equal('message.undeliverable');
  // The error code the network itself sent in its receipt for this text.
  const receipt = networkReceiptFor(world, message);
  expect(
    report.data,
    `the report carries the network's error code (receipt ${receipt.carrierId})`,
  ).to.deep.include({
    status: 'undeliverable',
    errorCode: receipt.err,
  });
}

/** Then the acknowledgement callback was sent {int} times and processed once */
export function expectAcknowledgementSentAndProcessedOnce(world: Phase2World, times: number) {
  const message = world.currentMessage();
  const webhook = world.customer(message.customer).webhook;
  if (!webhook) throw new Error(`"${message.customer}" has no webhook in this scenario.`);
  const acks = world.env.webhooks.events.filter(
    (e) => e.path === webhook.path && e.eventId === `${message.id}#1`,
  );
  expect(acks, 'level-1 callbacks the application processed').to.have.length(1);
  expect(
    acks[0]?.attempts,
    `level-1 callbacks received for ${message.id} (see "${EVIDENCE.WEBHOOK}")`,
  ).to.equal(times);
}
