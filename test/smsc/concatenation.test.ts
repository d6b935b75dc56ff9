import { test } from 'node:test';
import assert from 'node:assert/strict';
import smpp from 'smpp';
import { SmppCustomerSession } from '../../world/smpp/smpp-session';
import { ACCOUNT, messageRow, startHarness, statusOf, type SmscHarness } from './harness';

/**
 * Concatenated submits from an ESME, part by part: every acknowledged part is persisted, so a
 * restart loses nothing, and an incomplete set ends as a visible failure.
 */

async function esme(h: SmscHarness, sessions: SmppCustomerSession[]): Promise<SmppCustomerSession> {
  const session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  sessions.push(session);
  await session.connect({ ...h.smsc.endpoints, actor: 'acme ESME' });
  await session.bind({ ...ACCOUNT, mode: 'transceiver' });
  return session;
}

/** Sends one UDH-concatenated part (GSM text, ASCII letters only) and returns the message id it was acknowledged with. */
async function submitPart(
  session: SmppCustomerSession,
  part: { to: string; reference: number; total: number; sequence: number; text: string },
): Promise<string> {
  const response = await session.request(
    'submit_sm',
    {
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'ACME',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: part.to.slice(1),
      esm_class: 0x40,
      registered_delivery: 1,
      data_coding: 0,
      short_message: Buffer.concat([
        Buffer.from([5, 0, 3, part.reference, part.total, part.sequence]),
        Buffer.from(part.text, 'ascii'),
      ]),
    },
    `(${part.sequence}/${part.total}) ${part.text}`,
  );
  assert.equal(response.command_status, smpp.errors.ESME_ROK, `part ${part.sequence} acknowledged`);
  return String(response.message_id);
}

const pendingParts = (h: SmscHarness): number =>
  (h.db.prepare('SELECT COUNT(*) AS n FROM smpp_concat_parts').get() as { n: number }).n;

test('parts 1 and 2 of 3 acknowledged, SMSC restarted on the same db, part 3 arrives: the handset gets the whole text once', async () => {
  const h = await startHarness();
  const sessions: SmppCustomerSession[] = [];
  try {
    const to = '+447700900901';
    const texts = ['A'.repeat(150), 'B'.repeat(150), 'C'.repeat(100)];
    const first = await esme(h, sessions);
    const id1 = await submitPart(first, { to, reference: 42, total: 3, sequence: 1, text: texts[0] });
    const id2 = await submitPart(first, { to, reference: 42, total: 3, sequence: 2, text: texts[1] });
    assert.equal(id2, id1, 'every part is acknowledged with the id of the whole message');
    assert.equal(pendingParts(h), 2, 'both acknowledged parts are in the store');

    await h.restartSmsc();
    assert.equal(pendingParts(h), 2, 'the parts survive the restart');

    const second = await esme(h, sessions);
    const id3 = await submitPart(second, { to, reference: 42, total: 3, sequence: 3, text: texts[2] });
    assert.equal(id3, id1);
    const sms = await h.carrier
      .handset(to)
      .inbox.waitFor(() => true, { awaited: 'the reassembled SMS', timeoutMs: 2_000 });
    assert.equal(sms.text, texts.join(''));
    await statusOf(h, id1, 'delivered');
    const receipt = await second.deliveries.waitFor((d) => d.receiptedMessageId === id1, {
      awaited: `the receipt for ${id1}`,
      timeoutMs: 2_000,
    });
    assert.equal(receipt.stat, 'DELIVRD');
    assert.equal(h.carrier.handset(to).inbox.all().length, 1, 'delivered exactly once');
    assert.equal(pendingParts(h), 0, 'the parts are gone once the message exists');
    assert.equal(messageRow(h.db, id1).text, texts.join(''));
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await h.close();
  }
});

test('a resent part replaces the stored one: the message is accepted once, with each part once', async () => {
  const h = await startHarness();
  const sessions: SmppCustomerSession[] = [];
  try {
    const to = '+447700900902';
    const session = await esme(h, sessions);
    const id = await submitPart(session, { to, reference: 7, total: 2, sequence: 1, text: 'first half ' });
    assert.equal(
      await submitPart(session, { to, reference: 7, total: 2, sequence: 1, text: 'first half ' }),
      id,
    );
    assert.equal(
      await submitPart(session, { to, reference: 7, total: 2, sequence: 2, text: 'second half' }),
      id,
    );
    const sms = await h.carrier
      .handset(to)
      .inbox.waitFor(() => true, { awaited: 'the SMS', timeoutMs: 2_000 });
    assert.equal(sms.text, 'first half second half');
    await statusOf(h, id, 'delivered');
    assert.equal(h.carrier.handset(to).inbox.all().length, 1);
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await h.close();
  }
});

test('an incomplete set expires (also across a restart) as a failed message the customer sees, and nothing reaches the handset', async () => {
  const h = await startHarness({
    configure: (config) => {
      config.smsc.concatenationTimeoutMs = 300;
    },
  });
  const sessions: SmppCustomerSession[] = [];
  try {
    const to = '+447700900903';
    const first = await esme(h, sessions);
    const id = await submitPart(first, { to, reference: 9, total: 2, sequence: 1, text: 'only this part' });

    // The expiry is armed again from the stored part after a restart.
    await h.restartSmsc();
    await statusOf(h, id, 'failed');
    const row = messageRow(h.db, id);
    assert.equal(row.error_code, 'INCOMPLETE_CONCATENATION');
    assert.equal(row.text, 'only this part', 'the text that did arrive is kept');
    assert.equal(pendingParts(h), 0);
    assert.ok(
      h.log.some((line) => line.includes(id) && line.includes('part(s) 2 of 2 never arrived')),
      'the log names the missing part',
    );

    const second = await esme(h, sessions);
    const receipt = await second.deliveries.waitFor((d) => d.receiptedMessageId === id, {
      awaited: `the failure receipt for ${id}`,
      timeoutMs: 2_000,
    });
    assert.equal(receipt.stat, 'UNDELIV');
    assert.equal(h.carrier.handset(to).inbox.all().length, 0, 'a partial text is never sent');
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await h.close();
  }
});
