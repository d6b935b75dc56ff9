/**
 * A sip-edge node takes over from one that vanished without cleaning up (release: sockets closed,
 * nothing sent or written), on the same ports, store and relay, as the cluster's standby does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { RemoteLiveCalls, serveCallControl } from '../../platform/sip-edge/call-control';
import {
  ACCOUNTS,
  CUSTOMER,
  answerInvite,
  cdrFor,
  mediaPortOf,
  placeCall,
  register,
  sendInDialog,
  startTestEdge,
  takeOver,
  withAliceAndBob,
  type DialogIds,
  type RegisteredPair,
} from './harness';
import { digestAnswer, header, parseRaw, RawSipClient, sdp, tagOf, type RawMessage } from './raw-sip-client';

function storedDialogs(pair: RegisteredPair): number {
  return (pair.t.db.prepare('SELECT count(*) AS n FROM sip_dialogs').get() as { n: number }).n;
}

/** Alice calls Bob and he rings (180); resolves with his INVITE and the 180 Alice saw. */
async function aliceCallsBob(pair: RegisteredPair, aliceMediaPort: number) {
  const { t, alice, bob } = pair;
  const call = await placeCall(alice, ACCOUNTS.alice, ACCOUNTS.bob.number, t, aliceMediaPort);
  const invite = await bob.waitForRequest('INVITE');
  bob.reply(invite, 180, 'Ringing', { toTag: 'bobtag' });
  const ringing = await alice.waitForResponse(180, '2 INVITE');
  return { call, invite, ringing };
}

/** The call is answered and ACKed on both legs; returns Alice's dialog and when she saw the 200. */
async function answered(pair: RegisteredPair, invite: RawMessage, bobMediaPort: number) {
  const { alice, bob } = pair;
  answerInvite(bob, invite, 'bobtag', bobMediaPort);
  const ok = await alice.waitForResponse(200, '2 INVITE');
  const answeredAt = Date.now();
  const dialog: DialogIds = {
    from: header(ok, 'from') ?? '',
    to: header(ok, 'to') ?? '',
    callId: header(ok, 'call-id') ?? '',
  };
  sendInDialog(alice, dialog, 'ACK', 2);
  await bob.waitForRequest('ACK');
  return { dialog, answeredAt, relayPortForAlice: mediaPortOf(ok) };
}

async function mediaSockets(): Promise<[dgram.Socket, dgram.Socket]> {
  const sockets: [dgram.Socket, dgram.Socket] = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
  for (const s of sockets) s.bind(0, '127.0.0.1');
  await Promise.all(sockets.map((s) => once(s, 'listening')));
  return sockets;
}

