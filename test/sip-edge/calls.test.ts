import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import {
  ACCOUNTS,
  addTrunk,
  answerInvite,
  cdrFor,
  CUSTOMER,
  inviteCarolFromTrunk,
  mediaPortOf,
  placeCall,
  register,
  sendInDialog,
  startTestEdge,
  withAliceAndBob,
  withTrunkAndCarol,
  type CdrRow,
} from './harness';
import { header, RawSipClient, sdp, tagOf } from './raw-sip-client';

test('internal call: auth, ringing, answer, RTP through the relay, caller hangs up, CDR before the 200 to BYE', async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const aliceMedia = dgram.createSocket('udp4');
    const bobMedia = dgram.createSocket('udp4');
    try {
      aliceMedia.bind(0, '127.0.0.1');
      bobMedia.bind(0, '127.0.0.1');
      await Promise.all([once(aliceMedia, 'listening'), once(bobMedia, 'listening')]);

      const call = await placeCall(alice, ACCOUNTS.alice, ACCOUNTS.bob.number, t, aliceMedia.address().port);
      await alice.waitForResponse(100, '2 INVITE');
      // A retransmitted INVITE (same branch) must not become a second call.
      call.invite();
      const invite = await bob.waitForRequest('INVITE');
      assert.equal(invite.requestUri, bob.contact, 'sent to the registered contact');
      assert.notEqual(header(invite, 'call-id'), call.callId, 'the B leg has its own Call-ID');
      assert.match(header(invite, 'from') ?? '', /<sip:\+15550001@/);
      assert.equal((invite.headers.get('via') ?? []).length, 1, 'one Via on the B leg');
      const relayPortForBob = mediaPortOf(invite);
      assert.notEqual(relayPortForBob, aliceMedia.address().port, 'the offer points at the relay');

      bob.reply(invite, 180, 'Ringing', { toTag: 'bobtag' });
      const ringing = await alice.waitForResponse(180, '2 INVITE');
      const aliceDialogTag = tagOf(header(ringing, 'to'));
      assert.ok(aliceDialogTag);
      answerInvite(bob, invite, 'bobtag', bobMedia.address().port);
      const answered = await alice.waitForResponse(200, '2 INVITE');
      assert.equal(tagOf(header(answered, 'to')), aliceDialogTag);
      const relayPortForAlice = mediaPortOf(answered);
      assert.ok(relayPortForAlice > 0 && relayPortForAlice !== bobMedia.address().port);
      assert.equal(t.edge.activeCalls().length, 1);
      assert.equal(t.edge.activeCalls()[0]?.state, 'answered');

      const dialog = { from: call.from, to: header(answered, 'to') ?? '', callId: call.callId };
      sendInDialog(alice, dialog, 'ACK', 2);
      const ack = await bob.waitForRequest('ACK');
      assert.equal(header(ack, 'cseq'), '1 ACK');
      assert.equal(
        bob.received.filter((m) => m.method === 'INVITE').length,
        1,
        'exactly one INVITE reached bob',
      );

      // RTP both ways through the relay.
      const rtp = (seq: number): Buffer =>
        Buffer.concat([
          Buffer.from([0x80, 0, 0, seq, 0, 0, 0, seq * 160 > 255 ? 0 : seq, 0, 0, 0, 1]),
          Buffer.alloc(160, 0xff),
        ]);
      const atBob = once(bobMedia, 'message');
      aliceMedia.send(rtp(1), relayPortForAlice, '127.0.0.1');
      await atBob;
      const atAlice = once(aliceMedia, 'message');
      bobMedia.send(rtp(1), relayPortForBob, '127.0.0.1');
      await atAlice;

      // Alice hangs up: the CDR must already be in the store when her 200 OK arrives.
      let cdrAtOk: CdrRow | undefined;
      const byeOk = alice.waitFor((m) => {
        if (m.status === 200 && header(m, 'cseq') === '3 BYE') {
          cdrAtOk = cdrFor(t, call.callId);
          return true;
        }
        return false;
      }, '200 to BYE');
      sendInDialog(alice, dialog, 'BYE', 3);
      await byeOk;
      assert.ok(cdrAtOk, 'CDR written before the BYE was answered');
      const bye = await bob.waitForRequest('BYE');
      bob.reply(bye, 200, 'OK');
      const cdr = cdrFor(t, call.callId);
      assert.ok(cdr);
      assert.equal(cdr.direction, 'internal');
      assert.equal(cdr.caller, ACCOUNTS.alice.number);
      assert.equal(cdr.callee, ACCOUNTS.bob.number);
      assert.equal(cdr.disposition, 'answered');
      assert.equal(cdr.sip_status, 200);
      assert.equal(cdr.hangup_by, 'caller');
      assert.ok(cdr.answered_at);
      assert.equal(cdr.billable_seconds, Math.ceil(cdr.duration_ms / 1000));
      const media = JSON.parse(cdr.media) as { aToB: { packets: number }; bToA: { packets: number } };
      assert.equal(media.aToB.packets, 1);
      assert.equal(media.bToA.packets, 1);
      assert.deepEqual(
        t.completed.map((c) => c.customerId),
        [CUSTOMER],
      );
      assert.equal(t.edge.activeCalls().length, 0);
    } finally {
      aliceMedia.close();
      bobMedia.close();
    }
  });
});

