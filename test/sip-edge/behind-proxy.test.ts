/**
 * The edge as an application server behind a SIP proxy (Kamailio in the lab lane): the Path of
 * a registration becomes the Route of requests to it (RFC 3327), both sides of a call keep the
 * route set of their dialog (RFC 3261 §12), a trunk is recognised behind a trusted proxy by the
 * source the proxy recorded, and nobody else's Via is believed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { trueSource } from '../../platform/sip-edge/proxy';
import { parseSipMessage, type SipRequest } from '../../platform/sip-edge/message';
import {
  ACCOUNTS,
  addTrunk,
  answerInvite,
  cdrFor,
  placeCall,
  register,
  sendInDialog,
  startTestEdge,
  withAliceAndBob,
  type TestEdge,
} from './harness';
import { digestAnswer, header, RawSipClient, sdp, tagOf, type RawMessage } from './raw-sip-client';

const ALICE_CONTACT = 'sip:alice@a1b2c3.invalid;transport=ws';
/** Alice's WebSocket connection as the proxy saw it. */
const ALICE_SOURCE = 'sip:127.0.0.1:5555;transport=ws';

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  await once(socket, 'close');
  return port;
}

/** A fresh edge that trusts `proxy` (a raw client standing in for Kamailio), and bob registered directly. */
async function withProxy(
  body: (setup: { t: TestEdge; proxy: RawSipClient; bob: RawSipClient }) => Promise<void>,
): Promise<void> {
  const proxyPort = await freeUdpPort();
  const t = await startTestEdge({ trustedProxies: [{ host: '127.0.0.1', port: proxyPort }] });
  const proxy = await RawSipClient.open('proxy', t.server, proxyPort);
  const bob = await RawSipClient.open('bob', t.server);
  try {
    await register(bob, ACCOUNTS.bob, t.config.sip.domain);
    await body({ t, proxy, bob });
  } finally {
    await Promise.all([proxy.close(), bob.close()]);
    await t.stop();
  }
}

function pathOfProxy(proxy: RawSipClient): string {
  return `<sip:127.0.0.1:${proxy.port};lr;received=${ALICE_SOURCE}>`;
}

/** Alice (a WS phone behind the proxy) registers; the proxy adds its Via and a Path with received. */
async function registerAliceThroughProxy(t: TestEdge, proxy: RawSipClient): Promise<RawMessage> {
  const domain = t.config.sip.domain;
  const aor = `<sip:alice@${domain}>`;
  const base = {
    method: 'REGISTER',
    uri: `sip:${domain}`,
    from: `${aor};tag=ra`,
    to: aor,
    callId: 'reg-alice-ws',
  };
  const headers: Array<[string, string]> = [
    ['Via', 'SIP/2.0/WS a1b2c3.invalid;branch=z9hG4bKalice1;received=127.0.0.1;rport=5555'],
    ['Path', pathOfProxy(proxy)],
    ['Supported', 'outbound, path'],
    ['Contact', `<${ALICE_CONTACT}>;expires=300`],
  ];
  proxy.request({ ...base, cseq: 1, headers });
  const challenge = await proxy.waitForResponse(401, '1 REGISTER');
  const authorization = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
    ...ACCOUNTS.alice,
    method: 'REGISTER',
    uri: base.uri,
  });
  proxy.request({ ...base, cseq: 2, headers: [...headers, ['Authorization', authorization]] });
  return proxy.waitForResponse(200, '2 REGISTER');
}

function all(message: RawMessage, name: string): string[] {
  return message.headers.get(name) ?? [];
}

