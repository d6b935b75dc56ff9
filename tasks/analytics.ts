import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { HandsetBehaviour } from '../world/smpp/carrier-smsc';
import type { MessageAnalytics } from '../world/http/api-client';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { customerNumber } from './messaging';
import { campaignNamed, contactsOf, expectedText } from './campaigns';
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
/** The network's receipt follows the handset within moments on loopback; this is the tolerance. */
const RECEIPT_AFTER_HANDSET_MS = 100;

interface SentText {
  person: string;
  text: string;
  id: string;
  acceptedAt: string;
  requestedAt: number;
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

/** When {string} texts each of them {string} through the API */
export async function textEachOfThemThroughTheApi(world: Phase2World, customerName: string, text: string) {
  const customer = world.customer(customerName);
  const from = customerNumber(world, customerName);
  const batch: SentText[] = [];
  for (const person of [...world.people.values()].filter((p) => p.kind === 'mobile')) {
    const requestedAt = Date.now();
    const message = await customer.api.sendMessage({ from, to: person.number, text });
    batch.push({ person: person.name, text, id: message.id, acceptedAt: message.acceptedAt, requestedAt });
  }
  world.messaging.sentBatches.push(batch);
}

/** What the suite itself observed for a batch: delivered per handset, undeliverable per receipt-less absence. */
async function groundTruth(
  world: Phase2World,
  batch: Array<Pick<SentText, 'person' | 'text' | 'requestedAt'>>,
) {
  const delivered: Array<{ person: string; latencyMs: number }> = [];
  let undeliverable = 0;
  for (const sent of batch) {
    const person = world.person(sent.person);
    const behaviour = world.mobileNetwork.behaviourOf(person.number);
    if (behaviour === 'undeliverable') {
      undeliverable += 1;
      continue;
    }
    const sms = await world.mobileNetwork
      .handset(person.number)
      .inbox.waitFor(
        (s) => s.text === sent.text,
        bound(world, `the text on ${sent.person}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
      );
    delivered.push({ person: sent.person, latencyMs: sms.receivedAt - sent.requestedAt });
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
  truth: { delivered: Array<{ latencyMs: number }>; undeliverable: number },
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
  const observed = truth.delivered.map((d) => d.latencyMs).sort((a, b) => a - b);
  const latency = analytics.deliveryLatencyMs;
  if (!latency) throw new Error('The analytics report no delivery latency although texts were delivered.');
  expect(latency.samples, 'delivered texts in the latency figures').to.equal(observed.length);
  // The platform dates delivery by the network's receipt, right after the handset got the text;
  // the suite measured from before its own request: the two agree within the receipt's lag.
  expect(
    latency.max,
    `slowest delivery vs the slowest handset arrival (${observed.at(-1)} ms)`,
  ).to.be.at.most((observed.at(-1) ?? 0) + RECEIPT_AFTER_HANDSET_MS);
  expect(latency.p50, 'median delivery latency').to.be.at.most(latency.p95);
  expect(latency.p95, '95th percentile').to.be.at.most(latency.max);
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