test('outbound call to a trunk: longest prefix, From/PAI with the caller ID, busy mapped upstream', async () => {
  const t = await startTestEdge();
  const alice = await RawSipClient.open('alice', t.server);
  const trunkUk = await RawSipClient.open('pstn-uk', t.server);
  const trunkAll = await RawSipClient.open('pstn-all', t.server);
  try {
    addTrunk(t.db, { id: 'trk_all', port: trunkAll.port, prefixes: [] });
    addTrunk(t.db, { id: 'trk_uk', port: trunkUk.port, prefixes: ['+44'], callerId: '+15559999' });
    await register(alice, ACCOUNTS.alice, t.config.sip.domain);
    const call = await placeCall(alice, ACCOUNTS.alice, '+442071234567', t, 40000);
    const invite = await trunkUk.waitForRequest('INVITE');
    assert.equal(invite.requestUri, `sip:+442071234567@127.0.0.1:${trunkUk.port}`);
    assert.match(header(invite, 'from') ?? '', new RegExp(`^<sip:\\+15559999@${t.config.sip.domain}>;tag=`));
    assert.equal(header(invite, 'p-asserted-identity'), `<sip:+15559999@${t.config.sip.domain}>`);
    trunkUk.reply(invite, 486, 'Busy Here', { toTag: 'uk1' });
    await alice.waitForResponse(486, '2 INVITE');
    await trunkUk.waitForRequest('ACK');
    const cdr = cdrFor(t, call.callId);
    assert.equal(cdr?.disposition, 'busy');
    assert.equal(cdr?.sip_status, 486);
    assert.equal(cdr?.trunk_id, 'trk_uk');
    assert.equal(cdr?.direction, 'outbound');
    assert.equal(cdr?.callee, '+442071234567');
    assert.equal(trunkAll.received.length, 0, 'the catch-all trunk lost to the longer prefix');
  } finally {
    await Promise.all([alice.close(), trunkUk.close(), trunkAll.close()]);
    await t.stop();
  }
});

test('no route → 404 and a failed CDR; caller CANCEL → 487, CANCEL downstream, cancelled CDR', async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const nowhere = await placeCall(alice, ACCOUNTS.alice, '+49301234567', t, 40000);
    await alice.waitForResponse(404, '2 INVITE');
    assert.equal(cdrFor(t, nowhere.callId)?.disposition, 'failed');

    const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 40002);
    const invite = await bob.waitForRequest('INVITE');
    bob.reply(invite, 180, 'Ringing', { toTag: 'b2' });
    await alice.waitFor(
      (m) => m.status === 180 && header(m, 'call-id') === call.callId,
      '180 for the second call',
    );
    alice.request({
      method: 'CANCEL',
      uri: call.uri,
      from: call.from,
      to: call.to,
      callId: call.callId,
      cseq: 2,
      branch: call.branch,
    });
    await alice.waitFor(
      (m) => m.status === 200 && header(m, 'cseq') === '2 CANCEL' && header(m, 'call-id') === call.callId,
      '200 to CANCEL',
    );
    await alice.waitFor((m) => m.status === 487 && header(m, 'call-id') === call.callId, '487 to the INVITE');
    const cancel = await bob.waitForRequest('CANCEL');
    assert.equal(
      (cancel.headers.get('via') ?? [])[0],
      (invite.headers.get('via') ?? [])[0],
      'CANCEL carries the INVITE branch',
    );
    const cdr = cdrFor(t, call.callId);
    assert.equal(cdr?.disposition, 'cancelled');
    assert.equal(cdr?.hangup_by, 'caller');
    assert.equal(cdr?.sip_status, 487);
  });
});

