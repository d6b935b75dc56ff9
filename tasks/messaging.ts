import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { CarrierReceipt, HandsetBehaviour } from '../world/smpp/carrier-smsc';
import type { ReceivedWebhook } from '../world/http/webhook-receiver';
import { SmppCustomerSession } from '../world/smpp/smpp-session';
import { localDid, mobileNumber } from '../world/factories';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { recordMetric } from '../reporting/metrics';
import { bound, eventually, PLATFORM_LOG } from './waiting';
import type { MessageUnderTest } from '../world/world';
import type { Message } from '../world/http/api-client';

/** One of the customer's numbers of a kind ('local', 'short-code', …), as a Given step added it. */
export function customerNumber(world: Phase2World, customerName: string, kind = 'local'): string {
  const found = world.customer(customerName).numbers.find((n) => n.kind === kind);
  if (!found) throw new Error(`"${customerName}" owns no ${kind} number: a Given step must add one.`);
  return found.number;
}

/**
 * Sends a text through the API and makes it the scenario's message. The clock starts before the
 * request, so a latency measured from `acceptedAt` is an upper bound of accept → handset.
 */
export async function sendText(
  world: Phase2World,
  customerName: string,
  from: string,
  personName: string,
  text: string,
): Promise<void> {
  const to = world.person(personName).number;
  const requestedAt = Date.now();
  const message = await world.customer(customerName).api.sendMessage({ from, to, text });
  const respondedAt = Date.now();
  expect(message.status, 'status of a message the API has just accepted').to.equal('queued');
  world.messaging.message = {
    id: message.id,
    customer: customerName,
    from,
    to,
    text,
    acceptedAt: requestedAt,
    respondedAt,
  };
}

const FINAL_STATUSES = ['delivered', 'undeliverable', 'expired', 'rejected', 'failed'];

/**
 * Waits until the API shows the message in a final state: the later event after which counting
 * copies means something. The platform is done with the message then, so a resubmission it made
 * on the way (a retry, a late answer taken for none) has already reached the network.
 */
export async function finalStatusOf(world: Phase2World, message: MessageUnderTest): Promise<Message> {
  try {
    return await eventually(
      world,
      `message ${message.id} to ${message.to} to reach a final state (${FINAL_STATUSES.join(', ')})`,
      () => world.customer(message.customer).api.getMessage(message.id),
      (m) => FINAL_STATUSES.includes(m.status),
      { lookAt: [EVIDENCE.HTTP, EVIDENCE.SMPP, PLATFORM_LOG], intervalMs: 100 },
    );
  } catch (error) {
    // What the network saw says whether the platform lost track of a text it had handed over.
    const networks = [world.mobileNetwork, world.messaging.foreignCarrier?.double].filter(
      (n) => n !== undefined,
    );
    const submits = networks.flatMap((n) => n.submits.filter((s) => s.to === message.to));
    const copies = networks.flatMap((n) => n.handset(message.to).inbox.all());
    throw new Error(
      `${(error as Error).message} Meanwhile the network saw ${submits.length} submit(s) of texts to ${message.to} ` +
        `(${submits.map((s) => (s.carrierId === null ? 'unanswered or refused' : `accepted as ${s.carrierId}`)).join(', ')}) ` +
        `and the handset holds ${copies.length} text(s).`,
    );
  }
}

/** The plan's cross-service latency target (seed: Success Metrics). */
const CROSS_SERVICE_LATENCY_MS = 500;

/** Same length as the real one (SMPP passwords are at most 8 characters), last character changed. */
function wrongPassword(real: string): string {
  return `${real.slice(0, -1)}${real.endsWith('x') ? 'y' : 'x'}`;
}

/** The inbox of a person who is on the mobile network (their only phone is a mobile). */
export function mobilePhoneInbox(world: Phase2World, name: string) {
  const person = world.person(name);
  if (person.kind !== 'mobile') throw new Error(`${name} has no mobile phone in this scenario.`);
  return world.mobileNetwork.handset(person.number).inbox;
}

/** Given {string} owns a local number for sending texts */
export async function giveLocalSendingNumber(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const number = localDid();
  const added = await customer.api.addNumber({ number, kind: 'local' });
  expect(added.customerId, `owner of ${number}`).to.equal(customer.id);
  customer.numbers.push({ number, kind: 'local' });
}

