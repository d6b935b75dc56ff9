import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import smpp from 'smpp';
import { SmppCommandError, SmppCustomerSession } from '../../world/smpp/smpp-session';
import {
  ACCOUNT,
  CUSTOMER,
  eventually,
  messageRow,
  startHarness,
  statusOf,
  type SmscHarness,
} from './harness';

let h: SmscHarness;
const sessions: SmppCustomerSession[] = [];
before(async () => {
  h = await startHarness({ throughputPerSecond: 50 });
});
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await h.close();
});

async function esme(
  mode: 'transceiver' | 'transmitter' | 'receiver' | null = 'transceiver',
): Promise<SmppCustomerSession> {
  const session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  sessions.push(session);
  await session.connect({ ...h.smsc.endpoints, actor: 'acme ESME' });
  if (mode !== null) await session.bind({ ...ACCOUNT, mode });
  return session;
}

async function bindError(credentials: { systemId: string; password: string }): Promise<SmppCommandError> {
  const session = await esme(null);
  const error = await session.bind({ ...credentials, mode: 'transceiver' }).then(
    () => assert.fail('the bind was accepted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SmppCommandError, String(error));
  return error;
}

/** The audit entries of refused binds, oldest first: who, what, whose trail, from where. */
function bindRefusalsAudited(since: number): Array<Record<string, unknown>> {
  const rows = h.db
    .prepare(
      `SELECT action, actor_kind, customer_id, channel, target, source_address, detail FROM audit_events
        WHERE seq > ? AND channel = 'smpp' ORDER BY seq`,
    )
    .all(since) as Array<Record<string, unknown> & { detail: string }>;
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }));
}

function lastAuditSeq(): number {
  const row = h.db.prepare('SELECT MAX(seq) AS seq FROM audit_events').get() as { seq: number | null };
  return row.seq ?? 0;
}

let nextNumber = 447700900500;
const handsetNumber = (): string => `+${nextNumber++}`;

test('wrong password → ESME_RINVPASWD, unknown system_id → ESME_RINVSYSID', async () => {
  assert.equal(
    (await bindError({ systemId: ACCOUNT.systemId, password: 'wrong' })).statusName,
    'ESME_RINVPASWD',
  );
  assert.equal((await bindError({ systemId: 'nobody', password: 'x' })).statusName, 'ESME_RINVSYSID');
});

test('a suspended customer: bind refused (ESME_RBINDFAIL, only with the right password), submits on an older bind refused; resumed, both work', async () => {
  const older = await esme();
  const setSuspended = (suspended: boolean): void => {
    h.db
      .prepare('UPDATE customers SET suspended_at = ? WHERE id = ?')
      .run(suspended ? new Date().toISOString() : null, CUSTOMER);
  };
  setSuspended(true);
  try {
    assert.equal((await bindError(ACCOUNT)).statusName, 'ESME_RBINDFAIL');
    assert.equal(
      (await bindError({ systemId: ACCOUNT.systemId, password: 'wrong' })).statusName,
      'ESME_RINVPASWD',
      'a wrong password must not learn that the customer is suspended',
    );
    const refused = await older.request('submit_sm', {
      source_addr: 'ACME',
      destination_addr: handsetNumber().slice(1),
      short_message: Buffer.from('while suspended'),
    });
    assert.equal(refused.command_status, smpp.errors.ESME_RSUBMITFAIL);
  } finally {
    setSuspended(false);
  }
  const again = await esme();
  const { messageId } = await again.submit({
    source: 'ACME',
    destination: handsetNumber(),
    text: 'resumed',
    registeredDelivery: false,
  });
  assert.match(messageId, /^msg_/);
  // Bound receivers of this customer would take the receipts later tests wait for.
  await Promise.all([older.close(), again.close()]);
});

test('commands before bind → ESME_RINVBNDSTS; enquire_link is always answered', async () => {
  const session = await esme(null);
  const response = await session.request('submit_sm', {
    destination_addr: '447700900001',
    short_message: Buffer.from('x'),
  });
  assert.equal(response.command_status, smpp.errors.ESME_RINVBNDSTS);
  const enquire = await session.request('enquire_link');
  assert.equal(enquire.command_status, smpp.errors.ESME_ROK);
});

