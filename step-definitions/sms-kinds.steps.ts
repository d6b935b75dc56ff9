import { Given, Then, When } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import { CarrierSmscDouble } from '../world/smpp/carrier-smsc';
import { frenchMobileRange, gsmText, mobileNumber, shortCode } from '../world/factories';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber, sendText } from '../tasks/messages';
import { eventually } from '../tasks/waiting';
import { randomBytes } from 'node:crypto';

/**
 * The plan's message kinds through the API: unicode, long (concatenated), from a short code,
 * abroad over the connector configured for that country, and MMS where it is not supported.
 */

When(
  '{string} texts {person} a long text of {int} characters through the API',
  async function (this: Phase2World, customerName: string, name: string, length: number) {
    await sendText(this, customerName, customerNumber(this, customerName, 'local'), name, gsmText(length));
  },
);

Given(
  '{string} owns a short code for sending texts',
  async function (this: Phase2World, customerName: string) {
    const customer = this.customer(customerName);
    const number = shortCode();
    const added = await customer.api.addNumber({ number, kind: 'short-code' });
    expect(added.kind, `kind of ${number}`).to.equal('short-code');
    customer.numbers.push({ number, kind: 'short-code' });
  },
);

When(
  '{string} texts {person} {string} from their short code through the API',
  async function (this: Phase2World, customerName: string, name: string, text: string) {
    await sendText(this, customerName, customerNumber(this, customerName, 'short-code'), name, text);
  },
);

/** The current message on the recipient's handset, once (it must be the only text there). */
async function onHandset(world: Phase2World) {
  const message = world.currentMessage();
  // The French range goes to the French carrier double; everything else to the worker's own.
  const foreign = world.foreignCarrier;
  const network = foreign && message.to.startsWith(foreign.range) ? foreign.double : world.env.carrier;
  const box = network.handset(message.to).inbox;
  const received = await box.waitFor(() => true, {
    awaited: `the text to ${message.to} on the handset`,
    timeoutMs: world.env.config.waitMs,
    lookAt: `the "${EVIDENCE.SMPP}" attachment and ${world.env.platformLog}`,
  });
  expect(box.all(), `texts on ${message.to}`).to.have.length(1);
  return received;
}

Then(
  "{person}'s phone receives exactly that text from {string}'s short code",
  async function (this: Phase2World, name: string, customerName: string) {
    expect(this.person(name).number, 'whose phone').to.equal(this.currentMessage().to);
    const received = await onHandset(this);
    expect(received.text, `text on ${name}'s phone`).to.equal(this.currentMessage().text);
    expect(received.from, `sender shown on ${name}'s phone`).to.equal(
      customerNumber(this, customerName, 'short-code'),
    );
  },
);

Then(
  'the text travelled as {int} part(s) in {alphabet}, put back together in order on the handset',
  async function (this: Phase2World, parts: number, encoding: string) {
    const message = this.currentMessage();
    const received = await onHandset(this);
    expect(received.text, 'the text as the handset put it together').to.equal(message.text);
    expect([received.parts, received.encoding], 'parts and alphabet the handset received').to.deep.equal([
      parts,
      encoding,
    ]);
    const stored = await this.customer(message.customer).api.getMessage(message.id);
    expect([stored.parts, stored.encoding], 'parts and alphabet the API reports').to.deep.equal([
      parts,
      encoding,
    ]);
  },
);

// ---- abroad ---------------------------------------------------------------------------------

Given(
  'the platform sends texts to French mobiles over a connector of their own',
  async function (this: Phase2World) {
    const credentials = {
      systemId: `fr${randomBytes(3).toString('hex')}`,
      password: randomBytes(4).toString('hex'),
    };
    const double = new CarrierSmscDouble();
    await double.start(credentials);
    this.onCleanup(() => double.stop());
    const range = frenchMobileRange();
    const connectorId = `carrier-fr-${randomBytes(4).toString('hex')}`;
    const { operator, config } = this.env;
    const bound = double.waitForBind(config.waitMs);
    await operator.putConnector(connectorId, {
      host: config.suiteHost,
      port: double.address().port,
      ...credentials,
    });
    this.onCleanup(() => operator.deleteConnector(connectorId));
    await operator.putRoute({ prefix: range, connectorId });
    this.onCleanup(() => operator.deleteRoute(range));
    await bound;
    this.foreignCarrier = { double, range, connectorId, credentials, port: double.address().port };
  },
);

