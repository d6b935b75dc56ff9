/**
 * The raw SIP probe (bind failures, redaction) and SipPhone.stop() reporting what went wrong
 * while still releasing everything, against a hand-written registrar on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { SipDatagramProbe } from '../../world/probes/sip-datagram-probe';
import { PhoneStopError, SipPhone } from '../../world/sip/sip-phone';
import { traffic } from '../../world/traffic-log';

async function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  return socket;
}

function closed(socket: Socket): Promise<void> {
  return new Promise((done) => socket.close(() => done()));
}

/** Open UDP sockets; two check phases let libuv drop handles whose close() already called back. */
async function udpSockets(): Promise<number> {
  for (let turn = 0; turn < 2; turn += 1) await new Promise((done) => setImmediate(done));
  return process.getActiveResourcesInfo().filter((name) => name === 'UDPWrap').length;
}

test('the probe reports a bind failure clearly and redacts digest responses in the evidence', async () => {
  // 192.0.2.1 (TEST-NET-1) is no local address: binding there must fail, not hang or crash.
  await assert.rejects(
    new SipDatagramProbe('garbled device').open('192.0.2.1'),
    /garbled device: could not bind a UDP socket on 192\.0\.2\.1: .*EADDRNOTAVAIL/,
  );
  const probe = new SipDatagramProbe('garbled device');
  const target = await bound();
  const mark = traffic.mark();
  try {
    await probe.open();
    const arrived = new Promise<string>((resolve) => target.once('message', (m) => resolve(m.toString())));
    const secret = '5f2a9c0d1e3b4a6f';
    await probe.send(
      [
        'REGISTER sip:example.com SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${probe.port()};branch=z9hG4bKp1`,
        `Authorization: Digest username="bob", realm="x", nonce="n", uri="sip:example.com", response="${secret}"`,
        '',
        '',
      ].join('\r\n'),
      { host: '127.0.0.1', port: target.address().port },
    );
    assert.match(await arrived, new RegExp(secret), 'the wire carries the real text');
    const sent = traffic.since(mark, 'SIP').filter((e) => e.from === 'garbled device');
    assert.equal(sent.length, 1);
    assert.doesNotMatch(sent[0].detail ?? '', new RegExp(secret));
    assert.match(sent[0].detail ?? '', /response="<redacted>"/);
  } finally {
    await probe.close();
    await closed(target);
  }
});

/** A registrar that accepts REGISTER and refuses the un-REGISTER (Expires 0) with 403. */
async function refusingRegistrar(): Promise<Socket> {
  const socket = await bound();
  socket.on('message', (buffer, from) => {
    const text = buffer.toString('utf8');
    if (!text.startsWith('REGISTER ')) return;
    const lines = text.split('\r\n');
    const header = (name: string): string | undefined =>
      lines
        .find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))
        ?.replace(/^[^:]+:\s*/, '');
    const contact = header('Contact') ?? '';
    const unregister = header('Expires') === '0' || /;\s*expires=0\b/i.test(contact);
    const response = [
      unregister ? 'SIP/2.0 403 Forbidden' : 'SIP/2.0 200 OK',
      ...lines.filter((line) => /^(Via|From|Call-ID|CSeq):/i.test(line)),
      `To: ${header('To') ?? ''};tag=registrar`,
      ...(unregister ? [] : [`Contact: ${contact};expires=600`]),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(response, from.port, from.address);
  });
  return socket;
}

test('SipPhone.stop() releases everything, then rejects listing the refused un-REGISTER', async () => {
  const registrar = await refusingRegistrar();
  const baseline = await udpSockets();
  const { port } = registrar.address();
  const phone = new SipPhone({
    actor: 'alice-phone',
    username: 'alice',
    password: 'secret',
    domain: '127.0.0.1',
    transport: 'udp',
    server: { host: '127.0.0.1', port },
    requestTimeoutMs: 1000,
  });
  try {
    await phone.start();
    await phone.register();
    assert.equal(phone.isRegistered, true);
    assert.ok((await udpSockets()) > baseline);
    await assert.rejects(phone.stop(), (error: unknown) => {
      assert.ok(error instanceof PhoneStopError);
      assert.equal(error.problems.length, 1);
      assert.match(error.problems[0], /un-REGISTER refused with 403 Forbidden/);
      assert.match(
        error.message,
        /alice-phone: stopping the phone released everything, but 1 thing\(s\) went wrong/,
      );
      return true;
    });
    assert.equal(await udpSockets(), baseline, 'the phone closed its socket although stop() rejected');
    await phone.stop(); // nothing left to do, nothing to report
  } finally {
    await phone.stop().catch(() => undefined);
    await closed(registrar);
  }
});
