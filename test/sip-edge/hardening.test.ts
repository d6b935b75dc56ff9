/**
 * Defects found by review of the edge's SIP side: header injection through %-decoded URI users,
 * URIs that parse but cannot be written back, calls that outlive both endpoints, stateful auth
 * challenges (a reflection amplifier), digest credentials for another URI, and oversized
 * WebSocket frames. Each test fails against the code before its fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import {
  ACCOUNTS,
  addTrunk,
  answerInvite,
  cdrFor,
  inviteCarolFromTrunk,
  placeCall,
  register,
  registerRequestBase,
  sendInDialog,
  startTestEdge,
  withAliceAndBob,
  withTrunkAndCarol,
  type TestEdge,
} from './harness';
import { digestAnswer, header, RawSipClient, sdp, tagOf, type RawMessage } from './raw-sip-client';

const FAST_TIMERS = { t1Ms: 25, t2Ms: 100, t4Ms: 125 };

const isResponse =
  (status: number, cseq: string, callId?: string) =>
  (m: RawMessage): boolean =>
    m.status === status &&
    header(m, 'cseq') === cseq &&
    (callId === undefined || header(m, 'call-id') === callId);

test('a dialed target with a %-encoded CRLF is refused (404) and never reaches the trunk; empty → 484', async () => {
  const t = await startTestEdge();
  const alice = await RawSipClient.open('alice', t.server);
  const trunk = await RawSipClient.open('pstn', t.server);
  try {
    addTrunk(t.db, { id: 'trk_all', port: trunk.port, prefixes: [] });
    const injected = await placeCall(alice, ACCOUNTS.alice, '+1555%0D%0AX-Injected:%20yes', t, 40000);
    await alice.waitFor(isResponse(404, '2 INVITE', injected.callId), '404 to the injected target');

    // A short code with "#" (sent escaped) is a valid number and goes out escaped again.
    const shortCode = await placeCall(alice, ACCOUNTS.alice, '*123%23', t, 40002);
    const invite = await trunk.waitForRequest('INVITE');
    assert.equal(invite.requestUri, `sip:*123%23@127.0.0.1:${trunk.port}`);
    assert.equal(header(invite, 'to'), `<sip:*123%23@127.0.0.1:${trunk.port}>`);
    trunk.reply(invite, 486, 'Busy Here', { toTag: 'p1' });
    await alice.waitFor(isResponse(486, '2 INVITE', shortCode.callId), '486 for the short code');
    assert.equal(trunk.received.filter((m) => m.method === 'INVITE').length, 1, 'only the valid call');
    assert.ok(!trunk.received.some((m) => /X-Injected/i.test(m.text)), 'no injected header at the trunk');

    // No user part anywhere: the address is incomplete (Kamailio's default script answers 484).
    const callId = 'no-user';
    const uri = `sip:${t.config.sip.domain}`;
    const from = `<sip:alice@${t.config.sip.domain}>;tag=nu`;
    const first = alice.request({
      method: 'INVITE',
      uri,
      from,
      to: `<${uri}>`,
      callId,
      cseq: 1,
      body: sdp(40004),
    });
    const challenge = await alice.waitFor(isResponse(407, '1 INVITE', callId), '407 to the user-less INVITE');
    alice.request({
      method: 'ACK',
      uri,
      from,
      to: header(challenge, 'to') ?? '',
      callId,
      cseq: 1,
      branch: first,
    });
    const credentials = digestAnswer(header(challenge, 'proxy-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'INVITE',
      uri,
    });
    alice.request({
      method: 'INVITE',
      uri,
      from,
      to: `<${uri}>`,
      callId,
      cseq: 2,
      headers: [['Proxy-Authorization', credentials]],
      body: sdp(40004),
    });
    await alice.waitFor(isResponse(484, '2 INVITE', callId), '484 to the user-less INVITE');
  } finally {
    await Promise.all([alice.close(), trunk.close()]);
    await t.stop();
  }
});

test('a carrier From user with a %-encoded CRLF is presented as anonymous, never copied raw', async () => {
  await withTrunkAndCarol(async (setup) => {
    const { t, pstn, carol } = setup;
    inviteCarolFromTrunk(setup, {
      from: '<sip:+1%0D%0AX-Evil:%20yes@127.0.0.1>;tag=pstn1',
      to: `<sip:${ACCOUNTS.carol.number}@127.0.0.1>`,
      callId: 'inbound-evil',
    });
    const invite = await carol.waitForRequest('INVITE');
    assert.equal(invite.headers.has('x-evil'), false, 'no injected header at the callee');
    assert.match(header(invite, 'from') ?? '', /^<sip:anonymous@/);
    carol.reply(invite, 486, 'Busy Here', { toTag: 'c1' });
    await pstn.waitForResponse(486, '1 INVITE');
    assert.equal(cdrFor(t, 'inbound-evil')?.caller, 'anonymous');
  });
});

test('URIs whose %-escapes decode to invalid text, and bare LF in a header, are answered 400', async () => {
  const t = await startTestEdge();
  const client = await RawSipClient.open('probe', t.server);
  try {
    client.request({
      method: 'OPTIONS',
      uri: 'sip:%25zz@127.0.0.1',
      from: '<sip:p@127.0.0.1>;tag=1',
      to: '<sip:127.0.0.1>',
      callId: 'bad-ruri',
      cseq: 1,
    });
    const badRuri = await client.waitForResponse(400, '1 OPTIONS');
    assert.match(header(badRuri, 'warning') ?? '', /Request-URI with an invalid %-escape/);

    const aor = '<sip:%25zz@127.0.0.1>';
    client.request({
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      from: `${aor};tag=2`,
      to: aor,
      callId: 'bad-to',
      cseq: 1,
      headers: [['Contact', `<${client.contact}>`]],
    });
    const badTo = await client.waitForResponse(400, '1 REGISTER');
    assert.match(header(badTo, 'warning') ?? '', /invalid %-escape/);

    // An authenticated REGISTER whose Contact cannot be written back: 400, not 500.
    const base = {
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      from: '<sip:alice@127.0.0.1>;tag=3',
      to: '<sip:alice@127.0.0.1>',
      callId: 'bad-contact',
    };
    const contact: [string, string] = ['Contact', `<sip:%25zz@127.0.0.1:${client.port}>`];
    client.request({ ...base, cseq: 1, headers: [contact] });
    const challenge = await client.waitForResponse(401, '1 REGISTER');
    const authorization = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'REGISTER',
      uri: base.uri,
    });
    client.request({ ...base, cseq: 2, headers: [contact, ['Authorization', authorization]] });
    await client.waitForResponse(400, '2 REGISTER');

    const via = `Via: SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bKlf;rport`;
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${via}\r\nFrom: <sip:p@127.0.0.1>;tag=4\r\nTo: <sip:127.0.0.1>\r\nCall-ID: bare-lf\r\nCSeq: 1 OPTIONS\r\nSubject: a\nX-Smuggled: b\r\nContent-Length: 0\r\n\r\n`,
    );
    const bareLf = await client.waitFor(
      (m) => m.status === 400 && header(m, 'call-id') === 'bare-lf',
      '400 for a bare LF inside a header',
    );
    assert.match(header(bareLf, 'warning') ?? '', /bare CR, LF or NUL/);
    // "→ 500 " is an answer the edge sent; a bare 500 would also match ports such as 127.0.0.1:45003.
    assert.ok(!t.logs.some((l) => /unhandled error|handling .* failed|→ 500 /.test(l)), t.logs.join('\n'));
  } finally {
    await client.close();
    await t.stop();
  }
});

test('auth challenges and failures are stateless: never retransmitted, their ACK absorbed silently; a 404 still is', async () => {
  const t = await startTestEdge(FAST_TIMERS);
  const alice = await RawSipClient.open('alice', t.server);
  try {
    const domain = t.config.sip.domain;
    const uri = `sip:nobody@${domain}`;
    const from = `<sip:alice@${domain}>;tag=st`;
    const invite = (callId: string, cseq: number, headers: Array<[string, string]> = []): string =>
      alice.request({ method: 'INVITE', uri, from, to: `<${uri}>`, callId, cseq, headers, body: sdp(40010) });

    invite('spoofed', 1);
    const challenge = await alice.waitFor(isResponse(407, '1 INVITE', 'spoofed'), '407');
    assert.ok(tagOf(header(challenge, 'to')), 'a stateless final carries a To tag');
    const www = header(challenge, 'proxy-authenticate') ?? '';
    const unknownUser = digestAnswer(www, { username: 'mallory', password: 'x', method: 'INVITE', uri });
    invite('unknown-user', 1, [['Proxy-Authorization', unknownUser]]);
    // Challenged like a wrong password (no enumeration), and statelessly too.
    await alice.waitFor(isResponse(407, '1 INVITE', 'unknown-user'), '407 for an unknown user');

    // The control: an authenticated INVITE to nobody gets a stateful 404, retransmitted (Timer G)
    // until ACKed. Once it has gone out 3 times, a stateful 407 would have been resent too.
    const good = digestAnswer(www, { ...ACCOUNTS.alice, method: 'INVITE', uri });
    const branch404 = invite('no-route', 1, [['Proxy-Authorization', good]]);
    await alice.waitForCount(isResponse(404, '1 INVITE', 'no-route'), 3, '404 (retransmitted by Timer G)');
    assert.equal(alice.received.filter(isResponse(407, '1 INVITE', 'spoofed')).length, 1, 'one 407 only');
    assert.equal(
      alice.received.filter(isResponse(407, '1 INVITE', 'unknown-user')).length,
      1,
      'one 407 only for the unknown user',
    );
    const notFound = alice.received.find(isResponse(404, '1 INVITE', 'no-route'));
    assert.ok(notFound);
    alice.request({
      method: 'ACK',
      uri,
      from,
      to: header(notFound, 'to') ?? '',
      callId: 'no-route',
      cseq: 1,
      branch: branch404,
    });

    // The ACK of the 407 is absorbed without state and without a "dropped" log line.
    alice.request({
      method: 'ACK',
      uri,
      from,
      to: header(challenge, 'to') ?? '',
      callId: 'spoofed',
      cseq: 1,
    });
    alice.request({
      method: 'OPTIONS',
      uri: `sip:${domain}`,
      from,
      to: `<sip:${domain}>`,
      callId: 'sync',
      cseq: 1,
    });
    await alice.waitForResponse(200, '1 OPTIONS'); // handled after the ACKs: they were processed
    assert.ok(!t.logs.some((l) => /ACK .*spoofed.*dropped|dropped.*spoofed/.test(l)), t.logs.join('\n'));
    assert.ok(t.logs.some((l) => /407 Proxy Authentication Required .*\(stateless\)/.test(l)));
  } finally {
    await alice.close();
    await t.stop();
  }
});

test('digest credentials computed for another URI are refused with 400 (INVITE and REGISTER)', async () => {
  const t = await startTestEdge();
  const alice = await RawSipClient.open('alice', t.server);
  const bob = await RawSipClient.open('bob', t.server);
  try {
    const domain = t.config.sip.domain;
    await register(bob, ACCOUNTS.bob, domain);
    const uri = `sip:bob@${domain}`;
    const from = `<sip:alice@${domain}>;tag=du`;
    alice.request({ method: 'INVITE', uri, from, to: `<${uri}>`, callId: 'du', cseq: 1, body: sdp(40020) });
    const challenge = await alice.waitForResponse(407, '1 INVITE');
    const forCarol = digestAnswer(header(challenge, 'proxy-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'INVITE',
      uri: `sip:carol@${domain}`,
    });
    alice.request({
      method: 'INVITE',
      uri,
      from,
      to: `<${uri}>`,
      callId: 'du',
      cseq: 2,
      headers: [['Proxy-Authorization', forCarol]],
      body: sdp(40020),
    });
    const refused = await alice.waitForResponse(400, '2 INVITE');
    assert.match(header(refused, 'warning') ?? '', /digest uri/);

    const base = registerRequestBase('alice', domain, 'r', 'du-reg');
    alice.request({ ...base, cseq: 1 });
    const www = await alice.waitForResponse(401, '1 REGISTER');
    const otherUri = digestAnswer(header(www, 'www-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'REGISTER',
      uri: 'sip:elsewhere.example',
    });
    alice.request({ ...base, cseq: 2, headers: [['Authorization', otherUri]] });
    await alice.waitForResponse(400, '2 REGISTER');
    assert.equal(bob.received.filter((m) => m.method === 'INVITE').length, 0, 'no call reached bob');
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    await t.stop();
  }
});

test('a WebSocket frame over 64 KiB closes the connection with 1009', async () => {
  const t = await startTestEdge();
  const socket = new WebSocket(t.edge.endpoints.ws, 'sip');
  try {
    await once(socket, 'open');
    const closed = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('no close within 2000 ms after a 70 KiB frame; expected close code 1009')),
        2000,
      );
      socket.once('close', (code: number) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    socket.on('error', () => undefined); // the close code is what is checked
    socket.send(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Pad: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    assert.equal(await closed, 1009);
  } finally {
    socket.terminate();
    await t.stop();
  }
});

interface AnsweredCall {
  callId: string;
  /** The caller's dialog (From, To with tags) for in-dialog requests. */
  from: string;
  to: string;
  answeredAt: number;
}

