import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmppCommandError, SmppCustomerSession } from '../../world/smpp/smpp-session';
import { ACCOUNT, CARRIER, CUSTOMER, eventually, messageRow, startHarness, statusOf } from './harness';

test('a message accepted while the carrier is down survives an SMSC restart and is delivered when the carrier returns', async () => {
  const h = await startHarness();
  try {
    const { port } = h.carrier.address();
    await h.carrier.stop();
    await eventually(
      () => h.smsc.connectors()[0].state !== 'bound',
      'the connector to notice the carrier is gone',
    );

    const to = '+447700900777';
    const accepted = h.smsc.acceptMessage({
      customerId: CUSTOMER,
      source: 'api',
      sender: 'ACME',
      recipient: to,
      text: 'survives restarts',
      registeredDelivery: false,
    });
    await eventually(
      () => h.log.some((line) => line.includes(accepted.id) && line.includes('queued until it binds')),
      'the SMSC to park the message',
    );
    assert.equal(messageRow(h.db, accepted.id).status, 'queued');

    await h.restartSmsc();
    assert.equal(messageRow(h.db, accepted.id).status, 'queued');
    assert.equal(h.smsc.connectors()[0].id, 'carrier-1', 'the connector is loaded from the store');

    await h.carrier.start(CARRIER, { port });
    const sms = await h.carrier
      .handset(to)
      .inbox.waitFor(() => true, { awaited: 'the parked SMS', timeoutMs: 3_000 });
    assert.equal(sms.text, 'survives restarts');
    await statusOf(h, accepted.id, 'delivered');
    assert.equal(h.carrier.handset(to).inbox.all().length, 1, 'delivered exactly once');
  } finally {
    await h.close();
  }
});

test('a connector that is refused (wrong password) stays down with the reason and binds once fixed', async () => {
  const h = await startHarness({ bindCarrier: false });
  try {
    const port = h.carrier.address().port;
    h.smsc.upsertConnector({
      id: 'carrier-x',
      host: '127.0.0.1',
      port,
      systemId: CARRIER.systemId,
      password: 'wrong',
    });
    await eventually(
      () => (h.smsc.connectors()[0].lastError ?? '').includes('ESME_RINVPASWD'),
      'the connector to report the refused bind',
    );
    assert.notEqual(h.smsc.connectors()[0].state, 'bound');
    const bound = h.carrier.waitForBind(2_000);
    h.smsc.upsertConnector({ id: 'carrier-x', host: '127.0.0.1', port, ...CARRIER });
    await bound;
    await eventually(() => h.smsc.connectors()[0].state === 'bound', 'the fixed connector to bind');
    assert.equal(h.smsc.connectors().length, 1);
  } finally {
    await h.close();
  }
});

test('an account over its throughput gets ESME_RTHROTTLED', async () => {
  const h = await startHarness({ throughputPerSecond: 2 });
  const session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  try {
    await session.connect({ ...h.smsc.endpoints, actor: 'acme ESME' });
    await session.bind({ ...ACCOUNT, mode: 'transceiver' });
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) =>
        session.submit({
          source: 'ACME',
          destination: `+44770090080${i}`,
          text: `burst ${i}`,
          registeredDelivery: false,
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
    const refused = (results[2] as PromiseRejectedResult).reason;
    assert.ok(refused instanceof SmppCommandError);
    assert.equal(refused.statusName, 'ESME_RTHROTTLED');
  } finally {
    await session.close();
    await h.close();
  }
});
