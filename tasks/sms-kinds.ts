import { expect } from 'chai';
import type { MessagingNotes, Phase2World } from '../world/world';
import { connectCarrier } from '../world/smpp/connected-carrier';
import { frenchMobileRange, mobileNumber, shortCode } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber, finalStatusOf } from './messaging';
import { unreachableNetworkAt } from '../world/smpp/unreachable-network';
import { bound, eventually, PLATFORM_LOG, boundMs } from './waiting';

/** Given {string} owns a short code for sending texts */
export async function giveShortCode(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const number = shortCode();
  const added = await customer.api.addNumber({ number, kind: 'short-code' });
  expect(added.kind, `kind of ${number}`).to.equal('short-code');
  customer.numbers.push({ number, kind: 'short-code' });
}

/** The current message on the recipient's handset, once (it must be the only text there). */
export async function onHandset(world: Phase2World) {
  const message = world.currentMessage();
  // The French range goes to the French carrier double; everything else to the worker's own.
  const foreign = world.messaging.foreignCarrier;
  const network = foreign && message.to.startsWith(foreign.range) ? foreign.double : world.mobileNetwork;
  const box = network.handset(message.to).inbox;
  const received = await box.waitFor(
    () => true,
    bound(world, `the text to ${message.to} on the handset`, { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG] }),
  );
  // Counted once the platform is done with the message: a second copy would be there by then.
  const final = await finalStatusOf(world, message);
  expect(
    box.all().map((sms) => sms.text),
    `texts on ${message.to} once the message was ${final.status}: exactly one copy`,
  ).to.deep.equal([message.text]);
  return received;
}

/** Then {person}'s phone receives exactly that text from {string}'s short code */
export async function expectExactlyThatTextFromTheShortCode(
  world: Phase2World,
  name: string,
  customerName: string,
) {
  expect(world.person(name).number, 'whose phone').to.equal(world.currentMessage().to);
  const received = await onHandset(world);
  expect(received.text, `text on ${name}'s phone`).to.equal(world.currentMessage().text);
  expect(received.from, `sender shown on ${name}'s phone`).to.equal(
    customerNumber(world, customerName, 'short-code'),
  );
}

/** Then the text travelled as {int} part(s) in {alphabet}, put back together in order on the handset */
export async function expectTravelledInParts(world: Phase2World, parts: number, encoding: string) {
  const message = world.currentMessage();
  const received = await onHandset(world);
  expect(received.text, 'the text as the handset put it together').to.equal(message.text);
  expect([received.parts, received.encoding], 'parts and alphabet the handset received').to.deep.equal([
    parts,
    encoding,
  ]);
  const stored = await world.customer(message.customer).api.getMessage(message.id);
  expect([stored.parts, stored.encoding], 'parts and alphabet the API reports').to.deep.equal([
    parts,
    encoding,
  ]);
}

/** Given the platform sends texts to French mobiles over a connector of their own */
export async function connectFrenchCarrier(world: Phase2World) {
  const range = frenchMobileRange();
  const { double, connectorId, credentials } = await connectCarrier(
    world.operator,
    { label: 'fr', prefix: range, suiteHost: world.env.config.suiteHost, bindWithinMs: boundMs(world) },
    (undo) => world.onCleanup(undo),
  );
  world.messaging.foreignCarrier = { double, range, connectorId, credentials, port: double.address().port };
}

/** Given {person} has a French mobile phone */
export function giveAFrenchMobile(world: Phase2World, name: string) {
  const carrier = world.messaging.foreignCarrier;
  if (!carrier) throw new Error('No French connector in this scenario: a Given step must configure it.');
  const number = mobileNumber(carrier.range);
  carrier.double.behaviourFor(number, 'deliver');
  world.people.set(name, { name, number, kind: 'mobile' });
}

