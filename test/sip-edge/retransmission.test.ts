/**
 * RFC 3261 retransmission over UDP: the edge must survive lost datagrams like a real SIP element.
 * Short timers (T1 = 25 ms, so every 64·T1 timeout is 1.6 s) keep each test under 3 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
} from './harness';
import { header, RawSipClient, tagOf, type RawMessage } from './raw-sip-client';

const FAST_TIMERS = { t1Ms: 25, t2Ms: 100, t4Ms: 125 };
/** Longer than 64·T1 plus slack for a loaded host. */
const TRANSACTION_WAIT_MS = 64 * FAST_TIMERS.t1Ms + 1_400;

const isRequest =
  (method: string, cseq?: string) =>
  (m: RawMessage): boolean =>
    m.method === method && (cseq === undefined || header(m, 'cseq') === cseq);
const isResponse =
  (status: number, cseq: string) =>
  (m: RawMessage): boolean =>
    m.status === status && header(m, 'cseq') === cseq;
const topVia = (m: RawMessage): string | undefined => m.headers.get('via')?.[0];

test('a callee that loses the first INVITE gets it again (Timer A) and the call completes; its retransmitted 200 is ACKed again', async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 43000);

    // Bob "loses" the first INVITE: he does not answer it, and a retransmission follows.
    const [first, second] = await bob.waitForCount(isRequest('INVITE'), 2, 'INVITE at bob');
    assert.ok(first && second);
    assert.equal(topVia(second), topVia(first), 'the retransmission is the same transaction (same branch)');
    assert.equal(header(second, 'call-id'), header(first, 'call-id'));
    assert.equal(second.body, first.body);

    bob.reply(second, 180, 'Ringing', { toTag: 'b-rtx' });
    answerInvite(bob, second, 'b-rtx', 43002);
    const answered = await alice.waitForResponse(200, '2 INVITE');
    const dialog = { from: call.from, to: header(answered, 'to') ?? '', callId: call.callId };
    sendInDialog(alice, dialog, 'ACK', 2);
    const [ack] = await bob.waitForCount(isRequest('ACK', '1 ACK'), 1, 'ACK of the 200 at bob');
    assert.ok(ack);

    // Bob did not see the ACK (as far as he knows): his 200 goes out again and is ACKed again.
    answerInvite(bob, second, 'b-rtx', 43002);
    const acks = await bob.waitForCount(isRequest('ACK', '1 ACK'), 2, 'ACK of the retransmitted 200');
    assert.equal(acks[1]?.text, ack.text, 'the same ACK again');
    assert.equal(t.edge.activeCalls().length, 1, 'the retransmitted 200 did not disturb the call');

    sendInDialog(alice, dialog, 'BYE', 3);
    await alice.waitForResponse(200, '3 BYE');
    const bye = await bob.waitForRequest('BYE');
    bob.reply(bye, 200, 'OK');
    const cdr = cdrFor(t, call.callId);
    assert.equal(cdr?.disposition, 'answered');
    assert.equal(cdr?.hangup_by, 'caller');
  }, FAST_TIMERS);
});