test('no answer: after config.sip.noAnswerTimeoutMs the callee gets CANCEL and the caller 480', async () => {
  await withAliceAndBob(
    async ({ t, alice, bob }) => {
      const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 40000);
      const invite = await bob.waitForRequest('INVITE');
      bob.reply(invite, 180, 'Ringing', { toTag: 'b3' });
      const cancel = await bob.waitForRequest('CANCEL');
      bob.reply(cancel, 200, 'OK');
      bob.reply(invite, 487, 'Request Terminated', { toTag: 'b3' });
      await alice.waitForResponse(480, '2 INVITE');
      await bob.waitForRequest('ACK');
      const cdr = cdrFor(t, call.callId);
      assert.equal(cdr?.disposition, 'no-answer');
      assert.equal(cdr?.hangup_by, 'platform');
      assert.equal(cdr?.sip_status, 480);
    },
    { noAnswerTimeoutMs: 200 },
  );
});

test('inbound call from a trunk reaches the account owning the number; callee hangs up', async () => {
  await withTrunkAndCarol(async (setup) => {
    const { t, pstn, carol } = setup;
    const from = '<sip:+442070000000@127.0.0.1>;tag=pstn1';
    const to = `<sip:${ACCOUNTS.carol.number}@127.0.0.1>`;
    inviteCarolFromTrunk(setup, { from, to, callId: 'inbound-1' });
    const invite = await carol.waitForRequest('INVITE');
    assert.match(header(invite, 'from') ?? '', /sip:\+442070000000@/);
    answerInvite(carol, invite, 'c1', 41002);
    const ok = await pstn.waitForResponse(200, '1 INVITE');
    sendInDialog(pstn, { from, to: header(ok, 'to') ?? '', callId: 'inbound-1' }, 'ACK', 1);
    const ack = await carol.waitForRequest('ACK');
    // Carol's side of the dialog is the ACK's, seen from the other end.
    const carolDialog = {
      from: header(ack, 'to') ?? '',
      to: header(ack, 'from') ?? '',
      callId: header(ack, 'call-id') ?? '',
    };
    sendInDialog(carol, carolDialog, 'BYE', 1);
    await carol.waitForResponse(200, '1 BYE');
    const bye = await pstn.waitForRequest('BYE');
    pstn.reply(bye, 200, 'OK');
    const cdr = cdrFor(t, 'inbound-1');
    assert.equal(cdr?.direction, 'inbound');
    assert.equal(cdr?.trunk_id, 'trk_in');
    assert.equal(cdr?.hangup_by, 'callee');
    assert.equal(cdr?.caller, '+442070000000');
    assert.equal(cdr?.callee, ACCOUNTS.carol.number);
  });
});

test('re-INVITE in the dialog (hold) is relayed with the SDP rewritten, and its ACK follows', async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 42000);
    const invite = await bob.waitForRequest('INVITE');
    answerInvite(bob, invite, 'b4', 42002);
    const answered = await alice.waitForResponse(200, '2 INVITE');
    const dialog = { from: call.from, to: header(answered, 'to') ?? '', callId: call.callId };
    sendInDialog(alice, dialog, 'ACK', 2);
    await bob.waitForRequest('ACK');

    const hold = sdp(42000).replace('a=sendrecv', 'a=sendonly');
    sendInDialog(alice, dialog, 'INVITE', 3, { headers: [['Contact', `<${alice.contact}>`]], body: hold });
    const reinvite = await bob.waitFor(
      (m) => m.method === 'INVITE' && header(m, 'cseq') === '2 INVITE',
      're-INVITE at bob',
    );
    assert.equal(header(reinvite, 'call-id'), header(invite, 'call-id'));
    assert.match(reinvite.body, /a=sendonly/);
    assert.equal(mediaPortOf(reinvite), mediaPortOf(invite), 'same relay port towards bob');
    bob.reply(reinvite, 200, 'OK', {
      headers: [['Contact', `<${bob.contact}>`]],
      body: sdp(42002).replace('a=sendrecv', 'a=recvonly'),
    });
    const held = await alice.waitForResponse(200, '3 INVITE');
    assert.match(held.body, /a=recvonly/);
    sendInDialog(alice, dialog, 'ACK', 3);
    await bob.waitFor(
      (m) => m.method === 'ACK' && header(m, 'cseq') === '2 ACK',
      'ACK of the re-INVITE at bob',
    );
    // The relay itself (told over ng) knows the caller holds; the edge only caches its queries.
    assert.equal(t.relay.sessions()[0]?.stats().sideA.direction, 'sendonly', 'the relay saw the hold');
    assert.equal(t.edge.hangup(t.edge.activeCalls()[0]?.callRef ?? ''), true);
    await Promise.all([alice.waitForRequest('BYE'), bob.waitForRequest('BYE')]);
    assert.equal(cdrFor(t, call.callId)?.hangup_by, 'platform');
  });
});