/** A mobile phone on the worker's mobile network double, forgotten when the scenario ends. */
export function giveMobilePhone(world: Phase2World, name: string, behaviour: HandsetBehaviour): void {
  world.people.set(name, { name, number: world.newHandset(behaviour), kind: 'mobile' });
}

/**
 * Given {person} has a mobile phone on a network congested for the next {int} seconds: every text
 * offered meanwhile is turned away (ESME_RTHROTTLED) however often the platform retries, so its
 * retries span whatever happens in those seconds (a database outage, a node crash).
 */
export function giveMobilePhoneOnANetworkCongestedFor(
  world: Phase2World,
  name: string,
  seconds: number,
): void {
  world.people.set(name, {
    name,
    number: world.newHandset('throttled', { throttledForMs: seconds * 1000 }),
    kind: 'mobile',
  });
}

/** Given {person} has a mobile phone on a network that acknowledges texts later than the platform waits */
export async function giveMobilePhoneOnALateNetwork(world: Phase2World, name: string) {
  const { smsc } = await world.platformSettings();
  if (!smsc)
    throw new Error(
      "The target's GET /ops/v1/settings reports no smsc timers (responseTimeoutMs, lateResponseGraceMs): " +
        "a network that answers late must answer after the platform's wait and within its grace.",
    );
  // Later than the platform waits for the answer, well inside the grace it gives a late one.
  const responseDelayMs = smsc.responseTimeoutMs + Math.min(500, Math.floor(smsc.lateResponseGraceMs / 2));
  world.people.set(name, {
    name,
    number: world.newHandset('slow-response', { responseDelayMs }),
    kind: 'mobile',
  });
}

/** Then the platform had to offer it to the mobile network {int} times */
export async function thePlatformHadToOfferItToThe(world: Phase2World, times: number) {
  const message = world.currentMessage();
  // Counted once the platform is done with it: a resubmission after acceptance would show here.
  await finalStatusOf(world, message);
  const submits = world.mobileNetwork.submits.filter((s) => s.to === message.to);
  expect(
    submits.map((s) => (s.carrierId === null ? 'turned away' : 'accepted')),
    `submits of the text to the mobile network (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([...new Array<string>(times - 1).fill('turned away'), 'accepted']);
}

/** Then the API shows the message as sent, not yet delivered, once the text is on {person}'s phone */
export async function expectSentNotYetDeliveredOnceOnPhone(world: Phase2World, name: string) {
  const message = world.currentMessage();
  await mobilePhoneInbox(world, name).waitFor(
    () => true,
    bound(world, `the text on ${name}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
  );
  // The network has not reported yet: "delivered" now would be invented by the platform.
  const stored = await world.customer(message.customer).api.getMessage(message.id);
  expect(stored.status, 'status while the network has not reported').to.equal('sent');
}

/** Then {person}'s phone receives exactly that text from {string}'s number */
export async function expectExactlyThatTextFromTheNumber(
  world: Phase2World,
  name: string,
  customerName: string,
) {
  const message = world.currentMessage();
  const late = world.mobileNetwork.timingOf(message.to);
  const received = await mobilePhoneInbox(world, name).waitFor(
    () => true,
    bound(world, `a text on ${name}'s phone (${message.to})`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
      extraMs: (late.responseDelayMs ?? 0) + (late.deliverAfterMs ?? 0),
    }),
  );
  expect(received.text, `text on ${name}'s phone`).to.equal(message.text);
  expect(received.from, `sender shown on ${name}'s phone`).to.equal(customerNumber(world, customerName));
  // Counted once the platform is done with the message: a second copy would be there by then.
  const final = await finalStatusOf(world, message);
  expect(
    mobilePhoneInbox(world, name)
      .all()
      .map((sms) => sms.text),
    `texts on ${name}'s phone once the message was ${final.status}: exactly one copy`,
  ).to.deep.equal([message.text]);
  // A network that answers at once is the only one whose timing measures the platform.
  if (world.mobileNetwork.behaviourOf(message.to) === 'deliver')
    recordMetric(world, {
      kind: 'latency',
      name: 'API request → handset',
      ms: received.receivedAt - message.acceptedAt,
    });
}