test('a caller that never ACKs the 200 gets it retransmitted, then after 64·T1 both legs get BYE (Timer E on a lost BYE)', async () => {
  await withAliceAndBob(async ({ t, alice, bob }) => {
    const call = await placeCall(alice, ACCOUNTS.alice, 'bob', t, 44000);
    const invite = await bob.waitForRequest('INVITE');
    answerInvite(bob, invite, 'b-noack', 44002);

    const oks = await alice.waitForCount(isResponse(200, '2 INVITE'), 3, '200 to the INVITE');
    assert.ok(
      oks.every((ok) => ok.text === oks[0]?.text),
      'the same 200 each time',
    );
    assert.ok(tagOf(header(oks[0] as RawMessage, 'to')));

    // No ACK ever: the edge gives up after 64·T1, confirms bob's dialog and hangs up both legs.
    const byeAtAlice = await alice.waitForRequest('BYE', TRANSACTION_WAIT_MS);
    alice.reply(byeAtAlice, 200, 'OK');
    // Bob loses the first BYE; Timer E brings it again, with the same branch.
    const [firstBye, secondBye] = await bob.waitForCount(isRequest('BYE'), 2, 'BYE at bob');
    assert.ok(firstBye && secondBye);
    assert.equal(topVia(secondBye), topVia(firstBye));
    bob.reply(secondBye, 200, 'OK');
    const ackAtBob = bob.received.find(isRequest('ACK', '1 ACK'));
    assert.ok(ackAtBob, "bob's 200 was ACKed before the BYE");
    assert.ok(bob.received.indexOf(ackAtBob) < bob.received.indexOf(firstBye));

    const cdr = cdrFor(t, call.callId);
    assert.equal(cdr?.disposition, 'answered');
    assert.equal(cdr?.sip_status, 200);
    assert.equal(cdr?.hangup_by, 'platform');
    assert.equal(t.edge.activeCalls().length, 0);
  }, FAST_TIMERS);
});

test('a trunk that never answers: INVITE retransmitted, 408 to the caller (retransmitted until ACK), failed CDR; a late 180 gets the CANCEL', async () => {
  const t = await startTestEdge({ ...FAST_TIMERS, noAnswerTimeoutMs: 10_000 });
  const alice = await RawSipClient.open('alice', t.server);
  const trunk = await RawSipClient.open('pstn-dead', t.server);
  try {
    addTrunk(t.db, { id: 'trk_dead', port: trunk.port, prefixes: ['+44'] });
    await register(alice, ACCOUNTS.alice, t.config.sip.domain);
    const call = await placeCall(alice, ACCOUNTS.alice, '+442071234567', t, 45000);

    const timeout = await alice.waitForResponse(408, '2 INVITE', TRANSACTION_WAIT_MS);
    assert.match(header(timeout, 'warning') ?? '', /no response from the callee/);
    const invites = trunk.received.filter(isRequest('INVITE'));
    assert.ok(invites.length >= 3, `the INVITE was retransmitted (${invites.length} transmissions)`);
    assert.ok(invites.every((i) => topVia(i) === topVia(invites[0] as RawMessage)));
    assert.equal(
      trunk.received.filter(isRequest('CANCEL')).length,
      0,
      'no CANCEL before a provisional (RFC 3261 §9.1)',
    );
    const cdr = cdrFor(t, call.callId);
    assert.equal(cdr?.disposition, 'failed');
    assert.equal(cdr?.sip_status, 408);
    assert.equal(cdr?.trunk_id, 'trk_dead');
    assert.equal(cdr?.hangup_by, 'platform');

    // The caller's ACK was "lost": the 408 comes again (Timer G), then the ACK ends it.
    const finals = await alice.waitForCount(isResponse(408, '2 INVITE'), 2, '408 to the INVITE');
    assert.equal(finals[1]?.text, finals[0]?.text);
    alice.request({
      method: 'ACK',
      uri: call.uri,
      from: call.from,
      to: header(timeout, 'to') ?? call.to,
      callId: call.callId,
      cseq: 2,
      branch: call.branch,
    });

    // The trunk wakes up late: the CANCEL the edge held back goes out now.
    const invite = invites[0] as RawMessage;
    trunk.reply(invite, 180, 'Ringing', { toTag: 'late' });
    const cancel = await trunk.waitForRequest('CANCEL');
    assert.equal(topVia(cancel), topVia(invite), 'CANCEL carries the INVITE branch');
    trunk.reply(cancel, 200, 'OK');
    trunk.reply(invite, 487, 'Request Terminated', { toTag: 'late' });
    await trunk.waitForRequest('ACK');
  } finally {
    await Promise.all([alice.close(), trunk.close()]);
    await t.stop();
  }
});
