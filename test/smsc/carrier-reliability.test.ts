import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageStore } from '../../platform/smsc/message-store';
import { acceptApiMessage, CUSTOMER, messageRow, startHarness, statusOf } from './harness';

/** The SMSC towards its carriers: late submit_sm_resp, re-routes in the middle of a multi-part send. */

test('a submit_sm_resp arriving after the timeout is kept: no resubmission, one copy on the handset', async () => {
  // The carrier answers 800 ms late; the SMSC times out at 500 ms and still matches responses for 1.5 s.
  const h = await startHarness({
    slowResponseMs: 800,
    configure: (config) => {
      config.smsc.lateResponseGraceMs = 1_500;
    },
  });
  try {
    const to = '+447700900960';
    h.carrier.behaviourFor(to, 'slow-response');
    const accepted = acceptApiMessage(h, {
      sender: 'ACME',
      recipient: to,
      text: 'exactly once',
      registeredDelivery: true,
    });
    await statusOf(h, accepted.id, 'delivered', 4_000);
    const submits = h.carrier.submits.filter((s) => s.to === to);
    assert.equal(submits.length, 1, `submitted once, saw ${submits.length}`);
    assert.equal(h.carrier.handset(to).inbox.all().length, 1, 'one copy on the handset');
    const row = messageRow(h.db, accepted.id);
    assert.deepEqual(JSON.parse(String(row.carrier_message_ids)), [submits[0].carrierId]);
    assert.ok(
      h.log.some((line) => line.includes(accepted.id) && line.includes('late submit_sm_resp ESME_ROK')),
    );
  } finally {
    await h.close();
  }
});

test('parts accepted by different connectors (re-route mid-send) each match their own receipts', async () => {
  const h = await startHarness({ bindCarrier: false });
  try {
    const store = new MessageStore(h.db);
    store.insert({
      id: 'msg_rerouted',
      customer_id: CUSTOMER,
      source: 'api',
      sender: 'ACME',
      recipient: '+447700900961',
      text: 'two parts',
      encoding: 'gsm7',
      parts: 2,
      status: 'queued',
      carrier_message_ids: JSON.stringify([null, null]),
      part_states: JSON.stringify([null, null]),
      registered_delivery: 0,
      accepted_at: new Date().toISOString(),
    });
    store.recordCarrierId('msg_rerouted', 0, 'carrier-a', 'A-1');
    store.recordCarrierId('msg_rerouted', 1, 'carrier-b', 'B-1');
    assert.equal(store.findByCarrierId('carrier-a', 'A-1')?.part, 0, 'part 1 still matches its connector');
    assert.equal(store.findByCarrierId('carrier-b', 'B-1')?.part, 1);
    assert.equal(store.findByCarrierId('carrier-b', 'A-1'), undefined, 'ids are scoped to the connector');
    assert.equal(store.get('msg_rerouted')?.connector_id, 'carrier-b', 'connector_id: the latest connector');
  } finally {
    await h.close();
  }
});
