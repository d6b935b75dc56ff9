import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { traffic } from '../../world/traffic-log';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { udhConcat } from '../../world/smpp/sms-codec';
import { SmppCustomerSession } from '../../world/smpp/smpp-session';

const CREDENTIALS = { systemId: 'platform', password: 'pw123' };
const carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000 });
let session: SmppCustomerSession;

before(async () => {
  await carrier.start(CREDENTIALS);
  session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  await session.connect({ ...carrier.address(), actor: 'test ESME' });
  await session.bind({ ...CREDENTIALS, mode: 'transceiver' });
});
after(async () => {
  await session.close();
  await carrier.stop();
});

/** A submit_sm with exactly these bytes (no library re-encoding), to an international number. */
function rawSubmit(to: string, dataCoding: number, shortMessage: Buffer, esmClass = 0) {
  return session.request('submit_sm', {
    source_addr_ton: 5,
    source_addr_npi: 0,
    source_addr: 'TEST',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: to.slice(1),
    esm_class: esmClass,
    registered_delivery: 0,
    data_coding: dataCoding,
    short_message: shortMessage,
  });
}

test('every violation is also in the traffic log, from and to the carrier SMSC, marked VIOLATION:', async () => {
  const mark = traffic.mark();
  const before = carrier.violations.all().length;
  const response = await rawSubmit('+447700900501', 3, Buffer.from('Latin-1 é', 'latin1'));
  assert.notEqual(response.command_status, 0, 'the carrier refuses text in an alphabet it does not use');

  const added = carrier.violations.all().slice(before);
  assert.equal(added.length, 1, JSON.stringify(added));
  const recorded = traffic.since(mark, 'SMPP').filter((e) => e.summary.startsWith('VIOLATION:'));
  assert.deepEqual(
    recorded.map((e) => ({ from: e.from, to: e.to, summary: e.summary })),
    [{ from: 'carrier SMSC', to: 'carrier SMSC', summary: `VIOLATION: ${added[0]}` }],
  );
  assert.match(added[0], /data_coding 3/);
});

test('forget(number) drops the handset, its behaviour and a half-received message to it', async () => {
  const number = '+447700900502';
  const accepted = async (shortMessage: Buffer, esmClass = 0): Promise<void> => {
    const response = await rawSubmit(number, 0, shortMessage, esmClass);
    assert.equal(response.command_status, 0, `submit_sm to ${number} should be accepted`);
  };
  await accepted(Buffer.from('first'));
  const remembered = carrier.handset(number);
  assert.equal(remembered.inbox.all().length, 1);
  // Part 1 of 2 of a concatenated message: the double holds it until part 2 arrives.
  await accepted(Buffer.concat([udhConcat(9, 2, 1), Buffer.from('half ')]), 0x40);
  carrier.behaviourFor(number, 'reject');

  carrier.forget(number);

  const fresh = carrier.handset(number);
  assert.notEqual(fresh, remembered, 'a forgotten handset comes back as a new one');
  assert.deepEqual(fresh.inbox.all(), [], 'its inbox is gone');
  // Accepted: the reject behaviour is gone. Part 2 alone: the forgotten part 1 must not complete it.
  await accepted(Buffer.concat([udhConcat(9, 2, 2), Buffer.from('done')]), 0x40);
  assert.deepEqual(fresh.inbox.all(), [], 'the half-received message was forgotten');
  await accepted(Buffer.from('again'));
  assert.deepEqual(
    fresh.inbox.all().map((sms) => sms.text),
    ['again'],
  );
});
