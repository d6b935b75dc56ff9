import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { ACCOUNTS, CUSTOMER, register, registerRequestBase, startTestEdge } from './harness';
import { digestAnswer, header, parseRaw, RawSipClient, tagOf } from './raw-sip-client';

function options(client: RawSipClient, callId: string, cseq = 1): string {
  return client.request({
    method: 'OPTIONS',
    uri: 'sip:127.0.0.1',
    from: '<sip:probe@127.0.0.1>;tag=p',
    to: '<sip:127.0.0.1>',
    callId,
    cseq,
  });
}

test('malformed SIP gets 400 (or is dropped when unanswerable) and the edge keeps serving', async () => {
  const t = await startTestEdge();
  const client = await RawSipClient.open('probe', t.server);
  try {
    const port = client.port;
    const via = `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKbad1;rport`;
    // Missing Call-ID: dropped unanswered, as Kamailio's core does (a response could not be matched).
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${via}\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    );
    // Unparseable From: answered 400, the Via addressed by rport and received.
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${via.replace('bad1', 'bad5')}\r\nFrom: <<garbage\r\nTo: <sip:127.0.0.1>\r\nCall-ID: c5\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    );
    const badFrom = await client.waitFor(
      (m) => m.status === 400 && header(m, 'call-id') === 'c5',
      '400 for an unparseable From',
    );
    assert.match(header(badFrom, 'warning') ?? '', /From/);
    assert.equal(
      header(badFrom, 'via'),
      `SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKbad5;rport=${port};received=127.0.0.1`,
    );

    // Bad CSeq number, and CSeq method not matching the request.
    const viaB = via.replace('bad1', 'bad2');
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${viaB}\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: c2\r\nCSeq: abc OPTIONS\r\n\r\n`,
    );
    await client.waitFor((m) => m.status === 400 && header(m, 'call-id') === 'c2', '400 for CSeq "abc"');
    const viaC = via.replace('bad1', 'bad3');
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${viaC}\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: c3\r\nCSeq: 1 INVITE\r\n\r\n`,
    );
    const mismatch = await client.waitFor(
      (m) => m.status === 400 && header(m, 'call-id') === 'c3',
      '400 for a CSeq method mismatch',
    );
    assert.match(header(mismatch, 'warning') ?? '', /does not match/);

    // Content-Length longer than the datagram (RFC 3261 §18.3).
    client.sendRaw(
      `OPTIONS sip:127.0.0.1 SIP/2.0\r\n${via.replace('bad1', 'bad4')}\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: c4\r\nCSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\nv=0`,
    );
    await client.waitFor(
      (m) => m.status === 400 && header(m, 'call-id') === 'c4',
      '400 for a truncated body',
    );

    // Garbage and a response-looking message nobody asked for: nothing to answer, just dropped.
    client.sendRaw(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]));
    client.sendRaw(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnobody\r\nContent-Length: 0\r\n\r\n',
    );
    client.sendRaw('hello\r\n\r\n');

    // The next valid request is served normally.
    options(client, 'after-garbage');
    const ok = await client.waitFor(
      (m) => m.status === 200 && header(m, 'call-id') === 'after-garbage',
      '200 to OPTIONS after malformed input',
    );
    assert.match(header(ok, 'allow') ?? '', /INVITE/);
    assert.equal(
      client.received.filter((m) => m.status === 400).length,
      4,
      'garbage without a request line, and a request without Call-ID, are not answered',
    );
    assert.ok(
      client.received.every((m) => header(m, 'call-id') !== undefined),
      'nothing answered the request without Call-ID',
    );
    assert.ok(
      t.logs.some((l) => /dropped \(no response can be addressed\)/.test(l)),
      'dropped input is logged',
    );

    // Unknown method → 501; known but not served → 405 with Allow.
    client.request({
      method: 'FOO',
      uri: 'sip:127.0.0.1',
      from: '<sip:p@127.0.0.1>;tag=1',
      to: '<sip:127.0.0.1>',
      callId: 'foo',
      cseq: 1,
    });
    await client.waitForResponse(501, '1 FOO');
    client.request({
      method: 'SUBSCRIBE',
      uri: 'sip:127.0.0.1',
      from: '<sip:p@127.0.0.1>;tag=1',
      to: '<sip:127.0.0.1>',
      callId: 'sub',
      cseq: 1,
    });
    const notAllowed = await client.waitForResponse(405, '1 SUBSCRIBE');
    assert.match(header(notAllowed, 'allow') ?? '', /REGISTER/);
  } finally {
    await client.close();
    await t.stop();
  }
});