test('a registration through a proxy keeps its Path: the 200 echoes it and calls to the contact carry it as Route; the dialog then follows the Record-Route', async () => {
  await withProxy(async ({ t, proxy, bob }) => {
    const ok = await registerAliceThroughProxy(t, proxy);
    assert.deepEqual(all(ok, 'path'), [pathOfProxy(proxy)], 'RFC 3327 §5.3: the Path goes back to the UA');

    const call = await placeCall(bob, ACCOUNTS.bob, 'alice', t, 40100);
    const invite = await proxy.waitForRequest('INVITE');
    assert.equal(invite.requestUri, ALICE_CONTACT, 'the Request-URI is the registered contact');
    assert.deepEqual(all(invite, 'route'), [pathOfProxy(proxy)], 'the Route is the Path');

    // The proxy record-routed twice (WS side and UDP side), as Kamailio does across transports.
    const recordRoute = [
      `<sip:127.0.0.1:${proxy.port};transport=ws;r2=on;lr>`,
      `<sip:127.0.0.1:${proxy.port};r2=on;lr>`,
    ];
    const aliasedContact = `${ALICE_CONTACT};alias=127.0.0.1~5555~5`;
    proxy.reply(invite, 200, 'OK', {
      toTag: 'alice-tag',
      headers: [
        ...recordRoute.map((rr): [string, string] => ['Record-Route', rr]),
        ['Contact', `<${aliasedContact}>`],
      ],
      body: sdp(40102),
    });
    const answer = await bob.waitForResponse(200, '2 INVITE');
    const dialog = { from: call.from, to: header(answer, 'to') ?? '', callId: call.callId };
    sendInDialog(bob, dialog, 'ACK', 2);
    // The edge ACKs the callee once the caller has ACKed (end to end).
    const ack = await proxy.waitForRequest('ACK');
    const reversed = [...recordRoute].reverse();
    assert.equal(ack.requestUri, aliasedContact, 'in-dialog requests go to the answer’s Contact');
    assert.deepEqual(all(ack, 'route'), reversed, 'the UAC route set is the Record-Route reversed');

    sendInDialog(bob, dialog, 'BYE', 3);
    const bye = await proxy.waitForRequest('BYE');
    assert.equal(bye.requestUri, aliasedContact);
    assert.deepEqual(all(bye, 'route'), reversed, 'the BYE follows the same route set');
    proxy.reply(bye, 200, 'OK');
    await bob.waitForResponse(200, '3 BYE');
  });
});

test('a call through a proxy: the edge copies its Record-Route into the answer and routes its own BYE by it', async () => {
  await withProxy(async ({ t, proxy, bob }) => {
    await registerAliceThroughProxy(t, proxy);
    const domain = t.config.sip.domain;
    const uri = `sip:bob@${domain}`;
    const from = `<sip:alice@${domain}>;tag=alice-out`;
    const recordRoute = [
      `<sip:127.0.0.1:${proxy.port};r2=on;lr>`,
      `<sip:127.0.0.1:${proxy.port};transport=ws;r2=on;lr>`,
    ];
    const aliceVia: [string, string] = [
      'Via',
      'SIP/2.0/WS a1b2c3.invalid;branch=z9hG4bKaliceinv;received=127.0.0.1;rport=5555',
    ];
    const rr = recordRoute.map((value): [string, string] => ['Record-Route', value]);
    const contact: [string, string] = ['Contact', `<${ALICE_CONTACT};alias=127.0.0.1~5555~5>`];
    const spec = { method: 'INVITE', uri, from, to: `<${uri}>`, callId: 'alice-ws-call', body: sdp(40200) };
    proxy.request({ ...spec, cseq: 1, headers: [aliceVia, ...rr, contact] });
    const challenge = await proxy.waitForResponse(407, '1 INVITE');
    const credentials = digestAnswer(header(challenge, 'proxy-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'INVITE',
      uri,
    });
    proxy.request({
      ...spec,
      cseq: 2,
      headers: [aliceVia, ...rr, contact, ['Proxy-Authorization', credentials]],
    });

    const invite = await bob.waitForRequest('INVITE');
    answerInvite(bob, invite, 'bob-tag', 40202);
    const ok = await proxy.waitForResponse(200, '2 INVITE');
    assert.deepEqual(
      all(ok, 'record-route'),
      recordRoute,
      'RFC 3261 §12.1.1: the 2xx carries the Record-Route',
    );
    proxy.request({
      method: 'ACK',
      uri: 'sip:edge@127.0.0.1',
      from,
      to: header(ok, 'to') ?? '',
      callId: spec.callId,
      cseq: 2,
      headers: [aliceVia],
    });

    // Bob hangs up: the edge's BYE to alice goes through the proxy with the route set in order.
    bob.request({
      method: 'BYE',
      uri: 'sip:edge@127.0.0.1',
      from: header(invite, 'to') + ';tag=bob-tag',
      to: header(invite, 'from') ?? '',
      callId: header(invite, 'call-id') ?? '',
      cseq: 1,
    });
    const bye = await proxy.waitForRequest('BYE');
    assert.deepEqual(all(bye, 'route'), recordRoute, 'the UAS route set is the Record-Route in order');
    assert.equal(bye.requestUri, `${ALICE_CONTACT};alias=127.0.0.1~5555~5`);
    assert.equal(tagOf(header(bye, 'from')), tagOf(header(ok, 'to')));
  });
});