test('submit_sm with registered_delivery: the handset gets the text and the ESME a receipt for our message id', async () => {
  const session = await esme();
  const to = handsetNumber();
  const text = 'Your code is 123456 – thanks!';
  const { messageId } = await session.submit({
    source: 'ACME',
    destination: to,
    text,
    registeredDelivery: true,
  });
  assert.match(messageId, /^msg_/);
  const sms = await h.carrier.handset(to).inbox.waitFor(() => true, { awaited: 'the SMS', timeoutMs: 2_000 });
  assert.equal(sms.text, text);
  assert.equal(sms.encoding, 'ucs2'); // the en dash is not in GSM 03.38
  const receipt = await session.deliveries.waitFor(
    (d) => d.kind === 'receipt' && d.receiptedMessageId === messageId,
    {
      awaited: `a receipt for ${messageId}`,
      timeoutMs: 2_000,
    },
  );
  assert.equal(receipt.stat, 'DELIVRD', JSON.stringify(receipt));
  assert.equal(receipt.err, '000');
  assert.equal(receipt.messageState, 2);
  assert.match(
    receipt.text,
    new RegExp(
      `^id:${messageId} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:`,
    ),
  );
  await eventually(
    () => messageRow(h.db, messageId).receipt_sent_at !== null,
    'the SMSC to record the acknowledged receipt',
  );
});

test('a long submit split by the ESME reaches the handset whole, under one message id', async () => {
  const session = await esme();
  const to = handsetNumber();
  const text = 'Long GSM text: ' + 'abcdefghij'.repeat(20);
  const { messageId, messageIds } = await session.submit({
    source: '+14155550100',
    destination: to,
    text,
    registeredDelivery: false,
  });
  assert.equal(messageIds.length, 2);
  assert.ok(messageIds.every((id) => id === messageId));
  const sms = await h.carrier
    .handset(to)
    .inbox.waitFor(() => true, { awaited: 'the long SMS', timeoutMs: 2_000 });
  assert.equal(sms.text, text);
  assert.equal(sms.parts, 2);
  await statusOf(h, messageId, 'delivered');
});

test('a receipt owed to a customer without a receiver is delivered when they bind one', async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close())); // no receiver of this customer may be bound
  const transmitter = await esme('transmitter');
  const to = handsetNumber();
  const { messageId } = await transmitter.submit({
    source: 'ACME',
    destination: to,
    text: 'later',
    registeredDelivery: true,
  });
  await statusOf(h, messageId, 'delivered');
  assert.equal(messageRow(h.db, messageId).receipt_sent_at, null);
  const receiver = await esme('receiver');
  const receipt = await receiver.deliveries.waitFor((d) => d.receiptedMessageId === messageId, {
    awaited: `the kept receipt for ${messageId}`,
    timeoutMs: 2_000,
  });
  assert.equal(receipt.stat, 'DELIVRD');
  assert.equal(transmitter.deliveries.all().length, 0);
});

