import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SmscRejection } from '../../platform/smsc';
import {
  acceptApiMessage,
  eventually,
  messageRow,
  startHarness,
  statusOf,
  CUSTOMER,
  type SmscHarness,
} from './harness';

let h: SmscHarness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

let nextNumber = 447700900100;
const handsetNumber = (): string => `+${nextNumber++}`;

/** Sends a one-character message, without a receipt, to a new handset the carrier treats as `behaviour`. */
function sendToHandsetThat(behaviour: Parameters<SmscHarness['carrier']['behaviourFor']>[1], sender: string) {
  const to = handsetNumber();
  h.carrier.behaviourFor(to, behaviour);
  const accepted = acceptApiMessage(h, { sender, recipient: to, text: 'x', registeredDelivery: false });
  return { to, accepted };
}

async function sendAndExpectOnHandset(text: string) {
  const to = handsetNumber();
  const accepted = acceptApiMessage(h, {
    sender: '+14155550100',
    recipient: to,
    text,
    registeredDelivery: true,
  });
  const sms = await h.carrier
    .handset(to)
    .inbox.waitFor(() => true, { awaited: `an SMS on ${to}`, timeoutMs: 2_000 });
  await statusOf(h, accepted.id, 'delivered');
  return { accepted, sms, to };
}

test('a GSM text reaches the handset byte-exact, and the DLR makes the message delivered', async () => {
  const text = 'Hello @ 5€ {ok} [x] ~^|\\ äöü';
  const { accepted, sms } = await sendAndExpectOnHandset(text);
  assert.equal(accepted.encoding, 'gsm7');
  assert.equal(accepted.parts, 1);
  assert.equal(sms.text, text);
  assert.equal(sms.encoding, 'gsm7');
  assert.equal(sms.from, '+14155550100');
  const row = messageRow(h.db, accepted.id);
  assert.equal(row.status, 'delivered');
  assert.deepEqual(JSON.parse(String(row.carrier_message_ids)), sms.carrierMessageIds);
  assert.ok(row.sent_at && row.done_at);
  assert.deepEqual(
    h.statuses.filter((e) => e.messageId === accepted.id).map((e) => e.status),
    ['sent', 'delivered'],
  );
  assert.deepEqual(h.carrier.violations.all(), []);
});

test('Arabic with an emoji goes as UCS2 and arrives exact', async () => {
  const text = 'مرحبا بالعالم 👋🏽 اختبار';
  const { accepted, sms } = await sendAndExpectOnHandset(text);
  assert.equal(accepted.encoding, 'ucs2');
  assert.equal(sms.encoding, 'ucs2');
  assert.equal(sms.text, text);
});

test('a long GSM text is split into 3 concatenated parts and reassembled on the handset', async () => {
  const text = Array.from({ length: 55 }, (_, i) => `word${i}`).join(' ') + ' {end}';
  assert.ok(text.length > 306 && text.length < 459, `fixture length ${text.length}`);
  const { accepted, sms } = await sendAndExpectOnHandset(text);
  assert.equal(accepted.parts, 3);
  assert.equal(sms.parts, 3);
  assert.equal(sms.text, text);
  assert.equal(new Set(sms.carrierMessageIds).size, 3);
  assert.equal(JSON.parse(String(messageRow(h.db, accepted.id).part_states)).length, 3);
});

test('an undeliverable handset makes the message undeliverable with the carrier error', async () => {
  const { to, accepted } = sendToHandsetThat('undeliverable', 'ACME');
  await statusOf(h, accepted.id, 'undeliverable');
  const row = messageRow(h.db, accepted.id);
  assert.equal(row.error_code, '001');
  assert.equal(h.carrier.handset(to).inbox.all().length, 0);
});

test('a carrier rejection is permanent: status rejected with the SMPP status name', async () => {
  const { accepted } = sendToHandsetThat('reject', '12345');
  await statusOf(h, accepted.id, 'rejected');
  assert.equal(messageRow(h.db, accepted.id).error_code, 'ESME_RINVDSTADR');
});

test('a carrier that never answers: the message stays queued and is retried', async () => {
  const { to, accepted } = sendToHandsetThat('no-response', '12345');
  // responseTimeoutMs is 500, lateResponseGraceMs 300: then the SMSC schedules a resubmission.
  await eventually(
    () => h.log.some((line) => line.includes(accepted.id) && line.includes('retry in')),
    'the SMSC to schedule a retry after the submit timeout',
  );
  const row = messageRow(h.db, accepted.id);
  assert.equal(row.status, 'queued');
  assert.ok(Number(row.attempts) >= 1);
  h.carrier.behaviourFor(to, 'deliver');
  await statusOf(h, accepted.id, 'delivered', 3_000);
});

test('acceptMessage refuses bad addresses and oversized texts', () => {
  const base = { customerId: CUSTOMER, source: 'api' as const, registeredDelivery: false, text: 'hi' };
  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof SmscRejection, String(error));
      return error.reason;
    }
    return 'accepted';
  };
  assert.equal(
    reason(() => h.smsc.acceptMessage({ ...base, sender: '+12', recipient: '+447700900001' })),
    'invalid-sender',
  );
  assert.equal(
    reason(() => h.smsc.acceptMessage({ ...base, sender: 'TOOLONGSENDER', recipient: '+447700900001' })),
    'invalid-sender',
  );
  assert.equal(
    reason(() => h.smsc.acceptMessage({ ...base, sender: 'ACME', recipient: '447700900001' })),
    'invalid-recipient',
  );
  assert.equal(
    reason(() => h.smsc.acceptMessage({ ...base, sender: 'ACME', recipient: '+447700900001', text: '' })),
    'invalid-text',
  );
  assert.equal(
    reason(() =>
      h.smsc.acceptMessage({
        ...base,
        sender: 'ACME',
        recipient: '+447700900001',
        text: 'x'.repeat(153 * 10 + 1),
      }),
    ),
    'too-long',
  );
  assert.equal(
    reason(() =>
      h.smsc.acceptMessage({
        ...base,
        sender: 'ACME',
        recipient: '+447700900001',
        text: 'ж'.repeat(67 * 10 + 1),
      }),
    ),
    'too-long',
  );
});

test('no route: the message fails with NO_ROUTE', async () => {
  h.db.prepare('DELETE FROM sms_routes').run();
  h.smsc.setRoute('+44', 'carrier-1');
  try {
    const accepted = h.smsc.acceptMessage({
      customerId: CUSTOMER,
      source: 'api',
      sender: 'ACME',
      recipient: '+33612345678',
      text: 'x',
      registeredDelivery: false,
    });
    await statusOf(h, accepted.id, 'failed');
    assert.equal(messageRow(h.db, accepted.id).error_code, 'NO_ROUTE');
  } finally {
    h.smsc.setRoute('', 'carrier-1');
  }
});

test('connectors() reports the bound connector', () => {
  const [connector] = h.smsc.connectors();
  assert.equal(connector.id, 'carrier-1');
  assert.equal(connector.state, 'bound');
  assert.equal(connector.lastError, null);
});
