import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { traffic } from '../../world/traffic-log';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { SmppCommandError, SmppCustomerSession, SmppTimeoutError } from '../../world/smpp/smpp-session';

const CREDENTIALS = { systemId: 'platform', password: 'pw123' };
const carrier = new CarrierSmscDouble({ responseTimeoutMs: 1_000 });
const sessions: SmppCustomerSession[] = [];

before(async () => {
  await carrier.start(CREDENTIALS);
});
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await carrier.stop();
});

async function session(
  options: ConstructorParameters<typeof SmppCustomerSession>[0] = {},
): Promise<SmppCustomerSession> {
  const s = new SmppCustomerSession({ responseTimeoutMs: 1_000, enquireLinkMs: 0, ...options });
  sessions.push(s);
  await s.connect({ ...carrier.address(), actor: 'test ESME' });
  return s;
}

test('bind succeeds with the right credentials and the double counts the session', async () => {
  const mark = traffic.mark();
  const waiting = carrier.waitForBind(1_000);
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  await waiting;
  assert.ok(carrier.boundSessions() >= 1);
  const bindLine = traffic.since(mark, 'SMPP').find((e) => e.summary.startsWith('bind_transceiver '));
  assert.ok(bindLine, 'bind recorded in traffic');
  assert.equal(bindLine.from, 'test ESME');
  assert.ok(bindLine.detail?.includes('"password": "***"'), 'password redacted');
  assert.ok(!bindLine.detail?.includes(CREDENTIALS.password));
});

test('a wrong password is refused with ESME_RINVPASWD', async () => {
  const s = await session();
  await assert.rejects(
    s.bind({ systemId: CREDENTIALS.systemId, password: 'nope', mode: 'transmitter' }),
    (error: unknown) => {
      assert.ok(error instanceof SmppCommandError);
      assert.equal(error.statusName, 'ESME_RINVPASWD');
      assert.equal(error.status, 0x0e);
      return true;
    },
  );
});

test('submit: GSM, UCS2 and a 3-part text arrive on the handset exactly', async () => {
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  const cases = [
    { to: '+447700900001', text: 'Hi @ £5 {€}', encoding: 'gsm7', parts: 1 },
    { to: '+447700900002', text: 'سلام 🌍 hello', encoding: 'ucs2', parts: 1 },
    { to: '+447700900003', text: 'x'.repeat(400), encoding: 'gsm7', parts: 3 },
  ];
  for (const c of cases) {
    const mark = traffic.mark();
    const { messageIds } = await s.submit({
      source: 'TEST',
      destination: c.to,
      text: c.text,
      registeredDelivery: true,
    });
    const sms = await carrier
      .handset(c.to)
      .inbox.waitFor(() => true, { awaited: `SMS on ${c.to}`, timeoutMs: 1_000 });
    assert.equal(sms.text, c.text);
    assert.equal(sms.encoding, c.encoding);
    assert.equal(sms.parts, c.parts);
    assert.deepEqual(sms.carrierMessageIds, messageIds);
    assert.equal(sms.from, 'TEST');
    const submit = traffic.since(mark, 'SMPP').find((e) => e.summary.startsWith('submit_sm '));
    assert.ok(submit?.summary.includes(c.to), submit?.summary);
    // One DLR per part comes back for the 'deliver' behaviour.
    for (const id of messageIds) {
      const receipt = await s.deliveries.waitFor((d) => d.receiptedMessageId === id, {
        awaited: `DLR for ${id}`,
        timeoutMs: 1_000,
      });
      assert.equal(receipt.kind, 'receipt');
      assert.equal(receipt.stat, 'DELIVRD');
    }
  }
  assert.deepEqual(carrier.violations.all(), []);
});

test('undeliverable handsets give UNDELIV err:001; rejected ones ESME_RINVDSTADR', async () => {
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  carrier.behaviourFor('+447700900010', 'undeliverable');
  carrier.behaviourFor('+447700900011', 'reject');
  const { messageId } = await s.submit({
    source: 'TEST',
    destination: '+447700900010',
    text: 'x',
    registeredDelivery: true,
  });
  const receipt = await s.deliveries.waitFor((d) => d.receiptedMessageId === messageId, {
    awaited: 'UNDELIV receipt',
    timeoutMs: 1_000,
  });
  assert.equal(receipt.stat, 'UNDELIV');
  assert.equal(receipt.err, '001');
  assert.equal(carrier.handset('+447700900010').inbox.all().length, 0);
  await assert.rejects(
    s.submit({ source: 'TEST', destination: '+447700900011', text: 'x', registeredDelivery: true }),
    /ESME_RINVDSTADR/,
  );
});

test('the window holds requests beyond its size, and each request times out with a clear error', async () => {
  const s = await session({ windowSize: 2, responseTimeoutMs: 200 });
  await s.bind({ ...CREDENTIALS, mode: 'transmitter' });
  carrier.behaviourFor('+447700900020', 'no-response');
  const started = Date.now();
  const submits = [1, 2, 3].map((i) =>
    s.submit({ source: 'TEST', destination: '+447700900020', text: `t${i}`, registeredDelivery: false }),
  );
  assert.equal(s.outstanding, 2);
  assert.equal(s.queued, 1);
  const results = await Promise.allSettled(submits);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.reason instanceof SmppTimeoutError, String(result.reason));
    assert.match(result.reason.message, /no submit_sm_resp from the SMSC within 200 ms/);
  }
  // The third was only sent after a slot freed up: two timeouts in sequence.
  assert.ok(Date.now() - started >= 390, `took ${Date.now() - started} ms`);
  assert.equal(s.outstanding, 0);
});

test('an injected MO message reaches a bound receiver', async () => {
  await Promise.all(sessions.splice(0).map((x) => x.close())); // the MO must go to this receiver
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'receiver' });
  await carrier.injectMo({ from: '+447700900099', to: '12345', text: 'STOP' });
  const mo = await s.deliveries.waitFor((d) => d.kind === 'mo', { awaited: 'the MO', timeoutMs: 1_000 });
  assert.equal(mo.text, 'STOP');
  assert.equal(mo.source, '+447700900099');
  assert.equal(mo.destination, '12345');
});

test('a connection closed by the server fails pending requests at once', async () => {
  const s = await session({ responseTimeoutMs: 5_000 });
  await s.bind({ ...CREDENTIALS, mode: 'transmitter' });
  carrier.behaviourFor('+447700900030', 'no-response');
  const pending = s.submit({
    source: 'TEST',
    destination: '+447700900030',
    text: 'x',
    registeredDelivery: false,
  });
  const started = Date.now();
  carrier.dropConnections();
  await assert.rejects(pending, /got no response/);
  assert.ok(Date.now() - started < 1_000);
});