Given('{person} has a French mobile phone', function (this: Phase2World, name: string) {
  const carrier = this.foreignCarrier;
  if (!carrier) throw new Error('No French connector in this scenario: a Given step must configure it.');
  const number = mobileNumber(carrier.range);
  carrier.double.behaviourFor(number, 'deliver');
  this.people.set(name, { name, number, kind: 'mobile' });
});

Then(
  '{person} received it through the French carrier, and the home carrier never saw it',
  async function (this: Phase2World, name: string) {
    const message = this.currentMessage();
    const carrier = this.foreignCarrier;
    if (!carrier) throw new Error('No French connector in this scenario.');
    expect(this.person(name).number, 'whose phone').to.equal(message.to);
    const received = await onHandset(this);
    expect(received.text, `text on ${name}'s phone`).to.equal(message.text);
    expect(
      carrier.double.submits.filter((s) => s.to === message.to).length,
      'submits of the text at the French carrier',
    ).to.equal(1);
    expect(
      this.env.carrier.submits.filter((s) => s.to === message.to),
      `submits of the text at the home carrier (see "${EVIDENCE.SMPP}")`,
    ).to.deep.equal([]);
  },
);

function foreignCarrierOf(world: Phase2World): NonNullable<Phase2World['foreignCarrier']> {
  if (!world.foreignCarrier)
    throw new Error('No French connector in this scenario: a Given step must configure it.');
  return world.foreignCarrier;
}

/** The connector's state as the operator sees it, once it is `state` (the platform noticed). */
async function connectorBecomes(world: Phase2World, state: 'bound' | 'down' | 'connecting', not = false) {
  const { connectorId } = foreignCarrierOf(world);
  return eventually(
    () => world.env.operator.listConnectors(),
    (list) => {
      const found = list.items.find((c) => c.id === connectorId)?.state;
      return not ? found !== state : found === state;
    },
    {
      awaited: `connector ${connectorId} to be ${not ? 'anything but ' : ''}${state}`,
      timeoutMs: world.env.config.waitMs,
      lookAt: `the "${EVIDENCE.HTTP}" attachment and ${world.env.platformLog}`,
    },
  );
}

Given('the French mobile network is unreachable', async function (this: Phase2World) {
  await foreignCarrierOf(this).double.stop();
  await connectorBecomes(this, 'bound', true);
});

When('the French mobile network is back', async function (this: Phase2World) {
  const carrier = foreignCarrierOf(this);
  const bound = carrier.double.waitForBind(this.env.config.waitMs);
  await carrier.double.start(carrier.credentials, { port: carrier.port });
  await bound;
  await connectorBecomes(this, 'bound');
});

Then(
  'the API shows the message as accepted and waiting while the network is unreachable',
  async function (this: Phase2World) {
    const message = this.currentMessage();
    const stored = await this.customer(message.customer).api.getMessage(message.id);
    expect(stored.status, 'status of a text the network cannot take yet').to.equal('queued');
    const foreign = foreignCarrierOf(this);
    expect(foreign.double.handset(message.to).inbox.all(), 'texts on the handset so far').to.deep.equal([]);
  },
);

// ---- MMS ------------------------------------------------------------------------------------

When(
  '{string} sends {person} a picture message through the API',
  async function (this: Phase2World, customerName: string, name: string) {
    this.lastResponse = await this.customer(customerName).api.raw({
      method: 'POST',
      path: '/v1/messages',
      json: {
        from: customerNumber(this, customerName, 'local'),
        to: this.person(name).number,
        text: 'Your parcel, photographed at the door',
        mediaUrl: 'https://media.parcelly.example/proof-of-delivery.jpg',
      },
    });
  },
);

Then('the request is refused because picture messages are not supported', function (this: Phase2World) {
  const response = this.lastResponse;
  expect(response?.status, `HTTP status of a picture message (see "${EVIDENCE.HTTP}")`).to.equal(422);
  const errors = (response?.body as { errors?: Array<{ field: string; message: string }> }).errors ?? [];
  expect(
    errors.map((e) => e.field),
    'fields the refusal names',
  ).to.deep.equal(['mediaUrl']);
  expect(errors[0]?.message, 'the explanation').to.match(/not supported/i);
});
