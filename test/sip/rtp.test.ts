import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDtmfEvent,
  decodeRtp,
  digitToEvent,
  encodeDtmfEvent,
  encodeRtp,
  eventToDigit,
  linearToMulaw,
  pcmuToneFrame,
  RtpDecodeError,
  RtpSession,
} from '../../world/sip/rtp';

test('an RTP packet survives encode/decode with every header field', () => {
  const payload = Buffer.alloc(160, 0x55);
  const datagram = encodeRtp({
    marker: true,
    payloadType: 0,
    sequenceNumber: 65535,
    timestamp: 0xfffffff0,
    ssrc: 0xdeadbeef,
    payload,
  });
  assert.equal(datagram.length, 172);
  assert.equal(datagram[0], 0x80, 'V=2, no padding, extension or CSRC');
  const decoded = decodeRtp(datagram);
  assert.equal(decoded.marker, true);
  assert.equal(decoded.payloadType, 0);
  assert.equal(decoded.sequenceNumber, 65535);
  assert.equal(decoded.timestamp, 0xfffffff0);
  assert.equal(decoded.ssrc, 0xdeadbeef);
  assert.deepEqual(decoded.payload, payload);
});

test('decoding skips CSRCs, header extensions and padding', () => {
  const header = Buffer.from([0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]); // P, X, CC=1
  const csrc = Buffer.from([0, 0, 0, 9]);
  const extension = Buffer.from([0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
  const payload = Buffer.from([7, 7, 7]);
  const padding = Buffer.from([0, 0, 3]);
  const decoded = decodeRtp(Buffer.concat([header, csrc, extension, payload, padding]));
  assert.deepEqual(decoded.csrcs, [9]);
  assert.deepEqual(decoded.payload, payload);
});

test('garbage is refused with a reason, never decoded', () => {
  assert.throws(() => decodeRtp(Buffer.from([0x80, 0])), RtpDecodeError);
  assert.throws(() => decodeRtp(Buffer.alloc(12)), /version 0/);
  assert.throws(() => decodeRtp(Buffer.from([0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), /CSRC count 15/);
});

test('RFC 4733 event payloads round-trip and digits map to events', () => {
  const payload = encodeDtmfEvent({ event: digitToEvent('#'), end: true, volume: 10, duration: 800 });
  assert.deepEqual([...payload], [11, 0x8a, 0x03, 0x20]);
  assert.deepEqual(decodeDtmfEvent(payload), { event: 11, end: true, volume: 10, duration: 800 });
  assert.equal(eventToDigit(digitToEvent('*')), '*');
  assert.equal(eventToDigit(digitToEvent('d')), 'D');
  assert.throws(() => digitToEvent('x'), /not a DTMF digit/);
});

test('PCMU: silence and full scale encode per G.711, and a tone frame repeats exactly', () => {
  assert.equal(linearToMulaw(0), 0xff);
  assert.equal(linearToMulaw(32767), 0x80);
  assert.equal(linearToMulaw(-32768), 0x00);
  const frame = pcmuToneFrame(1000);
  assert.equal(frame.length, 160);
  assert.deepEqual(frame.subarray(0, 8), frame.subarray(8, 16), '1 kHz at 8 kHz repeats every 8 samples');
  assert.throws(() => pcmuToneFrame(1234), /multiple of 50 Hz/);
});

test('two sessions exchange audio on a 20 ms schedule and detect each DTMF digit once', async () => {
  const a = await RtpSession.open({ actor: 'a' });
  const b = await RtpSession.open({ actor: 'b' });
  try {
    a.setRemote(b.localAddress.host, b.localAddress.port);
    b.setRemote(a.localAddress.host, a.localAddress.port);
    const started = Date.now();
    a.startSending();
    b.startSending();
    await Promise.all([a.waitForPackets(25, 2000), b.waitForPackets(25, 2000)]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 25 * 20 - 40, `25 packets took ${elapsed} ms: the sender must pace at 20 ms`);
    await a.sendDtmf('11', { durationMs: 60, gapMs: 40 });
    await b.dtmf.waitFor(() => b.dtmf.all().length >= 2, { awaited: 'two digits', timeoutMs: 1000 });
    a.stopSending();
    const stats = b.stats();
    assert.equal(
      stats.dtmfReceived,
      '11',
      'equal digits in a row stay two events; repeated end packets count once',
    );
    assert.equal(stats.lost, 0);
    assert.deepEqual(stats.payloadTypes, [0, 101]);
    assert.ok(stats.maxGapMs < 200, `max gap ${stats.maxGapMs} ms`);
    assert.equal(b.dtmf.all()[0].durationMs, 60);
  } finally {
    await a.close();
    await b.close();
  }
});

test('echo mode sends back what arrives; malformed datagrams are counted, not fatal', async () => {
  const phone = await RtpSession.open({ actor: 'phone' });
  const echo = await RtpSession.open({ actor: 'echo', echo: true });
  try {
    phone.setRemote(echo.localAddress.host, echo.localAddress.port);
    phone.startSending();
    await phone.waitForPackets(10, 2000);
    const { createSocket } = await import('node:dgram');
    const junk = createSocket('udp4');
    await new Promise<void>((done) =>
      junk.send(Buffer.from('not rtp'), echo.localPort, '127.0.0.1', () => done()),
    );
    junk.close();
    await echo.waitForPackets(15, 2000);
    phone.stopSending();
    assert.ok(phone.stats().toneFramesReceived >= 5, 'the echoed tone comes back intact');
    assert.equal(echo.stats().malformedReceived, 1);
    await assert.rejects(phone.waitForPackets(1_000_000, 30), /waiting for 1000000 RTP packets at phone/);
  } finally {
    await phone.close();
    await echo.close();
  }
});