/** Then {person} received it through the French carrier, and the home carrier never saw it */
export async function expectReceivedThroughTheFrenchCarrierOnly(world: Phase2World, name: string) {
  const message = world.currentMessage();
  const carrier = world.messaging.foreignCarrier;
  if (!carrier) throw new Error('No French connector in this scenario.');
  expect(world.person(name).number, 'whose phone').to.equal(message.to);
  const received = await onHandset(world);
  expect(received.text, `text on ${name}'s phone`).to.equal(message.text);
  expect(
    carrier.double.submits.filter((s) => s.to === message.to).length,
    'submits of the text at the French carrier',
  ).to.equal(1);
  expect(
    world.mobileNetwork.submits.filter((s) => s.to === message.to),
    `submits of the text at the home carrier (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
}

type ForeignCarrier = NonNullable<MessagingNotes['foreignCarrier']>;

function foreignCarrierOf(world: Phase2World): ForeignCarrier {
  if (!world.messaging.foreignCarrier)
    throw new Error('No French connector in this scenario: a Given step must configure it.');
  return world.messaging.foreignCarrier;
}

/** The connector's state as the operator sees it, once it is `state` (the platform noticed). */
async function connectorBecomes(world: Phase2World, state: 'bound' | 'down' | 'connecting', not = false) {
  const { connectorId } = foreignCarrierOf(world);
  return eventually(
    world,
    `connector ${connectorId} to be ${not ? 'anything but ' : ''}${state}`,
    () => world.operator.listConnectors(),
    (list) => {
      const found = list.items.find((c) => c.id === connectorId)?.state;
      return not ? found !== state : found === state;
    },
    { lookAt: [EVIDENCE.HTTP, PLATFORM_LOG] },
  );
}

/** Given the French mobile network is unreachable */
export async function takeFrenchNetworkDown(world: Phase2World) {
  const carrier = foreignCarrierOf(world);
  await carrier.double.stop();
  carrier.outage = await unreachableNetworkAt(carrier.port);
  world.onCleanup(() => carrier.outage?.close() ?? Promise.resolve());
  await connectorBecomes(world, 'bound', true);
}

/** When the French mobile network is back */
export async function bringFrenchNetworkBack(world: Phase2World) {
  const carrier = foreignCarrierOf(world);
  await carrier.outage?.close();
  carrier.outage = undefined;
  const platformBinds = carrier.double.waitForBind(boundMs(world));
  await carrier.double.start(carrier.credentials, { port: carrier.port });
  await platformBinds;
  await connectorBecomes(world, 'bound');
}

/** Then the API shows the message as accepted and waiting while the network is unreachable */
export async function expectAcceptedAndWaiting(world: Phase2World) {
  const message = world.currentMessage();
  const foreign = foreignCarrierOf(world);
  const outage = foreign.outage;
  if (!outage)
    throw new Error('The French network is not down in this scenario: a Given step must take it down.');
  // Held over the outage, not read once: two attempts to reach the network after the text was
  // accepted are the later events that show the platform kept it and kept trying.
  const sentAt = message.respondedAt ?? message.acceptedAt;
  for (const nth of [1, 2]) {
    const since = outage.attempts.filter((at) => at >= sentAt).length;
    if (since >= nth) continue;
    await outage.attempts.waitFor(
      (at) => at >= sentAt && outage.attempts.filter((a) => a >= sentAt).length >= nth,
      bound(
        world,
        `attempt ${nth} of the platform to reach the unreachable French network after the text was accepted`,
        {
          lookAt: [EVIDENCE.HTTP, PLATFORM_LOG],
        },
      ),
    );
  }
  const stored = await world.customer(message.customer).api.getMessage(message.id);
  expect(
    stored.status,
    `status of a text the network cannot take yet, after ${outage.attempts.all().length} attempts to reach it`,
  ).to.equal('queued');
  expect(foreign.double.handset(message.to).inbox.all(), 'texts on the handset so far').to.deep.equal([]);
  expect(
    world.mobileNetwork.submits.filter((s) => s.to === message.to),
    `submits of the text at the home carrier while the French network is down (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
}

/** When {string} sends {person} a picture message through the API */
export async function sendPictureMessage(world: Phase2World, customerName: string, name: string) {
  world.refusals.lastResponse = await world.customer(customerName).api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: {
      from: customerNumber(world, customerName, 'local'),
      to: world.person(name).number,
      text: 'Your parcel, photographed at the door',
      mediaUrl: 'https://media.parcelly.example/proof-of-delivery.jpg',
    },
    refusal: { what: 'a picture message, which it does not support,', by: 'the platform' },
  });
}

/** Then the request is refused because picture messages are not supported */
export function expectPictureMessageRefused(world: Phase2World) {
  const response = world.refusals.lastResponse;
  expect(response?.status, `HTTP status of a picture message (see "${EVIDENCE.HTTP}")`).to.equal(422);
  const errors = (response?.body as { errors?: Array<{ field: string; message: string }> }).errors ?? [];
  expect(
    errors.map((e) => e.field),
    'fields the refusal names',
  ).to.deep.equal(['mediaUrl']);
  expect(errors[0]?.message, 'the explanation').to.match(/not supported/i);
}
