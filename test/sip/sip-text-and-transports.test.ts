import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { TransportState } from 'sip.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { PstnDouble } from '../../world/sip/pstn-double';
import {
  parseNameAddr,
  parseSipMessage,
  parseVia,
  redactSip,
  summarizeSip,
  SipParseError,
} from '../../world/sip/sip-text';
import { WsTransport } from '../../world/sip/transports';
import { traffic } from '../../world/traffic-log';

const OPTIONS = [
  'OPTIONS sip:+15550001@127.0.0.1 SIP/2.0',
  'v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa1;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa0',
  'f: "Bob" <sip:bob@example.com>;tag=1',
  't: <sip:+15550001@example.com>',
  'i: abcdef123456',
  'CSeq: 7 OPTIONS',
  'Authorization: Digest username="bob", realm="x", nonce="n", uri="sip:x", response="0123456789abcdef"',
  'l: 0',
  '',
  '',
].join('\r\n');

test('SIP text: compact headers, Via lists, name-addr, summary and redaction', () => {
  const message = parseSipMessage(OPTIONS);
  assert.equal(message.kind, 'request');
  assert.equal(message.headers.getAll('via').length, 2);
  assert.equal(message.headers.get('call-id'), 'abcdef123456');
  const via = parseVia(message.headers.get('via') ?? '');
  assert.equal(via.port, 5070);
  assert.equal(via.params.get('branch'), 'z9hG4bKa1');
  const from = parseNameAddr(message.headers.get('from') ?? '');
  assert.equal(from.displayName, 'Bob');
  assert.equal(from.params.get('tag'), '1');
  assert.equal(summarizeSip(OPTIONS), 'OPTIONS sip:+15550001@127.0.0.1 (Call-ID abcdef12)');
  assert.match(redactSip(OPTIONS), /response="<redacted>"/);
  assert.doesNotMatch(redactSip(OPTIONS), /0123456789abcdef/);
  assert.throws(
    () => parseSipMessage('INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n'),
    SipParseError,
  );
});

test('the PSTN double answers malformed SIP with 400 and keeps serving', async () => {
  const pstn = new PstnDouble({ peerActor: 'probe' });
  await pstn.start();
  const probe = createSocket('udp4');
  await new Promise<void>((done) => probe.bind(0, '127.0.0.1', done));
  const responses: string[] = [];
  const next = (): Promise<string> =>
    new Promise((resolve) => probe.once('message', (m) => resolve(m.toString())));
  try {
    const { port } = pstn.address();
    const broken = OPTIONS.replace('CSeq: 7 OPTIONS', 'CSeq: seven').replace(
      'v: SIP/2.0/UDP 127.0.0.1:5070',
      `v: SIP/2.0/UDP 127.0.0.1:${probe.address().port}`,
    );
    let reply = next();
    probe.send(broken, port, '127.0.0.1');
    responses.push(await reply);
    assert.match(responses[0], /^SIP\/2\.0 400 Bad Request/);
    reply = next();
    probe.send(OPTIONS, port, '127.0.0.1');
    responses.push(await reply);
    assert.match(responses[1], /^SIP\/2\.0 200 OK/);
    assert.match(responses[1], /Allow: INVITE/);
    assert.equal(pstn.problems.all().length, 1);
  } finally {
    probe.close();
    await pstn.stop();
  }
});

