import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram, { type Socket } from 'node:dgram';
import { once } from 'node:events';
import { PlatformBus } from '../../platform/bus';
import { embeddedDefaults } from '../../platform/config';
import {
  startMediaRelay,
  readAudioTarget,
  rewriteSdpAddresses,
  RelaySession,
} from '../../platform/media-relay';
import { ENDPOINT_LEARNING_MS } from '../../platform/media-relay/session';
import { openStore } from '../../platform/store/store';

function deps(portMin = 0, portMax = 0) {
  const config = embeddedDefaults({ storeFile: ':memory:', adminApiKey: 'unused' });
  config.media = { ...config.media, portMin, portMax };
  const logs: string[] = [];
  // The relay keeps its sessions in the store (a successor restores them).
  return {
    deps: {
      config,
      db: openStore(':memory:'),
      bus: new PlatformBus(),
      log: (_role: string, m: string) => logs.push(m),
    },
    logs,
  };
}

async function udpPeer(): Promise<Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

function sdpFor(port: number, extra = ''): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=rtcp:9999',
    extra,
    '',
  ]
    .filter((l, i, all) => l !== '' || i === all.length - 1)
    .join('\r\n');
}

function rtp(
  seq: number,
  payloadType = 0,
  payload: Buffer = Buffer.alloc(160, 0xff),
  timestamp = seq * 160,
): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = payloadType;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(timestamp, 4);
  header.writeUInt32BE(0x1234, 8);
  return Buffer.concat([header, payload]);
}

/** Resolves when `count` datagrams arrived on the socket (event-driven, with a named timeout). */
function receive(
  socket: Socket,
  count: number,
  awaited: string,
): Promise<Array<{ data: Buffer; from: number }>> {
  const got: Array<{ data: Buffer; from: number }> = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(
        new Error(
          `timed out waiting for ${awaited}: got ${got.length} of ${count} datagrams on port ${socket.address().port}`,
        ),
      );
    }, 2000);
    const onMessage = (data: Buffer, info: dgram.RemoteInfo): void => {
      got.push({ data, from: info.port });
      if (got.length === count) {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(got);
      }
    };
    socket.on('message', onMessage);
  });
}

test('SDP: reads the audio target and rewrites addresses to the relay', () => {
  const sdp = sdpFor(40000, 'a=sendonly') + 'm=video 40002 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\n';
  const target = readAudioTarget(sdp);
  assert.deepEqual(target, {
    address: '127.0.0.1',
    port: 40000,
    telephoneEventPayloadType: 101,
    direction: 'sendonly',
  });
  const rewritten = rewriteSdpAddresses(sdp.replace(/127\.0\.0\.1/g, '192.0.2.7'), '127.0.0.1', 50000);
  assert.match(rewritten, /^o=- 1 1 IN IP4 127\.0\.0\.1$/m);
  assert.match(rewritten, /^c=IN IP4 127\.0\.0\.1$/m);
  assert.match(rewritten, /^m=audio 50000 RTP\/AVP 0 101$/m);
  assert.match(rewritten, /^m=video 0 RTP\/AVP 96$/m, 'only audio is relayed');
  assert.doesNotMatch(rewritten, /a=rtcp:/);
  assert.match(rewritten, /^a=sendonly$/m, 'hold direction passes through');
  assert.doesNotMatch(rewritten, /192\.0\.2\.7/);
  assert.equal(readAudioTarget('v=0\r\ns=-\r\n'), undefined);
  // rtpengine answers a rejected stream (port 0, RFC 3264 §6) with port 0, not a relay port.
  assert.match(rewriteSdpAddresses(sdpFor(0), '127.0.0.1', 50000), /^m=audio 0 RTP\/AVP 0 101$/m);
});