test('REGISTER: 401 challenge, authenticated 200 with the binding, wrong password and unknown user challenged alike, un-register', async () => {
  const t = await startTestEdge();
  const phone = await RawSipClient.open('alice', t.server);
  try {
    const domain = t.config.sip.domain;
    const base = registerRequestBase('alice', domain, 'a1', 'reg-1');
    const contact: [string, string] = ['Contact', `<${phone.contact}>`];
    const firstBranch = phone.request({ ...base, cseq: 1, headers: [contact, ['Expires', '120']] });
    const challenge = await phone.waitForResponse(401, '1 REGISTER');
    const www = header(challenge, 'www-authenticate') ?? '';
    assert.match(www, /^Digest /);
    assert.match(www, new RegExp(`realm="${domain.replace(/\./g, '\\.')}"`));
    assert.match(www, /nonce="[^"]+"/);
    assert.match(www, /opaque="[^"]+"/);
    assert.match(www, /algorithm=MD5/);
    assert.match(www, /qop="auth"/);

    // Challenges are stateless (Kamailio's www_challenge): a retransmission of the same request is
    // simply challenged again, with the same stateless To tag and a fresh nonce.
    phone.request({ ...base, cseq: 1, branch: firstBranch, headers: [contact, ['Expires', '120']] });
    await phone.waitFor(
      (m) => m.status === 401 && phone.received.filter((r) => r.status === 401).length === 2,
      'the second 401',
    );
    const again = phone.received.filter((r) => r.status === 401)[1];
    assert.ok(again);
    assert.equal(header(again, 'to'), header(challenge, 'to'), 'same stateless To tag');
    assert.ok(tagOf(header(challenge, 'to')), 'a stateless final still carries a To tag');

    const wrong = digestAnswer(www, {
      username: 'alice',
      password: 'nope',
      method: 'REGISTER',
      uri: base.uri,
    });
    phone.request({ ...base, cseq: 2, headers: [contact, ['Authorization', wrong]] });
    await phone.waitForResponse(401, '2 REGISTER'); // Kamailio: a failed check is challenged again

    const unknown = digestAnswer(www, {
      username: 'mallory',
      password: 'x',
      method: 'REGISTER',
      uri: base.uri,
    });
    phone.request({ ...base, cseq: 3, headers: [contact, ['Authorization', unknown]] });
    // The same answer as a wrong password: a scanner cannot tell which accounts exist.
    const unknownAnswer = await phone.waitForResponse(401, '3 REGISTER');
    assert.equal(unknownAnswer.startLine, 'SIP/2.0 401 Unauthorized');

    const good = digestAnswer(www, { ...ACCOUNTS.alice, method: 'REGISTER', uri: base.uri });
    phone.request({ ...base, cseq: 4, headers: [contact, ['Expires', '120'], ['Authorization', good]] });
    const ok = await phone.waitForResponse(200, '4 REGISTER');
    assert.equal(header(ok, 'contact'), `<${phone.contact}>;expires=120`);
    const [binding] = t.edge.registrations('alice');
    assert.equal(binding?.contact, phone.contact);
    assert.equal(binding?.source, `127.0.0.1:${phone.port}`);
    assert.equal(binding?.transport, 'UDP');

    // Another user's credentials for alice's AOR: 403 Forbidden auth ID.
    const bobCreds = digestAnswer(www, { ...ACCOUNTS.bob, method: 'REGISTER', uri: base.uri });
    phone.request({ ...base, cseq: 5, headers: [contact, ['Authorization', bobCreds]] });
    await phone.waitForResponse(403, '5 REGISTER');

    // Expires: 0 removes the binding.
    phone.request({
      ...base,
      cseq: 6,
      headers: [
        ['Contact', `<${phone.contact}>;expires=0`],
        ['Authorization', good],
      ],
    });
    const removed = await phone.waitForResponse(200, '6 REGISTER');
    assert.equal(header(removed, 'contact'), undefined);
    assert.deepEqual(t.edge.registrations('alice'), []);
  } finally {
    await phone.close();
    await t.stop();
  }
});

