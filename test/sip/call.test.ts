import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { PstnDouble } from '../../world/sip/pstn-double';
import { SipPhone } from '../../world/sip/sip-phone';
import { traffic } from '../../world/traffic-log';

/** A phone calls the PSTN double directly over loopback UDP: no platform in between. */

const WAIT_MS = 3000;
let pstn: PstnDouble;
let phone: SipPhone;

before(async () => {
  pstn = new PstnDouble();
  await pstn.start();
  const { host, port } = pstn.address();
  phone = new SipPhone({
    actor: 'alice-phone',
    username: 'alice',
    password: 'unused',
    domain: `${host}:${port}`,
    transport: 'udp',
    server: { host, port },
    serverActor: 'PSTN',
  });
  await phone.start();
});

after(async () => {
  await phone.stop();
  await pstn.stop();
});

test('an answered call carries RTP both ways and DTMF, and both sides see the hangup', async () => {
  const mark = traffic.mark();
  const { host, port } = pstn.address();
  const call = await phone.call(`sip:+15551230001@${host}:${port}`);

  const invite = await pstn.invites.waitFor((i) => i.callId === call.callId, {
    awaited: 'the INVITE at the PSTN',
    timeoutMs: WAIT_MS,
  });
  assert.equal(invite.number, '+15551230001');
  assert.equal(invite.from, 'alice');
  assert.equal(invite.pAssertedIdentity, null);
  assert.match(invite.sdp, new RegExp(`m=audio ${call.rtp.localPort} RTP/AVP 0 101`));

  const farEnd = await pstn.calls.waitFor((c) => c.callId === call.callId, {
    awaited: 'the PSTN to answer',
    timeoutMs: WAIT_MS,
  });
  await call.waitUntilAnswered(WAIT_MS);
  assert.deepEqual(
    call.events.all().map((e) => e.kind),
    ['ringing', 'answered'],
  );
  assert.equal(call.outcome.state, 'answered');

  // About one second of talk each way (50 packets at 20 ms).
  await Promise.all([call.rtp.waitForPackets(50, WAIT_MS), farEnd.rtp.waitForPackets(50, WAIT_MS)]);

  await call.sendDtmf('15#', { durationMs: 60 });
  const digits = await farEnd.rtp.dtmf.waitFor(() => farEnd.rtp.dtmf.all().length >= 3, {
    awaited: 'three DTMF digits at the PSTN',
    timeoutMs: WAIT_MS,
  });
  assert.ok(digits);
  assert.equal(
    farEnd.rtp.dtmf
      .all()
      .map((d) => d.digit)
      .join(''),
    '15#',
    'each digit once: repeated end packets are de-duplicated',
  );

  await call.hangup();
  await call.waitUntilEnded(WAIT_MS);
  await farEnd.waitUntilEnded(WAIT_MS);
  assert.equal(call.outcome.endedBy, 'local');
  assert.equal(farEnd.endedBy, 'remote');
  assert.ok(call.answeredAt !== undefined && call.endedAt !== undefined && call.endedAt >= call.answeredAt);

  const phoneStats = call.rtp.stats();
  const farStats = farEnd.rtp.stats();
  assert.ok(
    phoneStats.received >= Math.ceil(farStats.sent * 0.95),
    `phone heard ${phoneStats.received} of ${farStats.sent}`,
  );
  assert.ok(
    farStats.received >= Math.ceil(phoneStats.sent * 0.95),
    `PSTN heard ${farStats.received} of ${phoneStats.sent}`,
  );
  assert.ok(phoneStats.toneFramesReceived > 40, 'the tone arrived intact');
  assert.deepEqual(farStats.payloadTypes, [0, 101]);
  assert.equal(farStats.lost, 0);

  const sip = traffic.since(mark, 'SIP').map((e) => `${e.from} -> ${e.to}: ${e.summary}`);
  assert.ok(
    sip.some((line) => line.startsWith('alice-phone -> PSTN: INVITE sip:+15551230001@')),
    sip.join('\n'),
  );
  assert.ok(
    sip.some((line) => line.startsWith('PSTN -> ') && line.includes('200 OK [') && line.includes('BYE')),
    sip.join('\n'),
  );
});

test('a busy number gives the caller a rejected outcome with 486', async () => {
  pstn.behaviourFor('+15551230002', { answer: 'busy' });
  const { host, port } = pstn.address();
  const call = await phone.call(`sip:+15551230002@${host}:${port}`);
  const ended = await call.waitUntilEnded(WAIT_MS);
  assert.equal(ended.kind, 'rejected');
  assert.equal(ended.status, 486);
  assert.equal(call.outcome.state, 'rejected');
  assert.equal(call.outcome.status, 486);
  await assert.rejects(call.waitUntilAnswered(100), /rejected with 486/);
});

test('the far end hanging up is reported to the phone as ended by remote', async () => {
  const { host, port } = pstn.address();
  const call = await phone.call(`sip:+15551230003@${host}:${port}`);
  const farEnd = await pstn.calls.waitFor((c) => c.callId === call.callId, {
    awaited: 'the PSTN to answer',
    timeoutMs: WAIT_MS,
  });
  await call.waitUntilAnswered(WAIT_MS);
  await farEnd.hangup();
  const ended = await call.waitUntilEnded(WAIT_MS);
  assert.equal(ended.kind, 'ended');
  assert.equal(ended.by, 'remote');
  assert.equal(farEnd.endedBy, 'local');
});

test('a caller giving up while it rings cancels the INVITE', async () => {
  pstn.behaviourFor('+15551230004', { answer: 'ring' });
  const { host, port } = pstn.address();
  const call = await phone.call(`sip:+15551230004@${host}:${port}`);
  await call.events.waitFor((e) => e.kind === 'ringing', { awaited: 'ringing', timeoutMs: WAIT_MS });
  await call.hangup();
  await pstn.cancelled.waitFor((c) => c.callId === call.callId, {
    awaited: 'the CANCEL at the PSTN',
    timeoutMs: WAIT_MS,
  });
  const ended = await call.waitUntilEnded(WAIT_MS);
  assert.equal(ended.kind, 'ended');
  assert.equal(ended.by, 'local');
  assert.equal(call.outcome.wasAnswered, false);
});