/** Then it reached the handset within {int} ms of the API accepting it */
export async function expectHandsetReachedWithin(world: Phase2World, boundMs: number) {
  expect(boundMs, "the bound in the feature is the plan's cross-service target").to.be.at.most(
    CROSS_SERVICE_LATENCY_MS,
  );
  const message = world.currentMessage();
  const person = [...world.people.values()].find((p) => p.number === message.to);
  if (!person) throw new Error(`Nobody in the scenario has ${message.to}.`);
  const [received] = mobilePhoneInbox(world, person.name).all();
  expect(received, `the text on ${person.name}'s phone`).to.not.equal(undefined);
  const latencyMs = received.receivedAt - message.acceptedAt;
  attachJson(world, 'Cross-service latency', { messageId: message.id, apiToHandsetMs: latencyMs, boundMs });
  recordMetric(world, { kind: 'latency', name: 'API request → handset', ms: latencyMs });
  expect(latencyMs, `time from the API request to ${person.name}'s handset`).to.be.below(boundMs);
  // Both times are the suite's own: a copy dated before the request is a mix-up, not speed.
  expect(
    received.receivedAt,
    `time ${person.name}'s handset got the text vs the time the API request was sent`,
  ).to.be.at.least(message.acceptedAt);
}

/** A message's final report at a customer's webhook (whatever follows `message.sent`), once it arrives. */
export function finalReportAt(
  world: Phase2World,
  customerName: string,
  message: MessageUnderTest,
): Promise<ReceivedWebhook> {
  const webhook = world.customer(customerName).webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  return world.env.webhooks.waitForEvent(
    webhook.path,
    (e) =>
      e.type.startsWith('message.') &&
      e.type !== 'message.sent' &&
      (e.data as { id?: string }).id === message.id,
    bound(world, `the final delivery report for message ${message.id} at "${customerName}"'s webhook`, {
      lookAt: [EVIDENCE.WEBHOOK, EVIDENCE.SMPP],
    }),
  );
}

/** The receipt the mobile network sent for a message's text; it is an error when it sent none. */
export function networkReceiptFor(world: Phase2World, message: MessageUnderTest): CarrierReceipt {
  const receipt = world.mobileNetwork.receipts
    .all()
    .find((r) => r.to === message.to && r.text === message.text);
  if (!receipt)
    throw new Error(`The network sent no receipt for the text to ${message.to} (see "${EVIDENCE.SMPP}").`);
  return receipt;
}

/** Then {string}'s webhook receives a signed delivery report saying the message was {messageOutcome} */
export async function expectSignedDeliveryReport(world: Phase2World, customerName: string, outcome: string) {
  const message = world.currentMessage();
  const event = await finalReportAt(world, customerName, message);
  // Only requests whose signature verified reach `events`; a forged one would be in `rejected`.
  expect(event.type, `type of the delivery report for ${message.id}`).to.equal(`message.${outcome}`);
  expect(event.data, 'message in the delivery report').to.deep.include({
    id: message.id,
    status: outcome,
    to: message.to,
  });
  const rejected = world.env.webhooks.rejected.filter((r) => r.path === event.path);
  expect(
    rejected,
    `webhook requests whose signature did not verify (see "${EVIDENCE.WEBHOOK}")`,
  ).to.deep.equal([]);
}

/** Then the API shows the message as {messageOutcome} */
export async function expectMessageStatus(world: Phase2World, outcome: string) {
  const message = world.currentMessage();
  const stored = await world.customer(message.customer).api.getMessage(message.id);
  expect(stored, `message ${message.id} as the API shows it`).to.deep.include({
    id: message.id,
    from: message.from,
    to: message.to,
    text: message.text,
    status: outcome,
  });
  expect(stored.doneAt, 'time the message reached its final state').to.be.a('string');
  if (outcome === 'undeliverable') {
    // The reason is the network's own: the error code it sent in its receipt for this text.
    const receipt = networkReceiptFor(world, message);
    expect(stored.errorCode, `error code of ${message.id} vs the network's receipt`).to.equal(receipt.err);
  }
  // By now the carrier has reported on it, so a duplicate submit would have reached the handset.
  const recipient = [...world.people.values()].find((p) => p.number === message.to);
  if (outcome === 'delivered' && recipient?.kind === 'mobile') {
    expect(
      mobilePhoneInbox(world, recipient.name)
        .all()
        .map((sms) => sms.text),
      `texts on ${recipient.name}'s phone once the message was reported delivered: exactly one copy`,
    ).to.deep.equal([message.text]);
  }
}

