import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { Phase2World, SentText } from '../world/world';
import type { HandsetBehaviour } from '../world/smpp/carrier-smsc';
import type { MessageAnalytics } from '../world/http/api-client';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { customerNumber } from './messaging';
import { campaignNamed, contactsOf, expectedText } from './campaign-runs';
import { consistencyCheck } from '../reporting/metrics';
import { bound, eventually } from './waiting';

/**
 * SMS analytics through the API, checked against the ground truth the suite saw itself: what
 * reached each handset and what the mobile network reported.
 */

const NETWORKS: Record<string, HandsetBehaviour> = {
  delivers: 'deliver',
  'cannot reach the phone': 'undeliverable',
};
/** The platform records a receipt within moments of the network sending it on loopback: the tolerance. */
const RECEIPT_PROCESSING_MS = 100;

/** One delivery as the suite saw it: the platform's latency for it must lie in [lowMs, highMs]. */
interface ObservedDelivery {
  person: string;
  lowMs: number;
  highMs: number;
}

/** Given these people have mobile phones: */
export function giveThemMobilePhones(world: Phase2World, table: DataTable) {
  for (const row of table.hashes()) {
    const behaviour = NETWORKS[row.network ?? ''];
    if (!behaviour)
      throw new Error(`Unknown network "${row.network}" (known: ${Object.keys(NETWORKS).join(', ')}).`);
    const name = row.person ?? '';
    world.people.set(name, { name, number: world.newHandset(behaviour), kind: 'mobile' });
  }
}

/** Given these people have mobile phones on networks that deliver at different speeds: */
export function giveThemMobilePhonesAtSpeeds(world: Phase2World, table: DataTable) {
  for (const row of table.hashes()) {
    const match = /^(\d+) ms$/.exec(row['delivered after'] ?? '');
    if (!match)
      throw new Error(`"delivered after" must read like "200 ms", not "${row['delivered after']}".`);
    const name = row.person ?? '';
    const number = world.newHandset('deliver', { deliverAfterMs: Number(match[1]) });
    world.people.set(name, { name, number, kind: 'mobile' });
  }
}

/** When {string} texts each of them {string} through the API */
export async function textEachOfThemThroughTheApi(world: Phase2World, customerName: string, text: string) {
  const customer = world.customer(customerName);
  const from = customerNumber(world, customerName);
  const batch: SentText[] = [];
  for (const person of [...world.people.values()].filter((p) => p.kind === 'mobile')) {
    const requestedAt = Date.now();
    const message = await customer.api.sendMessage({ from, to: person.number, text });
    batch.push({
      person: person.name,
      text,
      id: message.id,
      acceptedAt: message.acceptedAt,
      requestedAt,
      respondedAt: Date.now(),
    });
  }
  world.messaging.sentBatches.push(batch);
}

/**
 * What the suite itself observed for a batch: the receipt the network sent for each text (the
 * carrier double records them), and for a delivered one the copy on the handset. Each delivery's
 * latency is bounded from both sides by times the suite saw: the platform accepted the text after
 * the request went and before the answer came (and before it reached the network); it dated the
 * delivery once the network's receipt came, within moments.
 */