test('REGISTER with an expired nonce is challenged again with stale=true', async () => {
  const t = await startTestEdge({ nonceTtlMs: -1 }); // every nonce is already too old
  const phone = await RawSipClient.open('alice', t.server);
  try {
    const base = registerRequestBase('alice', t.config.sip.domain, 's1', 'reg-stale');
    phone.request({ ...base, cseq: 1, headers: [['Contact', `<${phone.contact}>`]] });
    const challenge = await phone.waitForResponse(401, '1 REGISTER');
    assert.doesNotMatch(header(challenge, 'www-authenticate') ?? '', /stale/);
    const answer = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
      ...ACCOUNTS.alice,
      method: 'REGISTER',
      uri: base.uri,
    });
    phone.request({
      ...base,
      cseq: 2,
      headers: [
        ['Contact', `<${phone.contact}>`],
        ['Authorization', answer],
      ],
    });
    const stale = await phone.waitForResponse(401, '2 REGISTER');
    assert.match(header(stale, 'www-authenticate') ?? '', /stale=true/);
  } finally {
    await phone.close();
    await t.stop();
  }
});

test('WebSocket: subprotocol "sip", one message per frame, the binding follows the connection', async () => {
  const t = await startTestEdge();
  const ws = new WebSocket(t.edge.endpoints.ws, 'sip');
  try {
    await once(ws, 'open');
    assert.equal(ws.protocol, 'sip');
    const next = (): Promise<string> =>
      new Promise((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    const domain = t.config.sip.domain;
    const aor = `<sip:bob@${domain}>`;
    const req = (cseq: number, extra: string[]): string =>
      [
        `REGISTER sip:${domain} SIP/2.0`,
        'Via: SIP/2.0/WS abc.invalid;branch=z9hG4bKws' + cseq,
        `From: ${aor};tag=w1`,
        `To: ${aor}`,
        'Call-ID: ws-reg',
        `CSeq: ${cseq} REGISTER`,
        'Contact: <sip:bob@abc.invalid;transport=ws>',
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    let reply = next();
    ws.send(req(1, []));
    const challenge = parseRaw(await reply, { address: '', port: 0 });
    assert.equal(challenge.status, 401);
    assert.equal(
      header(challenge, 'via'),
      'SIP/2.0/WS abc.invalid;branch=z9hG4bKws1',
      'no received/rport on WS',
    );
    const auth = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
      ...ACCOUNTS.bob,
      method: 'REGISTER',
      uri: `sip:${domain}`,
    });
    reply = next();
    ws.send(req(2, [`Authorization: ${auth}`]));
    assert.equal(parseRaw(await reply, { address: '', port: 0 }).status, 200);
    assert.equal(t.edge.registrations('bob')[0]?.transport, 'WS');
    ws.close();
    await once(ws, 'close');
    // The edge learns of the close from its own socket: poll its state each turn of the event loop, bounded.
    const deadline = Date.now() + 2000;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (t.edge.registrations('bob').length === 0) resolve();
        else if (Date.now() > deadline)
          reject(
            new Error(
              `bob's WS binding survived the closed connection: ${JSON.stringify(t.edge.registrations('bob'))}`,
            ),
          );
        else setImmediate(check);
      };
      check();
    });
  } finally {
    ws.terminate();
    await t.stop();
  }
});

test('WebSocket without the "sip" subprotocol is refused', async () => {
  const t = await startTestEdge();
  const ws = new WebSocket(t.edge.endpoints.ws);
  try {
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1002);
  } finally {
    await t.stop();
  }
});