test('relays RTP both ways through a session, latches, and counts packets, bytes and DTMF', async () => {
  const { deps: roleDeps } = deps();
  const relay = await startMediaRelay(roleDeps);
  const caller = await udpPeer();
  const callee = await udpPeer();
  try {
    const session = await relay.allocate('call-1');
    // The caller's SDP goes to the callee rewritten to the relay's B port, and vice versa.
    const offerToCallee = session.rewriteSdp(sdpFor(caller.address().port), 'A');
    assert.equal(readAudioTarget(offerToCallee)?.port, session.port('B'));
    const answerToCaller = session.rewriteSdp(sdpFor(callee.address().port), 'B');
    assert.equal(readAudioTarget(answerToCaller)?.port, session.port('A'));

    const atCallee = receive(callee, 5, 'caller audio at the callee');
    for (let seq = 1; seq <= 5; seq += 1) caller.send(rtp(seq), session.port('A'), '127.0.0.1');
    const received = await atCallee;
    assert.equal(received.length, 5);
    assert.ok(
      received.every((r) => r.from === session.port('B')),
      'the callee only ever sees the relay',
    );
    assert.equal(received[0]?.data.readUInt16BE(2), 1);

    // RFC 4733: one '5' event, end packet sent three times, forwarded like audio, counted once.
    const event = (end: boolean) => Buffer.from([5, end ? 0x8a : 0x0a, 0x03, 0x20]);
    const atCaller = receive(caller, 6, 'callee audio and DTMF at the caller');
    callee.send(rtp(1), session.port('B'), '127.0.0.1');
    callee.send(rtp(2), session.port('B'), '127.0.0.1');
    callee.send(rtp(3, 101, event(false), 9999), session.port('B'), '127.0.0.1');
    for (let i = 0; i < 3; i += 1)
      callee.send(rtp(4 + i, 101, event(true), 9999), session.port('B'), '127.0.0.1');
    await atCaller;

    const stats = session.stats();
    assert.equal(stats.aToB.packets, 5);
    assert.equal(stats.aToB.bytes, 5 * 172);
    assert.equal(stats.bToA.packets, 6);
    assert.equal(stats.bToA.bytes, 2 * 172 + 4 * 16);
    assert.equal(stats.bToA.dtmfEvents, 1);
    assert.equal(stats.bToA.dtmfDigits, '5');
    assert.equal(stats.aToB.dtmfEvents, 0);
    assert.ok(stats.aToB.firstPacketAt !== null && stats.aToB.lastPacketAt !== null);
    // rtpengine: within 3 s of signalling the address is learned ("filled"), not yet confirmed.
    assert.equal(stats.sideA.latched, false);
    assert.equal(stats.sideA.peer, `127.0.0.1:${caller.address().port}`);
    await session.close();
    assert.equal(relay.sessions().length, 0);
  } finally {
    caller.close();
    callee.close();
    await relay.stop();
  }
});

test('symmetric RTP as rtpengine learns it: the latest source while signalling is fresh, then one confirmed address', async () => {
  const { deps: roleDeps } = deps();
  const relay = await startMediaRelay(roleDeps);
  const natted = await udpPeer();
  const callee = await udpPeer();
  const stranger = await udpPeer();
  const sockets: Socket[] = [];
  try {
    const session = await relay.allocate('call-2');
    session.rewriteSdp(sdpFor(9), 'A'); // advertises a port nobody listens on
    session.rewriteSdp(sdpFor(callee.address().port), 'B');
    const atCallee = receive(callee, 1, 'first caller packet');
    natted.send(rtp(1), session.port('A'), '127.0.0.1');
    await atCallee;
    const atCaller = receive(natted, 1, 'callee packet at the learned caller address');
    callee.send(rtp(1), session.port('B'), '127.0.0.1');
    await atCaller;
    // Fresh signalling: whoever sends last is the caller's address (and is relayed).
    const fromStranger = receive(callee, 1, "the stranger's packet, relayed while learning");
    stranger.send(rtp(2), session.port('A'), '127.0.0.1');
    await fromStranger;
    assert.equal(session.stats().sideA.peer, `127.0.0.1:${stranger.address().port}`);
    const back = receive(natted, 1, 'callee packet once the caller sent again');
    natted.send(rtp(3), session.port('A'), '127.0.0.1');
    await receive(callee, 1, 'the caller again');
    callee.send(rtp(2), session.port('B'), '127.0.0.1');
    await back;
    assert.equal(session.stats().aToB.packets, 3);

    // Past the learning window (a session whose signalling is old): the next packet confirms its
    // source; a stranger is still relayed and counted, but media for the caller stays with it.
    sockets.push(await udpPeer(), await udpPeer());
    const old = new RelaySession(
      'call-2-old',
      '127.0.0.1',
      sockets[0] as Socket,
      sockets[1] as Socket,
      () => undefined,
      () => undefined,
      { ...session.snapshot(), lastSignalMs: Date.now() - ENDPOINT_LEARNING_MS - 1 },
    );
    const confirmed = receive(callee, 1, 'the caller confirming its address');
    natted.send(rtp(4), old.port('A'), '127.0.0.1');
    await confirmed;
    assert.equal(old.stats().sideA.latched, true, 'confirmed');
    const relayed = receive(callee, 1, "the stranger's packet after the confirmation");
    stranger.send(rtp(5), old.port('A'), '127.0.0.1');
    const [strange] = await relayed;
    assert.equal(strange?.data.readUInt16BE(2), 5, 'relayed: rtpengine without strict-source does');
    const toCaller = receive(natted, 1, 'callee packet at the confirmed caller address');
    callee.send(rtp(3), old.port('B'), '127.0.0.1');
    await toCaller;
    assert.equal(old.stats().sideA.peer, `127.0.0.1:${natted.address().port}`, 'the address stays confirmed');
    await old.close();
  } finally {
    for (const socket of [natted, callee, stranger]) socket.close();
    await relay.stop();
  }
});

