import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { AcknowledgedText, Phase2World } from '../world/world';
import { SmppCustomerSession } from '../world/smpp/smpp-session';
import type { CarrierSubmit } from '../world/smpp/carrier-smsc';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { FAILOVER_TARGET_MS, crashActiveNode, firstSuccessAfterCrash, latestFault } from './failover';
import { customerNumber, finalStatusOf } from './messaging';
import { session } from './smpp';
import { bound, eventually, PLATFORM_LOG } from './waiting';
import { ApiError } from '../world/http/api-client';

/**
 * The SMSC's failover as the customer and the mobile network see it: every acknowledged text
 * arrives (counted by the network double's handsets, the ground truth), duplicates are counted
 * rather than hidden, reports keep flowing, and SMPP customers bind again to the same address.
 */

/** Given {person} has a mobile phone on a network that is slow to accept texts */
export async function giveMobilePhoneSlowToAccept(world: Phase2World, name: string) {
  const { smsc } = await world.platformSettings();
  if (!smsc) throw new Error("The target's GET /ops/v1/settings reports no smsc timers (responseTimeoutMs).");
  // Slow, yet inside the platform's wait: texts stay "in flight" for a while, none is timed out.
  const responseDelayMs = Math.min(400, Math.floor(smsc.responseTimeoutMs / 2));
  world.people.set(name, {
    name,
    number: world.newHandset('slow-response', { responseDelayMs }),
    kind: 'mobile',
  });
}

/** When {string} texts {person} and {person} {int} times each through the API */
export async function sendTextsToEach(
  world: Phase2World,
  customerName: string,
  names: string[],
  count: number,
) {
  const api = world.customer(customerName).api;
  const from = customerNumber(world, customerName);
  const batch = randomBytes(3).toString('hex');
  // The SMSC's own count of resends before these texts: a duplicate it did not count is a defect.
  world.failover.resentInFlightBefore ??= await resentInFlight(world);
  const sends = names.flatMap((name) =>
    Array.from({ length: count }, async (_, i): Promise<AcknowledgedText> => {
      const to = world.person(name).number;
      const text = `Order ${batch}-${i + 1} for ${name} is ready`;
      const message = await api.sendMessage({ from, to, text });
      return { id: message.id, to, text, acknowledgedAt: Date.now() };
    }),
  );
  world.failover.acknowledged.push(...(await Promise.all(sends)));
}

/** Acknowledged texts not (yet) on their handsets. */
function notYetDelivered(world: Phase2World): AcknowledgedText[] {
  return world.failover.acknowledged.filter(
    (t) =>
      !world.mobileNetwork
        .handset(t.to)
        .inbox.all()
        .some((sms) => sms.text === t.text),
  );
}

/**
 * When the active SMSC node crashes while those texts are on their way. Then a text goes to a
 * phone that accepts at once, through the same API: its arrival measures the SMSC's failover.
 */
