import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket, type AddressInfo } from 'node:net';
import smpp from 'smpp';
import { traffic } from '../../world/traffic-log';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import {
  describeRawBytes,
  SmppCommandError,
  SmppCustomerSession,
  SmppTimeoutError,
} from '../../world/smpp/smpp-session';

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

test('the double records each receipt it sends and each submit with its time', async () => {
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  carrier.behaviourFor('+447700900030', 'undeliverable');
  const before = Date.now();
  const { messageId } = await s.submit({
    source: 'TEST',
    destination: '+447700900030',
    text: 'where is it',
    registeredDelivery: true,
  });
  const seen = await s.deliveries.waitFor((d) => d.receiptedMessageId === messageId, {
    awaited: 'UNDELIV receipt',
    timeoutMs: 1_000,
  });
  const [submit] = carrier.submits.filter((x) => x.to === '+447700900030');
  const [receipt] = carrier.receipts.filter((r) => r.to === '+447700900030');
  assert.equal(submit?.carrierId, messageId);
  assert.equal(submit?.text, 'where is it');
  assert.ok((submit?.at ?? 0) >= before);
  assert.deepEqual(
    { carrierId: receipt?.carrierId, stat: receipt?.stat, err: receipt?.err, text: receipt?.text },
    { carrierId: messageId, stat: 'UNDELIV', err: seen.err, text: 'where is it' },
  );
  assert.ok((receipt?.at ?? 0) >= (submit?.at ?? Infinity));
  carrier.forget('+447700900030');
  assert.deepEqual(
    carrier.receipts.filter((r) => r.to === '+447700900030'),
    [],
  );
  assert.deepEqual(
    carrier.submits.filter((x) => x.to === '+447700900030'),
    [],
  );
});

test('a handset whose network delivers late gets the text, and the receipt follows, that much later', async () => {
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  carrier.behaviourFor('+447700900031', 'deliver', { deliverAfterMs: 150 });
  assert.deepEqual(carrier.timingOf('+447700900031'), { deliverAfterMs: 150 });
  const { messageId } = await s.submit({
    source: 'TEST',
    destination: '+447700900031',
    text: 'later',
    registeredDelivery: true,
  });
  const acceptedAt = Date.now();
  const sms = await carrier
    .handset('+447700900031')
    .inbox.waitFor(() => true, { awaited: 'the late text', timeoutMs: 1_000 });
  assert.ok(sms.receivedAt - acceptedAt >= 140, `handset reached ${sms.receivedAt - acceptedAt} ms after`);
  const receipt = await carrier.receipts.waitFor((r) => r.carrierId === messageId, {
    awaited: 'the receipt',
    timeoutMs: 1_000,
  });
  assert.ok(receipt.at >= sms.receivedAt);
});

test('a congested network refuses its first submits with ESME_RTHROTTLED, or every submit for a while', async () => {
  const s = await session();
  await s.bind({ ...CREDENTIALS, mode: 'transceiver' });
  const submitTo = (destination: string) =>
    s.submit({ source: 'TEST', destination, text: 'busy?', registeredDelivery: false });
  carrier.behaviourFor('+447700900040', 'throttled');
  await assert.rejects(submitTo('+447700900040'), /ESME_RTHROTTLED/);
  await assert.rejects(submitTo('+447700900040'), /ESME_RTHROTTLED/);
  await submitTo('+447700900040');

  carrier.behaviourFor('+447700900041', 'throttled', { throttledForMs: 300 });
  const first = Date.now();
  let refusals = 0;
  let accepted = false;
  // Back to back until accepted, bounded in time (a round trip is well under a ms on a quiet host).
  while (!accepted && Date.now() - first < 3_000) {
    accepted = await submitTo('+447700900041').then(
      () => true,
      (error: Error) => (/ESME_RTHROTTLED/.test(error.message) ? false : Promise.reject(error)),
    );
    if (!accepted) refusals += 1;
  }
  assert.ok(accepted, `never accepted within 3 s of the first submit (refused ${refusals} times)`);
  const acceptedAfter = Date.now() - first;
  assert.ok(refusals > 2, `refused ${refusals} times: the congestion lasts a while, not a count`);
  assert.ok(acceptedAfter >= 300, `first accepted ${acceptedAfter} ms after the first submit`);
  assert.equal(carrier.handset('+447700900041').inbox.all().length, 1);
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

test('connect: a refused or never-completing TCP connection fails naming host:port', async () => {
  // A listener that was just closed: the port refuses connections.
  const refusedPort = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  await assert.rejects(
    new SmppCustomerSession().connect({ host: '127.0.0.1', port: refusedPort, actor: 'test ESME' }),
    new RegExp(`test ESME could not connect to the SMSC at 127\\.0\\.0\\.1:${refusedPort}: .*ECONNREFUSED`),
  );

  // A connection that never completes (a black-holed SYN): a session over a socket that never connects.
  const original = smpp.connect;
  const stuck = new Socket();
  smpp.connect = () => new smpp.Session({ socket: stuck });
  try {
    const session = new SmppCustomerSession({ connectTimeoutMs: 50 });
    await assert.rejects(
      session.connect({ host: '198.51.100.7', port: 2775, actor: 'test ESME' }),
      (error: unknown) => {
        assert.ok(error instanceof SmppTimeoutError);
        assert.match(error.message, /no TCP connection to the SMSC at 198\.51\.100\.7:2775 within 50 ms/);
        return true;
      },
    );
    assert.equal(stuck.destroyed, true, 'the half-open socket is released');
    await assert.rejects(session.request('enquire_link'), /after the connection ended \(no TCP connection/);
  } finally {
    smpp.connect = original;
  }
});

test('sendRaw evidence hides the password of a bind, and keeps other PDUs as hex', () => {
  const bind = new smpp.PDU('bind_transceiver', {
    system_id: 'acme',
    password: 's3cr3tpw',
    system_type: '',
    interface_version: 0x34,
  }).toBuffer();
  const enquire = new smpp.PDU('enquire_link', {}).toBuffer();
  const passwordHex = Buffer.from('s3cr3tpw').toString('hex');
  const described = describeRawBytes(Buffer.concat([bind, enquire]));
  assert.doesNotMatch(described, new RegExp(passwordHex));
  assert.match(
    described,
    /command_id 0x00000009 \(bind_transceiver\), command_length \d+: .*<password redacted>/,
  );
  assert.match(described, new RegExp(Buffer.from('acme').toString('hex')), 'system_id stays visible');
  assert.match(described, new RegExp(`command_id 0x00000015, command_length 16: ${enquire.toString('hex')}`));
  // A bind cut short before its password ends, and one without a system_id terminator.
  const cut = bind.subarray(0, 16 + 5 + 3);
  assert.doesNotMatch(describeRawBytes(cut), new RegExp(Buffer.from('s3c').toString('hex')));
  const noTerminator = Buffer.concat([bind.subarray(0, 16), Buffer.from('acmes3cr3tpw')]);
  assert.match(describeRawBytes(noTerminator), /<body of 12 byte\(s\) redacted>/);

  const mark = traffic.mark();
  new SmppCustomerSession().sendRaw(bind, 'a bind with a bad interface version');
  const recorded = traffic.since(mark, 'SMPP');
  assert.equal(recorded.length, 1);
  assert.doesNotMatch(recorded[0].detail ?? '', new RegExp(passwordHex));
  assert.match(recorded[0].detail ?? '', /<password redacted>/);
});