test('a registered phone is reachable after REGISTER helper (smoke for the call tests)', async () => {
  const t = await startTestEdge();
  const phone = await RawSipClient.open('carol', t.server);
  try {
    const ok = await register(phone, ACCOUNTS.carol, t.config.sip.domain);
    assert.match(header(ok, 'contact') ?? '', /expires=300/);
  } finally {
    await phone.close();
    await t.stop();
  }
});

test('the registrar grants the lifetime asked for, raised to its minimum and cut to its maximum', async () => {
  const t = await startTestEdge({ minExpiresSeconds: 30, maxExpiresSeconds: 600 });
  // One account per ask: each 200 OK then lists that phone's one binding.
  const asks = [
    { account: ACCOUNTS.alice, asked: 120, expected: '120', why: 'within the bounds: as asked' },
    { account: ACCOUNTS.bob, asked: 5, expected: '30', why: 'below the minimum: the minimum' },
    { account: ACCOUNTS.carol, asked: 7200, expected: '600', why: 'above the maximum: the maximum' },
  ];
  const phones = await Promise.all(asks.map((a) => RawSipClient.open(a.account.username, t.server)));
  try {
    for (const [i, ask] of asks.entries()) {
      const phone = phones[i];
      if (!phone) throw new Error('no phone');
      const ok = await register(phone, ask.account, t.config.sip.domain, ask.asked);
      assert.equal(/expires=(\d+)/.exec(header(ok, 'contact') ?? '')?.[1], ask.expected, ask.why);
    }
  } finally {
    await Promise.all(phones.map((p) => p.close()));
    await t.stop();
  }
});

test('a suspended customer: REGISTER with the right password gets 403 naming the suspension; a wrong one is still challenged; resumed, 200', async () => {
  const t = await startTestEdge();
  const phone = await RawSipClient.open('alice', t.server);
  const setSuspended = (suspended: boolean): void => {
    t.db
      .prepare('UPDATE customers SET suspended_at = ? WHERE id = ?')
      .run(suspended ? new Date().toISOString() : null, CUSTOMER);
  };
  try {
    const domain = t.config.sip.domain;
    const base = registerRequestBase('alice', domain, 's1', 'reg-suspended');
    const contact: [string, string] = ['Contact', `<${phone.contact}>`];
    setSuspended(true);
    phone.request({ ...base, cseq: 1, headers: [contact] });
    const www = header(await phone.waitForResponse(401, '1 REGISTER'), 'www-authenticate') ?? '';
    const wrong = digestAnswer(www, {
      username: 'alice',
      password: 'nope',
      method: 'REGISTER',
      uri: base.uri,
    });
    phone.request({ ...base, cseq: 2, headers: [contact, ['Authorization', wrong]] });
    await phone.waitForResponse(401, '2 REGISTER'); // a guesser learns nothing about the suspension
    const good = digestAnswer(www, { ...ACCOUNTS.alice, method: 'REGISTER', uri: base.uri });
    phone.request({ ...base, cseq: 3, headers: [contact, ['Authorization', good]] });
    const refused = await phone.waitForResponse(403, '3 REGISTER');
    assert.match(header(refused, 'warning') ?? '', /suspended/);
    assert.equal(t.edge.registrations('alice').length, 0);
    // The wrong password is a failed authentication, the proven but suspended account a denial.
    assert.deepEqual(
      t.db
        .prepare(
          "SELECT action, actor_kind, customer_id, target, source_address FROM audit_events WHERE channel = 'sip' ORDER BY seq",
        )
        .all()
        .map((r) => Object.values(r as Record<string, unknown>)),
      [
        ['auth.failed', 'anonymous', CUSTOMER, 'alice', '127.0.0.1'],
        ['access.denied', 'customer', CUSTOMER, 'alice', '127.0.0.1'],
      ],
    );
    setSuspended(false);
    phone.request({ ...base, cseq: 4, headers: [contact, ['Authorization', good]] });
    await phone.waitForResponse(200, '4 REGISTER');
  } finally {
    await phone.close();
    await t.stop();
  }
});