export async function crashSmscWhileTextsOnTheirWay(world: Phase2World, customerName: string) {
  const pending = notYetDelivered(world).length;
  expect(
    pending,
    'texts still on their way when the SMSC node is to crash (with none, the crash would prove nothing)',
  ).to.be.above(0);
  // Crash while the network holds a submission it has not answered yet: that text is in the
  // in-flight window for sure, so a re-send (and the SMSC owning up to it) is certain.
  const pendingNumbers = new Set(notYetDelivered(world).map((t) => t.to));
  await world.mobileNetwork.submits.waitFor(
    (s) => pendingNumbers.has(s.to) && s.carrierId !== null && s.answeredAt === undefined,
    bound(world, 'a submission of those texts that the mobile network has not answered yet', {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  await crashActiveNode(world, 'smsc');
  const to = world.newHandset('deliver');
  const text = `Sent after the crash ${randomBytes(3).toString('hex')}`;
  const message = await world
    .customer(customerName)
    .api.sendMessage({ from: customerNumber(world, customerName), to, text });
  world.failover.probeText = { id: message.id, to, text, acknowledgedAt: Date.now() };
}

/** The SMSC's operations figure: texts sent again although an earlier submit of theirs got no recorded answer. */
async function resentInFlight(world: Phase2World): Promise<number> {
  const answer = await world.operator.raw({ method: 'GET', path: '/ops/v1/smsc/counters' });
  const value = (answer.body as { resentInFlight?: unknown } | undefined)?.resentInFlight;
  if (answer.status !== 200 || typeof value !== 'number')
    throw new Error(
      `GET /ops/v1/smsc/counters answered ${answer.status} without resentInFlight: the suite cannot tell a duplicate the platform owns up to from one it hides (see "${EVIDENCE.HTTP}")`,
    );
  return value;
}

/** The slowest network's delay of this scenario's texts (an answer held back, a late delivery). */
function slowestNetworkMs(world: Phase2World): number {
  return Math.max(
    0,
    ...world.failover.acknowledged.map((t) => {
      const timing = world.mobileNetwork.timingOf(t.to);
      return (timing.responseDelayMs ?? 0) + (timing.deliverAfterMs ?? 0);
    }),
  );
}

/**
 * How long the texts of the crash may take from now: what is left of the failover target, then
 * the configured bound plus the slow networks' delays (each text waits for those before it).
 */
function textBoundMs(world: Phase2World): number {
  // The latest fault of any kind: the SMSC's crash, or the database's return.
  const fault = world.failover.faults.at(-1);
  if (!fault) throw new Error('No fault was injected in this scenario.');
  const failoverLeft = Math.max(0, fault.requestedAt + FAILOVER_TARGET_MS - Date.now());
  return (
    failoverLeft + world.env.config.waitMs + slowestNetworkMs(world) * world.failover.acknowledged.length
  );
}

/** Then a text sent through the same address after the crash reaches its handset within 30 seconds */
export async function expectTextAfterCrashWithinTarget(world: Phase2World) {
  const probe = world.failover.probeText;
  if (!probe) throw new Error('No text was sent after the SMSC node crashed.');
  const fault = latestFault(world, 'smsc');
  await firstSuccessAfterCrash(world, 'smsc', 'a text sent after the crash on its handset', () =>
    world.mobileNetwork.handset(probe.to).inbox.waitFor(
      (sms) => sms.text === probe.text,
      bound(world, `the text sent after the crash on ${probe.to}`, {
        lookAt: [EVIDENCE.SMPP, EVIDENCE.FAULT, PLATFORM_LOG],
        within: Math.max(1, fault.requestedAt + FAILOVER_TARGET_MS - Date.now()),
      }),
    ),
  );
}

/**
 * Then every text the platform acknowledged reaches its handset, and the duplicates are counted
 * and reported. Counted once a marker sent after them has arrived on each handset: the platform
 * queues the marker behind them, so a second copy of any of them has arrived by then too.
 */
export async function expectEveryAcknowledgedTextArrives(world: Phase2World, customerName: string) {
  const texts = world.failover.acknowledged;
  if (texts.length === 0) throw new Error('No texts were acknowledged in this scenario.');
  const within = textBoundMs(world);
  const arrivals = await Promise.allSettled(
    texts.map((t) =>
      world.mobileNetwork
        .handset(t.to)
        .inbox.waitFor(
          (sms) => sms.text === t.text,
          bound(world, `"${t.text}" on ${t.to}`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG], within }),
        ),
    ),
  );
  const lost = texts.filter((_, i) => arrivals[i]?.status === 'rejected');
  const api = world.customer(customerName).api;
  const from = customerNumber(world, customerName);
  for (const to of new Set(texts.map((t) => t.to))) {
    const marker = `Marker ${randomBytes(4).toString('hex')}`;
    await sendLikeACustomerAroundAFault(world, () => api.sendMessage({ from, to, text: marker }));
    await world.mobileNetwork.handset(to).inbox.waitFor(
      (sms) => sms.text === marker,
      bound(world, `a marker text on ${to}, sent after the texts of the crash`, {
        lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
        extraMs: slowestNetworkMs(world),
      }),
    );
  }
  const copies = texts.map((t) => ({
    ...t,
    copies: world.mobileNetwork
      .handset(t.to)
      .inbox.all()
      .filter((sms) => sms.text === t.text).length,
  }));
  const duplicated = copies.filter((t) => t.copies > 1).length;
  const extraCopies = copies.reduce((sum, t) => sum + Math.max(0, t.copies - 1), 0);
  const resent = (await resentInFlight(world)) - (world.failover.resentInFlightBefore ?? 0);
  attachJson(world, 'Texts acknowledged around the crash', { resentInFlightBySmsc: resent, texts: copies });
  recordMetric(world, {
    kind: 'delivery',
    name: 'texts acknowledged around an SMSC crash',
    accepted: texts.length,
    delivered: texts.length - lost.length,
  });
  recordMetric(world, {
    kind: 'duplicates',
    name: 'texts re-sent across an SMSC crash',
    texts: texts.length,
    duplicated,
    resentInFlight: resent,
  });
  expect(
    lost.map((t) => `${t.id} "${t.text}" to ${t.to}`),
    `acknowledged texts that never reached their handset (see "Texts acknowledged around the crash", "${EVIDENCE.SMPP}" and ${world.env.platformLog})`,
  ).to.deep.equal([]);
  // A duplicate can only come from the in-flight window, which the SMSC counts: any more were
  // sent twice where the protocol did not force it.
  expect(
    extraCopies,
    `second copies on the handsets: at most the ${resent} text(s) the SMSC says it re-sent from the in-flight window (GET /ops/v1/smsc/counters; see "Texts acknowledged around the crash")`,
  ).to.be.at.most(resent);
  expectNothingResentThatTheNetworkHadTaken(world);
}

/** Then {string}'s webhook receives a delivery report for every one of them */
export async function expectReportForEveryText(world: Phase2World, customerName: string) {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const within = textBoundMs(world);
  const reports = await Promise.allSettled(
    world.failover.acknowledged.map((t) =>
      world.env.webhooks.waitForEvent(
        webhook.path,
        (e) => e.type === 'message.delivered' && (e.data as { id?: string }).id === t.id,
        bound(world, `the delivery report for ${t.id}`, { lookAt: [EVIDENCE.WEBHOOK, PLATFORM_LOG], within }),
      ),
    ),
  );
  const missing = world.failover.acknowledged.filter((_, i) => reports[i]?.status === 'rejected');
  expect(
    missing.map((t) => `${t.id} to ${t.to}`),
    `acknowledged texts whose delivery report never reached "${customerName}"'s webhook (see "${EVIDENCE.WEBHOOK}")`,
  ).to.deep.equal([]);
}

/** When the active SMSC node crashes once the network took the text, before it reported the delivery */
export async function crashSmscBeforeTheReceipt(world: Phase2World) {
  const message = world.currentMessage();
  const early = session(world).deliveries.filter(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === message.id,
  );
  expect(early, 'receipts for the text before the crash (the network reports late)').to.deep.equal([]);
  // The network took it and the platform recorded that ("sent"): from here a re-send is needless.
  await eventually(
    world,
    `the text ${message.id} recorded as sent (taken by the network) before the SMSC node crashes`,
    async () => (await world.customer(message.customer).api.getMessage(message.id)).status,
    (status) => status === 'sent',
    { lookAt: [EVIDENCE.HTTP, PLATFORM_LOG] },
  );
  await crashActiveNode(world, 'smsc');
}

/** Then {string} binds again to the same address within 30 seconds */
export async function expectRebindWithinTarget(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const old = world.messaging.smpp;
  const { value } = await firstSuccessAfterCrash(
    world,
    'smsc',
    `"${customerName}" bound again over SMPP`,
    async (n) => {
      const connection = new SmppCustomerSession({ connectTimeoutMs: 500, responseTimeoutMs: 1_000 });
      try {
        await connection.connect({
          ...world.env.endpoints.smpp,
          actor: `${customerName} SMPP client (bind ${n + 1})`,
        });
        await connection.bind({ ...customer.smpp, mode: 'transceiver' });
        return connection;
      } catch (error) {
        connection.close().catch(() => undefined);
        throw error;
      }
    },
  );
  world.onCleanup(() => value.close());
  world.messaging.smpp = value;
  // The old connection died with its node; closing it only releases the socket.
  if (old) await old.close().catch(() => undefined);
}

/** When {string} disconnects before the network reported the delivery */
export async function disconnectBeforeTheReceipt(world: Phase2World, customerName: string) {
  const message = world.currentMessage();
  expect(message.customer, 'whose text').to.equal(customerName);
  const early = session(world).deliveries.filter(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === message.id,
  );
  expect(
    early,
    'receipts for the text before the customer went away (the network reports late)',
  ).to.deep.equal([]);
  await session(world).close();
}

/**
 * And the platform has learnt of the delivery while {string} was away: the API shows it
 * delivered, so the receipt is now owed to the customer by the node that is about to crash.
 */
export async function expectDeliveryLearntWhileAway(world: Phase2World) {
  const final = await finalStatusOf(world, world.currentMessage());
  expect(final.status, `the text's outcome as the API shows it (see "${EVIDENCE.HTTP}")`).to.equal(
    'delivered',
  );
}

/**
 * How long before a crash the network's answer to a submission must have gone out for the
 * platform to have recorded it for sure: a loopback round trip and a busy event loop, generously.
 */
const RECORDED_FOR_SURE_MS = 1_000;

/**
 * Texts the SMSC sent again although the network had answered the first submission (with its id)
 * well before the crash: the platform knew the text was taken, so the re-send is not the
 * protocol's unavoidable window but a window kept open too long. Counted on the network double.
 */
export function expectNothingResentThatTheNetworkHadTaken(world: Phase2World) {
  // The SMSC's crash, or whatever fault of the scenario (a database outage) came last.
  const fault = world.failover.faults.at(-1);
  if (!fault) throw new Error('No fault has been injected in this scenario yet.');
  const crashAt = fault.requestedAt;
  const byText = new Map<string, CarrierSubmit[]>();
  for (const submit of world.mobileNetwork.submits.all()) {
    if (submit.carrierId === null) continue;
    const key = `${submit.to} ${submit.text}`;
    byText.set(key, [...(byText.get(key) ?? []), submit]);
  }
  const needless = [...byText.entries()]
    .filter(([, submits]) => submits.length > 1)
    .filter(([, submits]) => (submits[0]?.answeredAt ?? Infinity) < crashAt - RECORDED_FOR_SURE_MS)
    .map(
      ([key, submits]) =>
        `${key}: answered ${crashAt - (submits[0]?.answeredAt ?? 0)} ms before the crash, sent ${submits.length} times`,
    );
  expect(
    needless,
    `texts sent again although the network had accepted them (with an id) over ${RECORDED_FOR_SURE_MS} ms before the ${fault.role} ${fault.action}: ` +
      `only a text caught between the network's answer and the platform recording it may go twice (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
}

/**
 * Then the text the platform had recorded as taken by the network was not sent to it again. The
 * crash came after the platform said "sent" (crashSmscBeforeTheReceipt waits for it), so the
 * network's one acceptance is all there may be.
 */
export function expectRecordedTextNotResent(world: Phase2World) {
  const message = world.currentMessage();
  const taken = world.mobileNetwork.submits.filter(
    (s) => s.to === message.to && s.text === message.text && s.carrierId !== null,
  );
  expect(
    taken.map((s) => `${s.carrierId} at ${new Date(s.at).toISOString()}`),
    `submissions of "${message.text}" the network accepted: one — the platform had recorded it as sent before the ` +
      `SMSC node crashed, so the successor had no reason to send it again (see "${EVIDENCE.SMPP}")`,
  ).to.have.length(1);
}

/**
 * A text sent as a customer sends it around a fault: the platform's "try again later" (503, e.g.
 * in the moments after the database is back, while its nodes still back off from a busy store) is
 * tried again, every 250 ms, until the plan's failover target after the latest fault has passed;
 * any other refusal, or a 503 past the target, fails at once.
 */
async function sendLikeACustomerAroundAFault<T>(world: Phase2World, send: () => Promise<T>): Promise<T> {
  const latest = world.failover.faults.at(-1);
  const deadline = (latest?.requestedAt ?? Date.now()) + FAILOVER_TARGET_MS;
  for (;;) {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 503 || Date.now() >= deadline) throw error;
    }
    await new Promise((done) => setTimeout(done, 250));
  }
}