test('WebSocket transport: subprotocol sip, one message per frame, server close reported, no reconnect', async () => {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });
  await new Promise<void>((done) => server.once('listening', () => done()));
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the WebSocket server has no TCP address');
  const connected = new Promise<WebSocket>((resolve) =>
    server.once('connection', (socket) => resolve(socket)),
  );
  const transport = new WsTransport(undefined, {
    actor: 'ws-phone',
    peerActor: 'ws-server',
    url: `ws://127.0.0.1:${address.port}`,
  });
  const states: TransportState[] = [];
  transport.stateChange.addListener((s) => states.push(s));
  const received: string[] = [];
  transport.onMessage = (m) => received.push(m);
  let disconnectError: Error | undefined;
  transport.onDisconnect = (error) => {
    disconnectError = error;
  };
  try {
    await transport.connect();
    const serverSide = await connected;
    assert.equal(serverSide.protocol, 'sip');
    const echoed = new Promise<string>((resolve) =>
      serverSide.once('message', (data) => resolve(data.toString())),
    );
    await transport.send(OPTIONS);
    assert.equal(await echoed, OPTIONS);
    const arrived = new Promise<void>((resolve) => {
      transport.onMessage = (m) => {
        received.push(m);
        resolve();
      };
    });
    serverSide.send('SIP/2.0 200 OK\r\nCall-ID: abc\r\n\r\n');
    await arrived;
    assert.deepEqual(received, ['SIP/2.0 200 OK\r\nCall-ID: abc\r\n\r\n']);
    const closed = new Promise<void>((resolve) =>
      transport.stateChange.addListener((s) => s === TransportState.Disconnected && resolve()),
    );
    serverSide.close(1001, 'going away');
    await closed;
    assert.match(disconnectError?.message ?? '', /closed by the server \(code 1001\)/);
    assert.deepEqual(states, [
      TransportState.Connecting,
      TransportState.Connected,
      TransportState.Disconnected,
    ]);
    await assert.rejects(transport.send(OPTIONS), /not connected/);
    assert.ok(
      traffic
        .since(0, 'SIP')
        .some(
          (e) =>
            e.from === 'ws-phone' &&
            e.summary.startsWith('OPTIONS') &&
            (e.detail ?? '').includes('<redacted>'),
        ),
    );
  } finally {
    await transport.dispose();
    await new Promise<void>((done) => server.close(() => done()));
  }
});

test('the PSTN double records each problem in the traffic log as PROBLEM', async () => {
  const pstn = new PstnDouble({ actor: 'PSTN' });
  await pstn.start();
  const probe = createSocket('udp4');
  await new Promise<void>((done) => probe.bind(0, '127.0.0.1', done));
  const mark = traffic.mark();
  try {
    const reply = new Promise<string>((resolve) => probe.once('message', (m) => resolve(m.toString())));
    probe.send(OPTIONS.replace('CSeq: 7 OPTIONS', 'CSeq: seven'), pstn.address().port, '127.0.0.1');
    assert.match(await reply, /^SIP\/2\.0 400/);
    const problems = traffic.since(mark, 'SIP').filter((e) => e.summary.startsWith('PROBLEM:'));
    assert.equal(problems.length, 1);
    assert.equal(problems[0].from, 'PSTN');
    assert.match(problems[0].summary, /^PROBLEM: malformed SIP from 127\.0\.0\.1:\d+/);
    assert.equal(problems[0].detail, pstn.problems.all()[0]);
  } finally {
    probe.close();
    await pstn.stop();
  }
});

test('WebSocket transport: a server that does not confirm subprotocol "sip" fails connect() (RFC 7118)', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => false });
  await new Promise<void>((done) => server.once('listening', () => done()));
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the WebSocket server has no TCP address');
  const transport = new WsTransport(undefined, {
    actor: 'ws-phone',
    peerActor: 'ws-server',
    url: `ws://127.0.0.1:${address.port}`,
  });
  const mark = traffic.mark();
  try {
    await assert.rejects(
      transport.connect(),
      /ws-phone: could not connect SIP over WebSocket to ws:\/\/127\.0\.0\.1:\d+: .*did not confirm the WebSocket subprotocol "sip" \(RFC 7118/,
    );
    assert.equal(transport.state, TransportState.Disconnected);
    assert.equal(transport.isConnected(), false);
    assert.ok(
      traffic.since(mark, 'SIP').some((e) => /subprotocol "sip"/.test(e.summary)),
      'the refusal is in the evidence',
    );
  } finally {
    await transport.dispose();
    for (const client of server.clients) client.terminate();
    await new Promise<void>((done) => server.close(() => done()));
  }
});
