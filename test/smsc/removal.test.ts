import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traffic } from '../../world/traffic-log';
import {
  CARRIER,
  CUSTOMER,
  eventually,
  messageRow,
  startHarness,
  statusOf,
  type SmscHarness,
} from './harness';

function routes(h: SmscHarness): Array<{ prefix: string; connector_id: string }> {
  return h.db.prepare('SELECT prefix, connector_id FROM sms_routes ORDER BY prefix').all() as Array<{
    prefix: string;
    connector_id: string;
  }>;
}

/** Stops the carrier double and waits until the connector has noticed, so new messages park. */
async function carrierDown(h: SmscHarness): Promise<void> {
  await h.carrier.stop();
  await eventually(
    () => h.smsc.connectors().every((c) => c.state !== 'bound'),
    'the connector to notice the carrier is gone',
  );
}

function acceptParked(h: SmscHarness, to: string, text: string): Promise<string> {
  const accepted = h.smsc.acceptMessage({
    customerId: CUSTOMER,
    source: 'api',
    sender: 'ACME',
    recipient: to,
    text,
    registeredDelivery: false,
  });
  return eventually(
    () => h.log.some((line) => line.includes(accepted.id) && line.includes('queued until it binds')),
    'the SMSC to park the message',
  ).then(() => accepted.id);
}

test('removing a connector unbinds it, closes its session and removes its routes; an unknown id is false', async () => {
  const h = await startHarness();
  try {
    h.smsc.setRoute('+4477', 'carrier-1');
    assert.equal(h.carrier.boundSessions(), 1);
    const mark = traffic.mark();

    assert.equal(await h.smsc.removeConnector('carrier-1'), true);

    const received = traffic
      .since(mark, 'SMPP')
      .filter((e) => e.to === 'carrier SMSC')
      .map((e) => e.summary.split(' ')[0]);
    assert.ok(received.includes('unbind'), `the carrier should see an unbind; it saw ${received.join(', ')}`);
    assert.equal(h.carrier.boundSessions(), 0, 'the bind is closed once removeConnector resolves');
    assert.deepEqual(h.smsc.connectors(), []);
    assert.deepEqual(routes(h), [], 'routes to the removed connector go with it');
    assert.equal(await h.smsc.removeConnector('carrier-1'), false);
    assert.equal(h.smsc.removeRoute('+4477'), false);
  } finally {
    await h.close();
  }
});

test('a message queued for a removed connector stays queued across a restart and is delivered once a new route and connector appear', async () => {
  const h = await startHarness();
  try {
    await carrierDown(h);
    const to = '+447700900901';
    const id = await acceptParked(h, to, 'outlives its connector');

    assert.equal(await h.smsc.removeConnector('carrier-1'), true);
    // The removal re-schedules queued messages: this one finds no route and must park, not fail.
    await eventually(
      () => h.log.some((line) => line.includes(id) && line.includes('no route to')),
      'the SMSC to re-examine the message after the removal',
    );
    assert.equal(messageRow(h.db, id).status, 'queued');
    await h.restartSmsc();
    assert.equal(messageRow(h.db, id).status, 'queued', 'a restart without a route must not fail it');

    // A message accepted while there is no route at all still fails at once.
    const unrouted = h.smsc.acceptMessage({
      customerId: CUSTOMER,
      source: 'api',
      sender: 'ACME',
      recipient: '+447700900902',
      text: 'no route',
      registeredDelivery: false,
    });
    await statusOf(h, unrouted.id, 'failed');
    assert.equal(messageRow(h.db, unrouted.id).error_code, 'NO_ROUTE');
    assert.equal(messageRow(h.db, id).status, 'queued');

    await h.carrier.start(CARRIER);
    h.smsc.upsertConnector({
      id: 'carrier-2',
      host: '127.0.0.1',
      port: h.carrier.address().port,
      ...CARRIER,
    });
    h.smsc.setRoute('+44', 'carrier-2');
    const sms = await h.carrier
      .handset(to)
      .inbox.waitFor(() => true, { awaited: 'the SMS that outlived its connector', timeoutMs: 3_000 });
    assert.equal(sms.text, 'outlives its connector');
    await statusOf(h, id, 'delivered');
    assert.equal(messageRow(h.db, id).connector_id, 'carrier-2');
  } finally {
    await h.close();
  }
});

test('a message whose route was removed stays queued and goes out when a route is set again', async () => {
  const h = await startHarness();
  try {
    const { port } = h.carrier.address();
    await carrierDown(h);
    const to = '+447700900903';
    const id = await acceptParked(h, to, 'outlives its route');

    assert.equal(h.smsc.removeRoute(''), true);
    assert.equal(h.smsc.removeRoute(''), false);
    await eventually(
      () => h.log.some((line) => line.includes(id) && line.includes('no route to')),
      'the SMSC to re-examine the message after the route was removed',
    );
    assert.equal(messageRow(h.db, id).status, 'queued');

    const noRoute = (): number =>
      h.log.filter((line) => line.includes(id) && line.includes('no route to')).length;
    const before = noRoute();
    await h.carrier.start(CARRIER, { port });
    // The bind re-schedules queued messages: still no route, so it parks again.
    await eventually(() => noRoute() > before, 'the SMSC to re-examine the message after the bind');
    assert.equal(messageRow(h.db, id).status, 'queued', 'bound, but still without a route');
    h.smsc.setRoute('+4477', 'carrier-1');
    const sms = await h.carrier
      .handset(to)
      .inbox.waitFor(() => true, { awaited: 'the SMS that outlived its route', timeoutMs: 3_000 });
    assert.equal(sms.text, 'outlives its route');
    await statusOf(h, id, 'delivered');
  } finally {
    await h.close();
  }
});