test('configured port range: allocates inside it and fails clearly when exhausted', async () => {
  const probe = await udpPeer();
  const base = probe.address().port;
  probe.close();
  await once(probe, 'close');
  const { deps: roleDeps } = deps(base, base + 1);
  const relay = await startMediaRelay(roleDeps);
  try {
    const session = await relay.allocate('call-3');
    assert.deepEqual([session.port('A'), session.port('B')].sort(), [base, base + 1]);
    await assert.rejects(relay.allocate('call-4'), /media port range .* exhausted/);
  } finally {
    await relay.stop();
  }
});

test('inactivity inputs: last media time from whatever arrives (rtpengine\'s "last packet"), hold state from either side', async () => {
  const { deps: roleDeps } = deps();
  const relay = await startMediaRelay(roleDeps);
  const caller = await udpPeer();
  const callee = await udpPeer();
  const stranger = await udpPeer();
  try {
    const session = await relay.allocate('call-idle');
    session.rewriteSdp(sdpFor(caller.address().port), 'A');
    session.rewriteSdp(sdpFor(callee.address().port), 'B');
    assert.equal(session.lastMediaAt(), null, 'no media yet');
    assert.equal(session.onHold(), false);

    const before = Date.now();
    const delivered = receive(callee, 1, 'the caller’s packet at the callee');
    caller.send(rtp(1), session.port('A'), '127.0.0.1');
    await delivered;
    const first = session.lastMediaAt();
    assert.ok(first !== null && first >= before, 'a relayed packet is activity');

    // As rtpengine: a packet from another source is activity too (and relayed while learning).
    const fromStranger = receive(callee, 1, 'the stranger’s packet');
    stranger.send(rtp(2), session.port('A'), '127.0.0.1');
    await fromStranger;
    assert.ok((session.lastMediaAt() ?? 0) >= first, 'the stranger’s packet is activity');
    const delivered2 = receive(callee, 1, 'the caller’s second packet');
    caller.send(rtp(3), session.port('A'), '127.0.0.1');
    await delivered2;
    assert.equal(session.stats().aToB.packets, 3, 'all three arrivals counted');

    session.rewriteSdp(sdpFor(caller.address().port, 'a=sendonly'), 'A');
    assert.equal(session.onHold(), true, 'sendonly from A');
    session.rewriteSdp(sdpFor(caller.address().port, 'a=sendrecv'), 'A');
    session.rewriteSdp(sdpFor(callee.address().port, 'a=inactive'), 'B');
    assert.equal(session.onHold(), true, 'inactive from B');
    session.rewriteSdp(sdpFor(callee.address().port, 'a=sendrecv'), 'B');
    assert.equal(session.onHold(), false, 'resumed');
    session.rewriteSdp(
      sdpFor(callee.address().port).replace(/c=IN IP4 127\.0\.0\.1/, 'c=IN IP4 0.0.0.0'),
      'B',
    );
    assert.equal(session.onHold(), true, 'the old 0.0.0.0 hold');
  } finally {
    for (const s of [caller, callee, stranger]) s.close();
    await relay.stop();
  }
});