test('registrations survive a takeover: the successor routes to phones registered with its predecessor, expired ones dropped', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    // Carol's binding lapsed while the node was down: it must not come back.
    await register(alice, ACCOUNTS.carol, t.config.sip.domain);
    t.db.prepare("UPDATE sip_registrations SET expires_at = ? WHERE username = 'carol'").run(Date.now() - 1);
    const edge = await takeOver(t);
    assert.deepEqual(
      edge
        .registrations()
        .map((b) => b.username)
        .sort(),
      ['alice', 'bob'],
      'the successor knows alice and bob (and not carol, whose binding expired)',
    );
    assert.ok(t.logs.some((l) => /2 registered user\(s\) restored/.test(l)));
    const [aliceMedia, bobMedia] = await mediaSockets();
    try {
      const { invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      assert.equal(invite.requestUri, bob.contact, 'the call reached the contact bob registered before');
      await answered(pair, invite, bobMedia.address().port);
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test('an established call survives a takeover: the callee hangs up, the caller is told, one CDR with the right duration', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, bobMedia] = await mediaSockets();
    try {
      const callPlacedAt = Date.now();
      const { call, invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      const relayPortForBob = mediaPortOf(invite);
      const { answeredAt, relayPortForAlice } = await answered(pair, invite, bobMedia.address().port);
      assert.equal(storedDialogs(pair), 1, 'the confirmed dialog is in the store');
      const atBob = once(bobMedia, 'message');
      aliceMedia.send(Buffer.alloc(172, 0x80), relayPortForAlice, '127.0.0.1');
      await atBob;

      await takeOver(t);
      assert.equal(t.edge.activeCalls().length, 1, 'the successor carries the call');
      // Media never passed through the edge: it still flows after the takeover.
      const atAlice = once(aliceMedia, 'message');
      bobMedia.send(Buffer.alloc(172, 0x80), relayPortForBob, '127.0.0.1');
      await atAlice;

      const bobDialog: DialogIds = {
        from: `<sip:bob@127.0.0.1>;tag=bobtag`,
        to: header(invite, 'from') ?? '',
        callId: header(invite, 'call-id') ?? '',
      };
      const byeSentAt = Date.now();
      sendInDialog(bob, bobDialog, 'BYE', 2);
      await bob.waitForResponse(200, '2 BYE');
      const bye = await alice.waitForRequest('BYE');
      assert.equal(header(bye, 'call-id'), call.callId, "the BYE is on alice's dialog");
      assert.equal(tagOf(header(bye, 'to')), tagOf(call.from), "addressed to alice's tag");
      alice.reply(bye, 200, 'OK');

      const cdrs = t.db.prepare('SELECT count(*) AS n FROM cdrs WHERE sip_call_id = ?').get(call.callId) as {
        n: number;
      };
      assert.equal(cdrs.n, 1, 'exactly one CDR');
      const cdr = cdrFor(t, call.callId);
      assert.ok(cdr);
      assert.equal(cdr.disposition, 'answered');
      assert.equal(cdr.hangup_by, 'callee');
      assert.equal(cdr.caller, ACCOUNTS.alice.number);
      assert.equal(cdr.callee, ACCOUNTS.bob.number);
      // The edge stamps the answer before the 200 reaches Alice, and the end after Bob's BYE left him.
      const answerStamp = Date.parse(cdr.answered_at ?? '');
      assert.ok(
        answerStamp >= callPlacedAt && answerStamp <= answeredAt,
        `answered_at ${cdr.answered_at} is the answer before the takeover, not the takeover`,
      );
      assert.ok(
        cdr.duration_ms >= byeSentAt - answeredAt && cdr.duration_ms <= Date.now() - callPlacedAt,
        `duration ${cdr.duration_ms} ms runs from the answer to Bob's BYE, across the takeover`,
      );
      const media = JSON.parse(cdr.media) as { aToB: { packets: number }; bToA: { packets: number } };
      assert.deepEqual([media.aToB.packets, media.bToA.packets], [1, 1], 'media from before and after');
      assert.equal(t.relay.sessions().length, 0, 'the relay session was deleted');
      assert.equal(storedDialogs(pair), 0, 'the ended call left the store');
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test("after a takeover the caller's BYE reaches the callee", async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, bobMedia] = await mediaSockets();
    try {
      const { call, invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      const { dialog } = await answered(pair, invite, bobMedia.address().port);
      await takeOver(t);
      sendInDialog(alice, dialog, 'BYE', 3);
      await alice.waitForResponse(200, '3 BYE');
      const bye = await bob.waitForRequest('BYE');
      assert.equal(header(bye, 'call-id'), header(invite, 'call-id'));
      assert.equal(tagOf(header(bye, 'to')), 'bobtag');
      bob.reply(bye, 200, 'OK');
      assert.equal(cdrFor(t, call.callId)?.hangup_by, 'caller');
      assert.equal(t.edge.activeCalls().length, 0);
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test('a call being set up at the takeover: the caller gets 503, the callee a CANCEL, the 487 is ACKed, one failed CDR', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, unused] = await mediaSockets();
    unused.close();
    try {
      const { call, invite, ringing } = await aliceCallsBob(pair, aliceMedia.address().port);
      assert.equal(storedDialogs(pair), 1, 'the setup is in the store');
      await takeOver(t);
      const refused = await alice.waitForResponse(503, '2 INVITE');
      assert.equal(
        tagOf(header(refused, 'to')),
        tagOf(header(ringing, 'to')),
        'the same dialog the 180 began',
      );
      assert.match(header(refused, 'retry-after') ?? '', /^\d+$/);
      assert.match(header(refused, 'warning') ?? '', /failover/);
      const cancel = await bob.waitForRequest('CANCEL');
      assert.equal(
        (cancel.headers.get('via') ?? [])[0],
        (invite.headers.get('via') ?? [])[0],
        "the INVITE's branch",
      );
      bob.reply(cancel, 200, 'OK');
      bob.reply(invite, 487, 'Request Terminated', { toTag: 'bobtag' });
      const ack = await bob.waitFor(
        (m) => m.method === 'ACK' && header(m, 'cseq') === '1 ACK',
        'ACK of the 487',
      );
      assert.equal((ack.headers.get('via') ?? [])[0], (invite.headers.get('via') ?? [])[0]);
      const cdr = cdrFor(t, call.callId);
      assert.ok(cdr, 'the interrupted attempt has its CDR');
      assert.deepEqual([cdr.disposition, cdr.sip_status, cdr.hangup_by], ['failed', 503, 'platform']);
      assert.equal(storedDialogs(pair), 0);
    } finally {
      aliceMedia.close();
    }
  });
});

test('a callee that answers a call the successor cancelled is ACKed and sent BYE', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, bobMedia] = await mediaSockets();
    try {
      const { invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      await takeOver(t);
      await alice.waitForResponse(503, '2 INVITE');
      await bob.waitForRequest('CANCEL');
      // The 200 crossed the CANCEL: the unwanted dialog is confirmed, then ended.
      answerInvite(bob, invite, 'bobtag', bobMedia.address().port);
      const ack = await bob.waitFor(
        (m) => m.method === 'ACK' && tagOf(header(m, 'to')) === 'bobtag',
        'ACK of the 200',
      );
      assert.equal(ack.requestUri, bob.contact);
      const bye = await bob.waitForRequest('BYE');
      assert.equal(header(bye, 'call-id'), header(invite, 'call-id'));
      bob.reply(bye, 200, 'OK');
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test('a 2xx to an INVITE the edge never sent is ACKed and ended with BYE', async () => {
  await withAliceAndBob(async ({ t, bob }) => {
    const response = [
      'SIP/2.0 200 OK',
      `Via: SIP/2.0/UDP 127.0.0.1:${t.server.port};branch=z9hG4bKnobodysent;rport`,
      'From: <sip:edge@example.invalid>;tag=gone',
      'To: <sip:bob@example.invalid>;tag=stray',
      'Call-ID: stray-call@example.invalid',
      'CSeq: 7 INVITE',
      `Contact: <${bob.contact}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    bob.sendRaw(response);
    const ack = await bob.waitForRequest('ACK');
    assert.equal(header(ack, 'cseq'), '7 ACK');
    assert.equal(tagOf(header(ack, 'to')), 'stray');
    const bye = await bob.waitForRequest('BYE');
    assert.equal(header(bye, 'cseq'), '8 BYE');
    assert.equal(header(bye, 'call-id'), 'stray-call@example.invalid');
    bob.reply(bye, 200, 'OK');
  });
});

test('a call whose record the predecessor wrote just before dying is not ended a second time', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, bobMedia] = await mediaSockets();
    try {
      const { call, invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      const { dialog } = await answered(pair, invite, bobMedia.address().port);
      const row = t.db.prepare('SELECT * FROM sip_dialogs').get() as Record<string, string>;
      sendInDialog(alice, dialog, 'BYE', 3);
      const bye = await bob.waitForRequest('BYE');
      bob.reply(bye, 200, 'OK');
      await alice.waitForResponse(200, '3 BYE');
      await new Promise<void>((resolve) => {
        if (t.completed.length > 0) resolve();
        else t.bus.on('call.completed', () => resolve());
      });
      // The crash came between the record and forgetting the call.
      t.db
        .prepare('INSERT INTO sip_dialogs (call_ref, phase, state, updated_at) VALUES (?, ?, ?, ?)')
        .run(row.call_ref, row.phase, row.state, row.updated_at);
      const byesBefore = bob.received.filter((m) => m.method === 'BYE').length;
      await takeOver(t);
      assert.equal(t.edge.activeCalls().length, 0, 'nothing to carry on');
      assert.equal(storedDialogs(pair), 0, 'the stale row is forgotten');
      const n = t.db.prepare('SELECT count(*) AS n FROM cdrs WHERE sip_call_id = ?').get(call.callId) as {
        n: number;
      };
      assert.equal(n.n, 1, 'still exactly one record');
      assert.equal(bob.received.filter((m) => m.method === 'BYE').length, byesBefore, 'no second BYE');
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test('a call with a leg over WebSocket: that connection dies with the node, so the successor records the call and releases the other side', async () => {
  const t = await startTestEdge();
  const alice = await RawSipClient.open('alice', t.server);
  const ws = new WebSocket(t.edge.endpoints.ws, 'sip');
  const opened = once(ws, 'open'); // before anything else is awaited: the event must not pass unseen
  const [aliceMedia, unused] = await mediaSockets();
  unused.close();
  try {
    await register(alice, ACCOUNTS.alice, t.config.sip.domain);
    await opened;
    const fromEdge: RawMessage[] = [];
    ws.on('message', (data: Buffer) => fromEdge.push(parseRaw(data.toString(), { address: '', port: 0 })));
    const next = async (what: (m: RawMessage) => boolean): Promise<RawMessage> => {
      const deadline = Date.now() + 2000;
      for (;;) {
        const found = fromEdge.find(what);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`bob's WebSocket: nothing matching in ${fromEdge.length} message(s)`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const domain = t.config.sip.domain;
    const aor = `<sip:bob@${domain}>`;
    const registerBob = (cseq: number, extra: string[]): string =>
      [
        `REGISTER sip:${domain} SIP/2.0`,
        `Via: SIP/2.0/WS bob.invalid;branch=z9hG4bKwsreg${cseq}`,
        `From: ${aor};tag=w1`,
        `To: ${aor}`,
        'Call-ID: ws-reg-takeover',
        `CSeq: ${cseq} REGISTER`,
        'Contact: <sip:bob@bob.invalid;transport=ws>',
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    ws.send(registerBob(1, []));
    const challenge = await next((m) => m.status === 401);
    const auth = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
      ...ACCOUNTS.bob,
      method: 'REGISTER',
      uri: `sip:${domain}`,
    });
    ws.send(registerBob(2, [`Authorization: ${auth}`]));
    await next((m) => m.status === 200);

    const call = await placeCall(alice, ACCOUNTS.alice, ACCOUNTS.bob.number, t, aliceMedia.address().port);
    const invite = await next((m) => m.method === 'INVITE');
    const body = sdp(42000);
    ws.send(
      [
        'SIP/2.0 200 OK',
        ...(invite.headers.get('via') ?? []).map((v) => `Via: ${v}`),
        `From: ${header(invite, 'from')}`,
        `To: ${header(invite, 'to')};tag=bobws`,
        `Call-ID: ${header(invite, 'call-id')}`,
        `CSeq: ${header(invite, 'cseq')}`,
        'Contact: <sip:bob@bob.invalid;transport=ws>',
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    );
    const ok = await alice.waitForResponse(200, '2 INVITE');
    sendInDialog(alice, { from: call.from, to: header(ok, 'to') ?? '', callId: call.callId }, 'ACK', 2);
    await next((m) => m.method === 'ACK');

    await takeOver(t);
    const bye = await alice.waitForRequest('BYE');
    assert.equal(header(bye, 'call-id'), call.callId);
    alice.reply(bye, 200, 'OK');
    assert.deepEqual(
      t.edge.registrations('bob'),
      [],
      "bob's WebSocket binding is not restored: its connection died with the node",
    );
    const cdr = cdrFor(t, call.callId);
    assert.ok(cdr, 'the call has its record');
    assert.deepEqual([cdr.disposition, cdr.hangup_by], ['answered', 'platform']);
    assert.equal(t.edge.activeCalls().length, 0);
  } finally {
    ws.terminate();
    aliceMedia.close();
    await alice.close();
    await t.stop();
  }
});

test('live call control from another process: listed from the replicated dialogs, commands over the control port', async () => {
  await withAliceAndBob(async (pair) => {
    const { t, alice, bob } = pair;
    const [aliceMedia, bobMedia] = await mediaSockets();
    const server = await serveCallControl('127.0.0.1', 0, t.edge.liveCalls, (m) => t.logs.push(m));
    try {
      const api = new RemoteLiveCalls(t.db, { host: '127.0.0.1', port: server.port }, (m) => t.logs.push(m));
      const { call, invite } = await aliceCallsBob(pair, aliceMedia.address().port);
      await answered(pair, invite, bobMedia.address().port);
      const [live] = api.list(CUSTOMER);
      const [edgeView] = t.edge.liveCalls.list(CUSTOMER);
      assert.ok(live && edgeView);
      assert.deepEqual(live, edgeView, "the replicated view is the edge's own");
      assert.equal(live.sipCallId, call.callId);
      assert.deepEqual(api.list('cus_nobody'), [], "another customer's calls are not listed");
      assert.equal(api.hangup('cus_nobody', live.id), false);
      assert.equal(await api.transfer(CUSTOMER, 'call_unknown', '+15550003'), 'no-such-call');
      assert.equal(
        await api.transfer(CUSTOMER, live.id, '+4930000000'),
        'no-route',
        'no trunk: the edge says so',
      );

      assert.equal(api.setHeld(CUSTOMER, live.id, true)?.held, true);
      const deadline = Date.now() + 2000;
      while (t.edge.liveCalls.list(CUSTOMER)[0]?.held !== true) {
        assert.ok(Date.now() < deadline, 'the hold reached the edge within 2 s');
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(api.hangup(CUSTOMER, live.id), true);
      const byes = await Promise.all([alice.waitForRequest('BYE'), bob.waitForRequest('BYE')]);
      for (const [phone, bye] of [
        [alice, byes[0]],
        [bob, byes[1]],
      ] as const)
        phone.reply(bye, 200, 'OK');
    } finally {
      await server.stop();
      aliceMedia.close();
      bobMedia.close();
    }
  });
});
