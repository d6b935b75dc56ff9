import { after, before, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import smpp, { type PDU } from 'smpp';
import { passwordMatches } from '../../platform/smsc/esme-server';
import { SmppCustomerSession } from '../../world/smpp/smpp-session';
import { ACCOUNT, eventually, messageRow, startHarness, statusOf, type SmscHarness } from './harness';
import { RawEsme, settlesWithin } from './raw-esme';

/** What a review of the ESME server found: session limits, receipt semantics, reassembly, throttling. */

const SESSION_INIT_TIMEOUT_MS = 300;
let h: SmscHarness;
const sessions: SmppCustomerSession[] = [];
const raws: RawEsme[] = [];
before(async () => {
  h = await startHarness({
    configure: (config) => {
      config.smsc.sessionInitTimeoutMs = SESSION_INIT_TIMEOUT_MS;
    },
  });
});
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(raws.map((r) => r.destroy()));
  await h.close();
});

async function esme(harness = h): Promise<SmppCustomerSession> {
  const session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
  sessions.push(session);
  await session.connect({ ...harness.smsc.endpoints, actor: 'acme ESME' });
  await session.bind({ ...ACCOUNT, mode: 'transceiver' });
  return session;
}

async function rawEsme(allowHalfOpen = false): Promise<RawEsme> {
  const raw = await RawEsme.connect(h.smsc.endpoints, allowHalfOpen);
  raws.push(raw);
  return raw;
}

/** Receipts go to any bound receiver of the customer: close earlier tests' sessions first. */
async function closeEarlierSessions(): Promise<void> {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(raws.splice(0).map((r) => r.destroy()));
}

let nextNumber = 447700900700;
const handsetNumber = (): string => `+${nextNumber++}`;

function submitParams(to: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    source_addr_ton: 5,
    source_addr_npi: 0,
    source_addr: 'ACME',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: to.slice(1),
    data_coding: 0,
    ...extra,
  };
}

test('a connection that does not bind within sessionInitTimeoutMs is closed; a bound one stays', async () => {
  const bound = await esme(); // connected first: its init timer would fire first
  const silent = await rawEsme();
  assert.ok(
    await settlesWithin(silent.closed, SESSION_INIT_TIMEOUT_MS + 1_500),
    `the unbound connection was closed after ${SESSION_INIT_TIMEOUT_MS} ms`,
  );
  assert.ok(h.log.some((line) => line.includes('no bind within')));
  const enquire = await bound.request('enquire_link');
  assert.equal(enquire.command_status, smpp.errors.ESME_ROK, 'the bound session is still served');
});

test('after unbind, a peer that keeps its side open and keeps sending is cut off', async () => {
  const raw = await rawEsme(true);
  const bind = await raw.request('bind_transceiver', {
    system_id: ACCOUNT.systemId,
    password: ACCOUNT.password,
  });
  assert.equal(bind.command_status, smpp.errors.ESME_ROK);
  const unbind = await raw.request('unbind');
  assert.equal(unbind.command_status, smpp.errors.ESME_ROK);
  raw.socket.write(Buffer.alloc(256 * 1024, 0x42));
  await eventually(
    () => h.log.some((line) => line.includes('did not close within')),
    'the SMSC to destroy the half-open connection',
    3_000,
  );
});

test('registered_delivery 2 (failure only): no receipt for a delivered message, a receipt for a failed one', async () => {
  await closeEarlierSessions();
  const session = await esme();
  const delivered = handsetNumber();
  const failing = handsetNumber();
  h.carrier.behaviourFor(failing, 'undeliverable');
  const first = await session.request(
    'submit_sm',
    submitParams(delivered, { registered_delivery: 2, short_message: Buffer.from('ok') }),
  );
  assert.equal(first.command_status, smpp.errors.ESME_ROK);
  const firstId = String(first.message_id);
  await statusOf(h, firstId, 'delivered');
  const second = await session.request(
    'submit_sm',
    submitParams(failing, { registered_delivery: 2, short_message: Buffer.from('ko') }),
  );
  const secondId = String(second.message_id);
  const receipt = await session.deliveries.waitFor((d) => d.receiptedMessageId === secondId, {
    awaited: `the failure receipt for ${secondId}`,
    timeoutMs: 2_000,
  });
  assert.equal(receipt.stat, 'UNDELIV');
  // Receipts go out in order on this session: one for the first message would have come first.
  assert.deepEqual(
    session.deliveries.filter((d) => d.receiptedMessageId === firstId),
    [],
    'no receipt for a delivered message when only failures were asked for',
  );
  assert.equal(messageRow(h.db, firstId).registered_delivery, 2);
});