/** Alice calls bob, bob answers, alice ACKs. `answeredLegs` holds the B-leg Call-IDs already used. */
async function answeredCall(
  t: TestEdge,
  alice: RawSipClient,
  bob: RawSipClient,
  port: number,
  answeredLegs: Set<string>,
): Promise<AnsweredCall> {
  const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, port);
  const invite = await bob.waitFor(
    (m) =>
      m.method === 'INVITE' &&
      header(m, 'cseq') === '1 INVITE' &&
      !answeredLegs.has(header(m, 'call-id') ?? ''),
    'a new INVITE at bob',
  );
  answeredLegs.add(header(invite, 'call-id') ?? '');
  answerInvite(bob, invite, `b${port}`, port + 1);
  const answered = await alice.waitFor(isResponse(200, '2 INVITE', call.callId), '200 to the INVITE');
  const to = header(answered, 'to') ?? '';
  sendInDialog(alice, { from: call.from, to, callId: call.callId }, 'ACK', 2);
  await bob.waitFor(
    (m) => m.method === 'ACK' && header(m, 'call-id') === header(invite, 'call-id'),
    'ACK at bob',
  );
  return { callId: call.callId, from: call.from, to, answeredAt: Date.now() };
}

test('RTP inactivity: a silent answered call ends with BYE on both legs and a platform CDR; a held call is spared', async () => {
  const inactivityTimeoutMs = 300;
  await withAliceAndBob(
    async ({ t, alice, bob }) => {
      // Call 1 goes on hold (sendonly / recvonly) and stays silent.
      const legs = new Set<string>();
      const held = await answeredCall(t, alice, bob, 42000, legs);
      sendInDialog(alice, held, 'INVITE', 3, {
        headers: [['Contact', `<${alice.contact}>`]],
        body: sdp(42000).replace('a=sendrecv', 'a=sendonly'),
      });
      const reinvite = await bob.waitFor(
        (m) => m.method === 'INVITE' && header(m, 'cseq') === '2 INVITE',
        're-INVITE',
      );
      bob.reply(reinvite, 200, 'OK', {
        headers: [['Contact', `<${bob.contact}>`]],
        body: sdp(42001).replace('a=sendrecv', 'a=recvonly'),
      });
      await alice.waitFor(isResponse(200, '3 INVITE', held.callId), '200 to the hold re-INVITE');
      sendInDialog(alice, held, 'ACK', 3);

      // Call 2 is answered later and stays silent without hold: it must be ended by the platform.
      const silent = await answeredCall(t, alice, bob, 43000, legs);
      const byeA = await alice.waitFor(
        (m) => m.method === 'BYE' && header(m, 'call-id') === silent.callId,
        'BYE for the silent call at alice',
        inactivityTimeoutMs + 3000,
      );
      const elapsed = Date.now() - silent.answeredAt;
      assert.ok(elapsed >= inactivityTimeoutMs - 50, `ended after ${elapsed} ms, not before the timeout`);
      alice.reply(byeA, 200, 'OK');
      const byeB = await bob.waitForRequest('BYE');
      bob.reply(byeB, 200, 'OK');
      const cdr = cdrFor(t, silent.callId);
      assert.equal(cdr?.hangup_by, 'platform');
      assert.equal(cdr?.disposition, 'answered');
      assert.ok(t.logs.some((l) => /no RTP from either side/.test(l)));

      // The held call was silent at least as long, and is still up; only its relay is open.
      const active = t.edge.activeCalls();
      assert.deepEqual(
        active.map((c) => c.sipCallId),
        [held.callId],
        'only the held call is left',
      );
      assert.equal(t.relay.sessions().length, 1, 'the silent call’s relay sockets are closed');
      assert.equal(cdrFor(t, held.callId), undefined);
      assert.equal(alice.received.filter((m) => m.method === 'BYE').length, 1);
    },
    {},
    { inactivityTimeoutMs, heldInactivityTimeoutMs: 60_000 },
  );
});
