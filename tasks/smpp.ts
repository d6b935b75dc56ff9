import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import { SmppCustomerSession, smppStatusName } from '../world/smpp/smpp-session';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { customerNumber, finalStatusOf } from './messaging';
import { recordMetric } from '../reporting/metrics';
import { bound, eventually, PLATFORM_LOG } from './waiting';

/**
 * The customer's own SMS software on SMPP: submit_sm to the platform's SMSC, delivery receipts
 * back as deliver_sm, and Jasmin-style throttling (ESME_RTHROTTLED) that loses nothing.
 */

const STATUS_OK = 0;

export function session(world: Phase2World): SmppCustomerSession {
  if (!world.messaging.smpp)
    throw new Error('No SMPP connection in this scenario: a Given step must open one.');
  return world.messaging.smpp;
}

/** Given {string} may submit {int} texts per second over SMPP */
export async function expectSmppRateLimit(world: Phase2World, customerName: string, perSecond: number) {
  const customer = world.customer(customerName);
  const set = await world.operator.setSmppThroughput(customer.id, perSecond);
  expect(set.perSecond, `"${customerName}"'s SMPP throughput`).to.equal(perSecond);
}

/** Given {string} is connected to the platform over SMPP */
export async function connectOverSmpp(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const connection = new SmppCustomerSession();
  await connection.connect({ ...world.env.endpoints.smpp, actor: `${customerName} SMPP client` });
  world.onCleanup(() => connection.close());
  await connection.bind({ ...customer.smpp, mode: 'transceiver' });
  world.messaging.smpp = connection;
}

/** When {string} submits {string} to {person} over SMPP, asking for a delivery receipt */
export async function submitAskingForReceipt(
  world: Phase2World,
  customerName: string,
  text: string,
  name: string,
) {
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  const requestedAt = Date.now();
  const { messageId } = await session(world).submit({
    source: from,
    destination: to,
    text,
    registeredDelivery: true,
  });
  expect(messageId, 'message_id in the submit_sm_resp').to.have.length.above(0);
  world.messaging.message = {
    id: messageId,
    customer: customerName,
    from,
    to,
    text,
    acceptedAt: requestedAt,
  };
}

