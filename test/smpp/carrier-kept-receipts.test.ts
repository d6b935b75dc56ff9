import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { SmppCustomerSession } from '../../world/smpp/smpp-session';

const CREDENTIALS = { systemId: 'platform', password: 'pw123' };
const sessions: SmppCustomerSession[] = [];
const carriers: CarrierSmscDouble[] = [];

after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(carriers.map((c) => c.stop()));
});

async function carrier(): Promise<CarrierSmscDouble> {
  const double = new CarrierSmscDouble({ responseTimeoutMs: 1_000, slowReceiptMs: 100 });
  carriers.push(double);
  await double.start(CREDENTIALS);
  return double;
}

async function bound(
  double: CarrierSmscDouble,
  mode: 'transmitter' | 'receiver' | 'transceiver',
): Promise<SmppCustomerSession> {
  const s = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  sessions.push(s);
  await s.connect({ ...double.address(), actor: 'test ESME' });
  await s.bind({ ...CREDENTIALS, mode });
  return s;
}

test('a receipt due while the client is gone is kept and delivered when it binds a receiver again', async () => {
  const network = await carrier();
  network.behaviourFor('+447700900040', 'slow-dlr');
  const first = await bound(network, 'transceiver');
  const { messageId } = await first.submit({
    source: 'TEST',
    destination: '+447700900040',
    text: 'kept for you',
    registeredDelivery: true,
  });
  await first.close(); // the client's node dies before the receipt is due
  await network.receipts.waitFor((r) => r.carrierId === messageId, {
    awaited: 'the network to issue the receipt',
    timeoutMs: 2_000,
  });
  assert.equal(network.receiptsWaiting(), 1);
  const transmitter = await bound(network, 'transmitter');
  assert.equal(network.receiptsWaiting(), 1, 'a transmitter cannot take receipts');
  const second = await bound(network, 'transceiver');
  const receipt = await second.deliveries.waitFor((d) => d.receiptedMessageId === messageId, {
    awaited: 'the kept receipt on the new session',
    timeoutMs: 2_000,
  });
  assert.equal(receipt.stat, 'DELIVRD');
  assert.equal(network.receiptsWaiting(), 0);
  assert.equal(transmitter.deliveries.all().length, 0);
  assert.deepEqual(network.violations.all(), []);
});

test('forgetting a handset drops the receipts kept for it', async () => {
  const network = await carrier();
  network.behaviourFor('+447700900041', 'slow-dlr');
  const s = await bound(network, 'transceiver');
  const { messageId } = await s.submit({
    source: 'TEST',
    destination: '+447700900041',
    text: 'nobody waits',
    registeredDelivery: true,
  });
  await s.close();
  await network.receipts.waitFor((r) => r.carrierId === messageId, {
    awaited: 'the network to issue the receipt',
    timeoutMs: 2_000,
  });
  assert.equal(network.receiptsWaiting(), 1);
  network.forget('+447700900041');
  assert.equal(network.receiptsWaiting(), 0);
});