/** When someone asks to send a text without an API key */
export async function sendWithoutAnApiKey(world: Phase2World) {
  world.refusals.lastResponse = await world.operator.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: localDid(), to: mobileNumber(world.env.mobilePrefix), text: 'no key' },
    apiKey: null,
    refusal: { what: 'a request without an API key', by: 'the gateway' },
  });
}

/** Then the request is refused because it carries no API key */
export function expectRefusedForMissingApiKey(world: Phase2World) {
  // Kong key-auth's answer, exactly (FACTS §5).
  const text = 'No API key found in request';
  const response = world.refusals.lastResponse;
  expect(response?.status, 'HTTP status for a request without an API key').to.equal(401);
  expect(response?.body, 'gateway error body').to.deep.equal({ message: text });
  expect(response?.headers['www-authenticate'], 'WWW-Authenticate challenge').to.equal('Key realm="kong"');
}

/** When {string} sends {person} a message request whose body is not valid JSON */
export async function sendInvalidJson(world: Phase2World, customerName: string, name: string) {
  // Everything a send needs, but truncated: a lenient parser that salvaged it would send a text.
  const fields = {
    from: customerNumber(world, customerName),
    to: world.person(name).number,
    text: 'half a request',
  };
  world.refusals.lastResponse = await world.customer(customerName).api.raw({
    method: 'POST',
    path: '/v1/messages',
    body: JSON.stringify(fields).slice(0, -1),
    headers: { 'content-type': 'application/json' },
    refusal: { what: 'a message request whose body is not valid JSON', by: 'the platform' },
  });
}

/** Then the request is refused as malformed, with an explanation */
export function expectRefusedAsMalformed(world: Phase2World) {
  const response = world.refusals.lastResponse;
  expect(response?.status, 'HTTP status for an unparseable body').to.equal(400);
  expect(String(response?.headers['content-type']), 'error media type').to.match(
    /^application\/problem\+json/,
  );
  expect(response?.body, 'problem description').to.include({ status: 400 });
  expect((response?.body as { title?: string }).title, 'problem title')
    .to.be.a('string')
    .and.have.length.above(0);
}

/** Then {person}'s phone receives no text from {string} */
export async function expectNoTextFrom(world: Phase2World, name: string, customerName: string) {
  // Absence is proven by a later text: once it has arrived, anything sent before it would have too.
  const control = `control ${Date.now()}`;
  const from = customerNumber(world, customerName);
  await world.customer(customerName).api.sendMessage({ from, to: world.person(name).number, text: control });
  await mobilePhoneInbox(world, name).waitFor(
    (sms) => sms.text === control,
    bound(world, `the control text on ${name}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
  );
  expect(
    mobilePhoneInbox(world, name)
      .all()
      .map((sms) => sms.text),
    `texts on ${name}'s phone: only the control text sent afterwards`,
  ).to.deep.equal([control]);
}

/** When {string} opens an SMS connection with a wrong password */
export async function bindWithAWrongPassword(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const session = new SmppCustomerSession();
  await session.connect({ ...world.env.endpoints.smpp, actor: `${customerName} SMPP client` });
  world.onCleanup(() => session.close());
  world.messaging.smpp = session;
  world.refusals.bind = await session
    .bind({
      systemId: customer.smpp.systemId,
      password: wrongPassword(customer.smpp.password),
      mode: 'transceiver',
    })
    .then(
      () => undefined,
      (error: Error & { statusName?: string }) => error,
    );
}

/** Then the SMS connection is refused because the password is wrong */
export function expectBindRefusedForThePassword(world: Phase2World) {
  const statusName = 'ESME_RINVPASWD';
  expect(
    world.refusals.bind,
    'a bind with a wrong password must be refused, but it succeeded',
  ).to.be.instanceOf(Error);
  expect(
    world.refusals.bind?.statusName,
    `SMPP status of the refused bind (see "${EVIDENCE.SMPP}")`,
  ).to.equal(statusName);
}