test('malformed and unknown PDUs get generic_nack, and the session keeps serving', async () => {
  const session = await esme();
  // Unknown command id 0x00000099.
  const unknown = Buffer.alloc(16);
  unknown.writeUInt32BE(16, 0);
  unknown.writeUInt32BE(0x99, 4);
  unknown.writeUInt32BE(0x70000001, 12);
  session.sendRaw(unknown, 'unknown command 0x99');
  // enquire_link with a truncated TLV (message_state with no value): the decoder throws.
  const broken = Buffer.alloc(20);
  broken.writeUInt32BE(20, 0);
  broken.writeUInt32BE(0x15, 4);
  broken.writeUInt32BE(0x70000002, 12);
  broken.writeUInt16BE(0x0427, 16);
  broken.writeUInt16BE(0, 18);
  session.sendRaw(broken, 'enquire_link with an empty int8 TLV');
  const nack1 = await session.unsolicited.waitFor((p) => p.sequence_number === 0x70000001, {
    awaited: 'generic_nack for 0x99',
    timeoutMs: 1_000,
  });
  assert.equal(nack1.command, 'generic_nack');
  assert.equal(nack1.command_status, smpp.errors.ESME_RINVCMDID);
  const nack2 = await session.unsolicited.waitFor((p) => p.sequence_number === 0x70000002, {
    awaited: 'generic_nack for the broken PDU',
    timeoutMs: 1_000,
  });
  assert.equal(nack2.command, 'generic_nack');
  assert.equal(nack2.command_status, smpp.errors.ESME_RINVCMDLEN);
  // A submit_sm whose sm_length runs past the PDU end → submit_sm_resp ESME_RINVMSGLEN.
  const submit = new smpp.PDU('submit_sm', {
    destination_addr: '447700900001',
    short_message: Buffer.from('hello'),
    sequence_number: 0x70000003,
  }).toBuffer();
  submit[submit.length - 6] = 200; // sm_length
  session.sendRaw(submit, 'submit_sm with sm_length 200 of 5');
  const resp = await session.unsolicited.waitFor((p) => p.sequence_number === 0x70000003, {
    awaited: 'submit_sm_resp',
    timeoutMs: 1_000,
  });
  assert.equal(resp.command_status, smpp.errors.ESME_RINVMSGLEN);
  // Still serving on the same session.
  const to = handsetNumber();
  const { messageId } = await session.submit({
    source: 'ACME',
    destination: to,
    text: 'still alive',
    registeredDelivery: false,
  });
  await statusOf(h, messageId, 'delivered');
});

test('a bad command_length gets generic_nack ESME_RINVCMDLEN and the server still accepts new sessions', async () => {
  const session = await esme(null);
  const bad = Buffer.alloc(16);
  bad.writeUInt32BE(8, 0);
  session.sendRaw(bad, 'command_length 8');
  const nack = await session.unsolicited.waitFor((p) => p.command === 'generic_nack', {
    awaited: 'generic_nack',
    timeoutMs: 1_000,
  });
  assert.equal(nack.command_status, smpp.errors.ESME_RINVCMDLEN);
  await esme('transceiver');
});

test('unbind is answered and the connection closed', async () => {
  const session = await esme();
  await session.unbind();
  await assert.rejects(session.request('enquire_link'), /after the connection ended/);
});

test('refused binds are audited: a wrong password and an unknown system_id as auth.failed, a suspended customer as access.denied; never the password', async () => {
  const since = lastAuditSeq();
  await bindError({ systemId: ACCOUNT.systemId, password: 'wrong-guess' });
  await bindError({ systemId: 'nobody', password: 'another-guess' });
  h.db.prepare('UPDATE customers SET suspended_at = ? WHERE id = ?').run(new Date().toISOString(), CUSTOMER);
  try {
    await bindError(ACCOUNT);
  } finally {
    h.db.prepare('UPDATE customers SET suspended_at = NULL WHERE id = ?').run(CUSTOMER);
  }
  const entries = bindRefusalsAudited(since);
  assert.deepEqual(
    entries.map((e) => [e.action, e.actor_kind, e.customer_id, e.target, e.source_address]),
    [
      ['auth.failed', 'anonymous', CUSTOMER, ACCOUNT.systemId, '127.0.0.1'],
      ['auth.failed', 'anonymous', null, 'nobody', '127.0.0.1'],
      ['access.denied', 'customer', CUSTOMER, ACCOUNT.systemId, '127.0.0.1'],
    ],
  );
  assert.deepEqual(
    entries.map((e) => (e.detail as { refusal: string }).refusal),
    ['wrong-password', 'unknown-system-id', 'customer-suspended'],
  );
  const text = JSON.stringify(entries);
  for (const password of ['wrong-guess', 'another-guess', ACCOUNT.password])
    assert.ok(!text.includes(password), 'no bind password in the trail');
});