/** Then {string} receives a delivery receipt for it on the SMPP connection, saying {word} */
export async function expectDeliveryReceiptOnTheSession(
  world: Phase2World,
  customerName: string,
  stat: string,
) {
  const message = world.currentMessage();
  expect(message.customer, 'whose message').to.equal(customerName);
  const receipt = await session(world).deliveries.waitFor(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === message.id,
    bound(world, `a delivery receipt for message ${message.id} on "${customerName}"'s SMPP connection`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(receipt.stat, `stat in the receipt (see "${EVIDENCE.SMPP}")`).to.equal(stat);
  expect(receipt.source, 'the receipt comes from the handset').to.equal(message.to);
  // Counted after a later event: the receipt for a second submission on the same connection,
  // so a duplicate receipt for the first (sent right after, or at a second level) has come too.
  const control = await session(world).submit({
    source: message.from,
    destination: message.to,
    text: `control ${Date.now()}`,
    registeredDelivery: true,
  });
  await session(world).deliveries.waitFor(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === control.messageId,
    bound(world, `the receipt for the control submission ${control.messageId}`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  const receipts = session(world).deliveries.filter(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === message.id,
  );
  expect(
    receipts.map((r) => r.stat),
    `receipts for ${message.id} once a later submission's receipt had come: exactly one`,
  ).to.deep.equal([stat]);
}

/** When {string} submits {int} texts to {person} at once over SMPP, retrying each one it is told to slow down */
export async function submitAtOnceRetryingThrottled(
  world: Phase2World,
  customerName: string,
  count: number,
  name: string,
) {
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  const texts = Array.from({ length: count }, (_, i) => `Parcel update ${i + 1} of ${count}`);
  const refusals: string[] = [];
  const attempts: NonNullable<NonNullable<Phase2World['messaging']['smppBatch']>['attempts']> = [];
  await Promise.all(
    texts.map((text) =>
      // A real ESME retries a throttled submit after a pause; so does this one, within a bound.
      eventually(
        world,
        `"${text}" to be accepted over SMPP`,
        async () => {
          const sentAt = Date.now();
          const response = await session(world).submitOnce({
            source: from,
            destination: to,
            text,
            registeredDelivery: false,
          });
          const status = smppStatusName(response.command_status);
          const tries = attempts.filter((a) => a.text === text).length;
          attempts.push({
            text,
            try: tries + 1,
            sentAt,
            answeredAt: Date.now(),
            status,
            messageId: response.command_status === STATUS_OK ? String(response.message_id ?? '') : undefined,
          });
          if (response.command_status !== STATUS_OK) refusals.push(status);
          return response;
        },
        (response) => response.command_status === STATUS_OK,
        { lookAt: [EVIDENCE.SMPP], extraMs: count * 1000, intervalMs: 100 },
      ),
    ),
  );
  world.messaging.smppBatch = { texts, refusals, attempts };
}

/** Then {int} submissions a second were accepted and the others refused with ESME_RTHROTTLED */
export function expectThrottledAtExactly(world: Phase2World, perSecond: number) {
  const batch = world.messaging.smppBatch;
  if (!batch?.attempts) throw new Error('No batch of SMPP submissions in this scenario.');
  const { attempts } = batch;
  attachJson(world, 'SMPP submissions under throttling', attempts);
  expect([...new Set(batch.refusals)], 'why submissions were refused').to.deep.equal(['ESME_RTHROTTLED']);
  // The burst opens a fresh window: exactly the first N in submission order pass, no more, no fewer.
  const burst = batch.texts.map((text) => attempts.find((a) => a.text === text && a.try === 1)?.status);
  expect(
    burst,
    `answers to the first burst of ${batch.texts.length} submissions at ${perSecond} a second (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal(batch.texts.map((_, i) => (i < perSecond ? smppStatusName(STATUS_OK) : 'ESME_RTHROTTLED')));
  // Over the whole run: the k-th acceptance can only come once floor(k/N) seconds have passed
  // since the first submission, whatever window the platform counts in.
  const start = Math.min(...attempts.map((a) => a.sentAt));
  const accepted = attempts
    .filter((a) => a.status === smppStatusName(STATUS_OK))
    .sort((a, b) => a.answeredAt - b.answeredAt);
  expect(accepted.length, 'accepted submissions: one per text').to.equal(batch.texts.length);
  accepted.forEach((a, k) => {
    const earliest = Math.floor(k / perSecond) * 1000;
    expect(
      a.answeredAt - start,
      `ms from the first submission to acceptance ${k + 1} ("${a.text}", try ${a.try}): more than ${perSecond} a second were accepted`,
    ).to.be.at.least(earliest);
  });
}

/** Then {person}'s phone receives each of the texts exactly once */
export async function expectEachTextExactlyOnce(world: Phase2World, name: string) {
  const batch = world.messaging.smppBatch;
  if (!batch) throw new Error('No batch of SMPP submissions in this scenario.');
  const inbox = world.mobileNetwork.handset(world.person(name).number).inbox;
  try {
    for (const text of batch.texts)
      await inbox.waitFor(
        (sms) => sms.text === text,
        bound(world, `"${text}" on ${name}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
      );
    // Counted once the platform is done with every accepted submission (read through the API:
    // the same message whichever way it came in), so a late second copy has had its chance.
    const customerName = world.onlyCustomerName();
    for (const attempt of batch.attempts ?? [])
      if (attempt.messageId !== undefined)
        await finalStatusOf(world, {
          id: attempt.messageId,
          customer: customerName,
          from: '',
          to: world.person(name).number,
          text: attempt.text,
          acceptedAt: attempt.sentAt,
        });
  } finally {
    const arrived = new Set(inbox.all().map((sms) => sms.text));
    recordMetric(world, {
      kind: 'delivery',
      name: 'texts acknowledged over SMPP under throttling',
      accepted: batch.texts.length,
      delivered: batch.texts.filter((t) => arrived.has(t)).length,
    });
  }
  expect(
    inbox
      .all()
      .map((sms) => sms.text)
      .sort(),
    `texts on ${name}'s phone: each one once`,
  ).to.deep.equal([...batch.texts].sort());
}