test('a receipt the bound receiver does not acknowledge is offered again while it stays bound', async () => {
  await closeEarlierSessions();
  const raw = await rawEsme();
  const bind = await raw.request('bind_transceiver', {
    system_id: ACCOUNT.systemId,
    password: ACCOUNT.password,
  });
  assert.equal(bind.command_status, smpp.errors.ESME_ROK);
  const to = handsetNumber();
  const submit = await raw.request(
    'submit_sm',
    submitParams(to, { registered_delivery: 1, short_message: Buffer.from('dlr please') }),
  );
  const messageId = String(submit.message_id);
  const isReceipt = (p: PDU): boolean => p.command === 'deliver_sm' && p.receipted_message_id === messageId;
  const first = await raw.pdus.waitFor(isReceipt, { awaited: 'the first receipt', timeoutMs: 2_000 });
  // Not answered: the SMSC's response timeout (500 ms) passes.
  const second = await raw.pdus.waitFor((p) => isReceipt(p) && p.sequence_number !== first.sequence_number, {
    awaited: `the receipt for ${messageId} offered again`,
    timeoutMs: 3_000,
  });
  raw.respond(second);
  await eventually(
    () => messageRow(h.db, messageId).receipt_sent_at !== null,
    'the SMSC to record the acknowledged receipt',
  );
});

test('a concatenated submit whose parts split an emoji (UCS2) and a GSM escape arrives intact', async () => {
  const session = await esme();
  const sendParts = async (
    to: string,
    dataCoding: number,
    payloads: Buffer[],
    reference: number,
  ): Promise<string> => {
    const ids: string[] = [];
    for (const [index, payload] of payloads.entries()) {
      const response = await session.request(
        'submit_sm',
        submitParams(to, {
          esm_class: 0x40,
          data_coding: dataCoding,
          short_message: Buffer.concat([
            Buffer.from([5, 0, 3, reference, payloads.length, index + 1]),
            payload,
          ]),
        }),
      );
      assert.equal(response.command_status, smpp.errors.ESME_ROK);
      ids.push(String(response.message_id));
    }
    return ids[0];
  };

  const emojiTo = handsetNumber();
  const emojiText = 'x'.repeat(66) + '😀 end';
  const ucs2 = Buffer.from(emojiText, 'utf16le').swap16();
  // 134 bytes = 67 UTF-16 units: the emoji's high surrogate ends part 1, its low surrogate starts part 2.
  const emojiId = await sendParts(emojiTo, 8, [ucs2.subarray(0, 134), ucs2.subarray(134)], 11);
  const emojiSms = await h.carrier
    .handset(emojiTo)
    .inbox.waitFor(() => true, { awaited: 'the emoji SMS', timeoutMs: 2_000 });
  assert.equal(emojiSms.text, emojiText);
  await statusOf(h, emojiId, 'delivered');

  const euroTo = handsetNumber();
  const gsm = Buffer.concat([
    Buffer.from('a'.repeat(152), 'ascii'),
    Buffer.from([0x1b, 0x65]),
    Buffer.from(' 5'),
  ]);
  // 153 septets per part: the escape (0x1B) ends part 1, the € code (0x65) starts part 2.
  const euroId = await sendParts(euroTo, 0, [gsm.subarray(0, 153), gsm.subarray(153)], 12);
  const euroSms = await h.carrier
    .handset(euroTo)
    .inbox.waitFor(() => true, { awaited: 'the € SMS', timeoutMs: 2_000 });
  assert.equal(euroSms.text, 'a'.repeat(152) + '€ 5');
  await statusOf(h, euroId, 'delivered');
});

test('throttling counts the account, not the session: a second session does not double the rate', async () => {
  const throttled = await startHarness({ throughputPerSecond: 2 });
  try {
    const [one, two] = [await esme(throttled), await esme(throttled)];
    const submit = (session: SmppCustomerSession, to: string) =>
      session.request('submit_sm', submitParams(to, { short_message: Buffer.from('t') }));
    const statuses = [
      (await submit(one, '+447700900801')).command_status,
      (await submit(two, '+447700900802')).command_status,
      (await submit(two, '+447700900803')).command_status,
    ];
    assert.deepEqual(statuses, [smpp.errors.ESME_ROK, smpp.errors.ESME_ROK, smpp.errors.ESME_RTHROTTLED]);
  } finally {
    await throttled.close();
  }
});

test('bind passwords are compared with timingSafeEqual on equal-length digests', async () => {
  const spy = mock.method(crypto, 'timingSafeEqual');
  try {
    const session = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0 });
    sessions.push(session);
    await session.connect({ ...h.smsc.endpoints, actor: 'acme ESME' });
    const refused = await session
      .request('bind_transceiver', { system_id: ACCOUNT.systemId, password: 'x' })
      .then((r) => r.command_status);
    assert.equal(refused, smpp.errors.ESME_RINVPASWD);
    assert.equal(spy.mock.callCount(), 1, 'the password check went through timingSafeEqual');
    const [given, expected] = spy.mock.calls[0].arguments as [Buffer, Buffer];
    assert.equal(given.length, expected.length);
  } finally {
    spy.mock.restore();
  }
  assert.equal(passwordMatches(ACCOUNT.password, ACCOUNT.password), true);
  assert.equal(passwordMatches(`${ACCOUNT.password}x`, ACCOUNT.password), false);
  assert.equal(passwordMatches(undefined, ACCOUNT.password), false);
});