async function groundTruth(
  world: Phase2World,
  batch: Array<Pick<SentText, 'person' | 'text' | 'requestedAt' | 'respondedAt'>>,
) {
  const delivered: ObservedDelivery[] = [];
  let undeliverable = 0;
  for (const sent of batch) {
    const person = world.person(sent.person);
    const network = world.mobileNetwork;
    const receipt = await network.receipts.waitFor(
      (r) => r.to === person.number && r.text === sent.text,
      bound(world, `the network's receipt for the text to ${sent.person} (${person.number})`, {
        lookAt: [EVIDENCE.SMPP],
        extraMs: network.timingOf(person.number).deliverAfterMs ?? 0,
      }),
    );
    const submit = network.submits.all().find((s) => s.carrierId === receipt.carrierId);
    if (!submit)
      throw new Error(`The network sent a receipt for ${receipt.carrierId} it was never submitted.`);
    if (receipt.stat === 'UNDELIV') {
      undeliverable += 1;
      continue;
    }
    await network
      .handset(person.number)
      .inbox.waitFor(
        (s) => s.text === sent.text,
        bound(world, `the text on ${sent.person}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
      );
    const acceptedBy = Math.min(submit.at, sent.respondedAt ?? submit.at);
    delivered.push({
      person: sent.person,
      lowMs: receipt.at - acceptedBy,
      highMs: receipt.at + RECEIPT_PROCESSING_MS - sent.requestedAt,
    });
  }
  return { delivered, undeliverable };
}

/** Then within {int} seconds the API's analytics agree with what the handsets received and the network reported */
export async function expectAnalyticsAgreeWithHandsetsWithin(world: Phase2World, seconds: number) {
  const batch = world.messaging.sentBatches.flat();
  const truth = await groundTruth(world, batch);
  const customer = world.customer(world.onlyCustomerName());
  const analytics = await eventually(
    world,
    `analytics counting ${truth.delivered.length} delivered and ${truth.undeliverable} undeliverable`,
    () => customer.api.messageAnalytics(),
    (a) => a.counts.delivered === truth.delivered.length && a.counts.undeliverable === truth.undeliverable,
    { lookAt: [EVIDENCE.HTTP], within: seconds * 1000 },
  );
  await consistencyCheck(world, 'SMS analytics vs handsets and network', () =>
    expectAgreement(world, analytics, truth, batch.length),
  );
}

function expectAgreement(
  world: Phase2World,
  analytics: MessageAnalytics,
  truth: { delivered: ObservedDelivery[]; undeliverable: number },
  total: number,
): void {
  attachJson(world, 'Analytics vs ground truth', { analytics, truth });
  expect(analytics.total, 'texts counted').to.equal(total);
  expect(analytics.counts, 'counts by status').to.deep.include({
    delivered: truth.delivered.length,
    undeliverable: truth.undeliverable,
    queued: 0,
    sent: 0,
  });
  expect(analytics.deliveryRate, 'delivery rate').to.be.closeTo(truth.delivered.length / total, 1e-9);
  const latency = analytics.deliveryLatencyMs;
  if (!latency) throw new Error('The analytics report no delivery latency although texts were delivered.');
  const n = truth.delivered.length;
  expect(latency.samples, 'delivered texts in the latency figures').to.equal(n);
  // The k-th smallest of values each within [low, high] lies between the k-th smallest low and
  // the k-th smallest high: so each percentile (nearest rank, as documented) has a window of
  // its own, from both sides, that a zero, an average or a neighbouring rank falls out of.
  const lows = truth.delivered.map((d) => d.lowMs).sort((a, b) => a - b);
  const highs = truth.delivered.map((d) => d.highMs).sort((a, b) => a - b);
  const figures: Array<[string, number, number]> = [
    ['median (p50)', latency.p50, 50],
    ['95th percentile', latency.p95, 95],
    ['slowest (max)', latency.max, 100],
  ];
  for (const [label, value, p] of figures) {
    const k = Math.max(0, Math.ceil((p / 100) * n) - 1);
    expect(
      value,
      `${label} delivery latency: the delivery of rank ${k + 1} of ${n} (nearest rank) took between ` +
        `${lows[k]} and ${highs[k]} ms as the suite saw it (requests, the network's receipts)`,
    ).to.be.within((lows[k] ?? 0) - 1, (highs[k] ?? 0) + 1);
  }
}

/** Then the analytics for the window of the second batch count only the second batch's texts */
export async function expectWindowedAnalyticsCountOnlyTheSecondBatch(world: Phase2World) {
  const [first, second] = world.messaging.sentBatches;
  if (!first || !second) throw new Error('Two batches of texts must have been sent.');
  const customer = world.customer(world.onlyCustomerName());
  // Window bounds from the platform's own acceptance times, so clock skew cannot matter.
  const since = second.map((s) => s.acceptedAt).sort()[0];
  const truth = await groundTruth(world, second);
  const windowed = await eventually(
    world,
    `analytics since ${since} to count the ${second.length} texts of the second batch`,
    () => customer.api.messageAnalytics({ since }),
    (a) => a.counts.delivered + a.counts.undeliverable === second.length,
    { lookAt: [EVIDENCE.HTTP] },
  );
  await consistencyCheck(world, 'SMS analytics vs handsets and network', () =>
    expectAgreement(world, windowed, truth, second.length),
  );
  const before = await customer.api.messageAnalytics({ until: since });
  expect(before.total, 'texts before the window: the first batch').to.equal(first.length);
}

/** Then the analytics of the campaign {string} agree with what its contacts' handsets received and the network reported */
export async function expectCampaignAnalyticsAgreeWithHandsets(world: Phase2World, name: string) {
  const run = campaignNamed(world, name);
  const api = world.customer(run.customer).api;
  const requestedAt = run.startRequestedAt;
  if (requestedAt === undefined) throw new Error(`The campaign "${name}" was not started in this scenario.`);
  const batch = contactsOf(world, run).map((contact) => {
    if (!contact.person)
      throw new Error(`Contact ${contact.number} of "${name}" is not a person of this scenario.`);
    return { person: contact.person, text: expectedText(world, run, contact), requestedAt };
  });
  const truth = await groundTruth(world, batch);
  const analytics = await eventually(
    world,
    `analytics of campaign "${name}" counting ${truth.delivered.length} delivered and ${truth.undeliverable} undeliverable`,
    () => api.messageAnalytics({ campaignId: run.latest.id }),
    (a) => a.counts.delivered === truth.delivered.length && a.counts.undeliverable === truth.undeliverable,
    { lookAt: [EVIDENCE.HTTP] },
  );
  expect(analytics.campaignId, 'campaign the analytics are about').to.equal(run.latest.id);
  // Latency is measured by the suite from its request to start the campaign: an upper bound.
  await consistencyCheck(world, 'campaign analytics vs handsets and network', () =>
    expectAgreement(world, analytics, truth, batch.length),
  );
  const everything = await api.messageAnalytics();
  expect(everything.total, "all of the customer's texts: the direct ones and the campaign's").to.equal(
    world.messaging.sentBatches.flat().length + batch.length,
  );
}