test('430 Flow Failed from the proxy for a registered contact: the binding is forgotten and the caller told the user is unavailable', async () => {
  await withProxy(async ({ t, proxy, bob }) => {
    await registerAliceThroughProxy(t, proxy);
    assert.equal(t.edge.registrations('alice').length, 1);
    const call = await placeCall(bob, ACCOUNTS.bob, 'alice', t, 40500);
    const invite = await proxy.waitForRequest('INVITE');
    proxy.reply(invite, 430, 'Flow Failed', { toTag: 'gone' });
    const refused = await bob.waitFor(
      (m) => m.status !== undefined && m.status >= 300 && header(m, 'cseq') === '2 INVITE',
      'the final answer to the call',
    );
    assert.equal(refused.status, 480);
    assert.deepEqual(t.edge.registrations('alice'), [], 'the binding whose flow failed is gone');
    assert.equal(cdrFor(t, call.callId)?.disposition, 'no-answer');
  });
});

test('behind a trusted proxy a trunk is known by the source the proxy recorded; the same Via from anyone else is not believed', async () => {
  await withProxy(async ({ t, proxy, bob }) => {
    const carrierPort = 6666;
    addTrunk(t.db, { id: 'trk_behind_proxy', port: carrierPort, prefixes: [] });
    const domain = t.config.sip.domain;
    const carrierVia: [string, string] = [
      'Via',
      `SIP/2.0/UDP carrier.example:5060;branch=z9hG4bKcarrier1;received=127.0.0.1;rport=${carrierPort}`,
    ];
    const invite = (client: RawSipClient, callId: string): void => {
      client.request({
        method: 'INVITE',
        uri: `sip:${ACCOUNTS.bob.number}@${domain}`,
        from: `<sip:+15559990000@carrier.example>;tag=${callId}`,
        to: `<sip:${ACCOUNTS.bob.number}@${domain}>`,
        callId,
        cseq: 1,
        headers: [
          carrierVia,
          ['Record-Route', `<sip:127.0.0.1:${proxy.port};lr>`],
          ['Contact', '<sip:carrier@carrier.example>'],
        ],
        body: sdp(40300),
      });
    };
    invite(proxy, 'from-carrier');
    const delivered = await bob.waitForRequest('INVITE');
    assert.equal(header(delivered, 'call-id') !== undefined, true);
    assert.equal(
      proxy.received.some((m) => m.status === 407),
      false,
      'a trunk call is not challenged',
    );
    bob.reply(delivered, 486, 'Busy Here', { toTag: 'busy' });
    await proxy.waitForResponse(486, '1 INVITE');

    // A phone that writes the carrier's address into a Via of its own is still just a phone.
    const spoofer = await RawSipClient.open('spoofer', t.server);
    try {
      invite(spoofer, 'spoofed');
      await spoofer.waitForResponse(407, '1 INVITE');
    } finally {
      await spoofer.close();
    }
  });
});

test('trueSource: the hop below a trusted proxy, never below anyone else', () => {
  const parse = (text: string): SipRequest => {
    const parsed = parseSipMessage(Buffer.from(text));
    assert.ok(parsed.ok && parsed.message.kind === 'request');
    return parsed.message as SipRequest;
  };
  const request = parse(
    'INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKp\r\n' +
      'Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKc;received=192.0.2.7;rport=40000\r\n' +
      'From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
  );
  const proxy = { host: '127.0.0.1', port: 5062 };
  const fromProxy = { transport: 'UDP' as const, address: '127.0.0.1', port: 5062 };
  assert.deepEqual(trueSource(request, fromProxy, [proxy]), {
    transport: 'UDP',
    address: '192.0.2.7',
    port: 40000,
  });
  assert.deepEqual(trueSource(request, fromProxy, []), fromProxy, 'no trusted proxy: the packet source');
  const elsewhere = { transport: 'UDP' as const, address: '127.0.0.1', port: 5063 };
  assert.deepEqual(
    trueSource(request, elsewhere, [proxy]),
    elsewhere,
    'another port of the same host is not the proxy',
  );
  const noRport = parse(
    'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKp\r\n' +
      'Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKc\r\n' +
      'From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  );
  assert.deepEqual(trueSource(noRport, fromProxy, [proxy]), {
    transport: 'UDP',
    address: '10.0.0.9',
    port: 5070,
  });
});

test("a callee's 503 reaches the caller as 500 (RFC 3261 §16.7): only the edge itself may say it is out of service", async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 40400);
    const invite = await bob.waitForRequest('INVITE');
    bob.reply(invite, 503, 'Service Unavailable', { toTag: 'down' });
    const refused = await alice.waitFor(
      (m) => m.status !== undefined && m.status >= 300 && header(m, 'cseq') === '2 INVITE',
      'the final answer to the call',
    );
    assert.equal(refused.status, 500);
    // The record is written before the caller is answered.
    assert.equal(cdrFor(t, call.callId)?.sip_status, 503, "the record keeps the callee's own answer");
  });
});
