/**
 * The sip-edge's brute-force jail and scanner filter (platform/sip-edge/security.ts): the jail's
 * counting and expiry on a fake clock, then the edge end to end over UDP from a second loopback
 * address (127.0.0.2), the real phone on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallGuard, EMBEDDED_SIP_FRAUD, SipGuard, type AuthFailure } from '../../platform/sip-edge/security';
import {
  ACCOUNTS,
  addTrunk,
  CUSTOMER,
  placeCall,
  register,
  registerRequestBase,
  startTestEdge,
} from './harness';
import { digestAnswer, header, RawSipClient } from './raw-sip-client';

const SETTINGS = { ...EMBEDDED_SIP_FRAUD, authFailuresBeforeBan: 3, failureWindowMs: 1_000, banMs: 5_000 };

function failure(address: string, username = 'alice'): AuthFailure {
  return { address, username, customerId: username === 'alice' ? 'cus_a' : null, method: 'REGISTER' };
}

test('an address is banned on its Nth failure within the window, for the ban period, and alone', () => {
  let now = 1_000_000;
  const guard = new SipGuard(SETTINGS, () => now);
  assert.equal(guard.authFailed(failure('10.0.0.9')), undefined);
  assert.equal(guard.authFailed(failure('10.0.0.9', 'nobody')), undefined);
  assert.equal(guard.screen('10.0.0.9', 'Z 5.4'), undefined, 'not banned below the threshold');
  const ban = guard.authFailed(failure('10.0.0.9'));
  assert.deepEqual(ban, {
    address: '10.0.0.9',
    until: now + 5_000,
    failures: 3,
    tried: [
      { username: 'alice', customerId: 'cus_a' },
      { username: 'nobody', customerId: null },
    ],
  });
  assert.deepEqual(guard.screen('10.0.0.9', undefined), { kind: 'banned', until: now + 5_000 });
  assert.equal(guard.screen('10.0.0.1', undefined), undefined, 'another address is not banned');
  now += 4_999;
  assert.equal(guard.screen('10.0.0.9', undefined)?.kind, 'banned', 'still banned 1 ms before the end');
  now += 1;
  assert.equal(guard.screen('10.0.0.9', undefined), undefined, 'answered again once the ban ran out');
});

test('failures older than the window do not count towards a ban', () => {
  let now = 0;
  const guard = new SipGuard(SETTINGS, () => now);
  guard.authFailed(failure('10.0.0.9'));
  guard.authFailed(failure('10.0.0.9'));
  now += 1_000; // both are now outside the window
  assert.equal(guard.authFailed(failure('10.0.0.9')), undefined);
  assert.equal(guard.authFailed(failure('10.0.0.9')), undefined);
  assert.equal(guard.authFailed(failure('10.0.0.9'))?.failures, 3);
});

test("scanners' User-Agents are recognised whatever their case; ordinary phones are not", () => {
  const guard = new SipGuard(SETTINGS);
  assert.equal(guard.screen('10.0.0.9', 'friendly-scanner')?.kind, 'scanner');
  assert.equal(guard.screen('10.0.0.9', 'SIPVicious 0.3.4')?.kind, 'scanner');
  assert.equal(guard.screen('10.0.0.9', 'sipcli/v1.8')?.kind, 'scanner');
  assert.equal(guard.screen('10.0.0.9', 'SIP.js/0.21.2'), undefined);
  assert.equal(guard.screen('10.0.0.9', 'Linphone/5.2 (belle-sip/5.2)'), undefined);
});

test('the edge bans an address guessing passwords, drops its requests unanswered, keeps serving the real phone, audits and tells the customer', async () => {
  const t = await startTestEdge();
  const alerts: unknown[] = [];
  t.bus.on('security.alert', (event) => alerts.push(event));
  const attacker = await RawSipClient.open('attacker', t.server, 0, '127.0.0.2');
  const phone = await RawSipClient.open('alice', t.server);
  try {
    const domain = t.config.sip.domain;
    const { authFailuresBeforeBan, banMs } = t.config.security.sipFraud;
    const base = registerRequestBase('alice', domain, 'atk', 'dictionary');
    const contact: [string, string] = ['Contact', `<${attacker.contact}>`];
    attacker.request({ ...base, cseq: 1, headers: [contact] });
    let challenge = await attacker.waitForResponse(401, '1 REGISTER');
    for (let guess = 1; guess <= authFailuresBeforeBan; guess++) {
      const cseq = guess + 1;
      const answer = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
        username: 'alice',
        password: `guess-${guess}`,
        method: 'REGISTER',
        uri: base.uri,
      });
      attacker.request({ ...base, cseq, headers: [contact, ['Authorization', answer]] });
      challenge = await attacker.waitForResponse(401, `${cseq} REGISTER`);
    }
    // The banning guess was challenged (fail2ban bans after the answer); everything after goes
    // unanswered, while the real phone registers.
    attacker.request({ ...base, method: 'OPTIONS', uri: `sip:${domain}`, cseq: 99, headers: [] });
    await register(phone, ACCOUNTS.alice, domain);
    const options = await RawSipClient.open('control', t.server, 0, '127.0.0.3');
    try {
      options.request({
        ...base,
        callId: 'control',
        method: 'OPTIONS',
        uri: `sip:${domain}`,
        cseq: 1,
        headers: [],
      });
      await options.waitForResponse(200, '1 OPTIONS');
    } finally {
      options.close();
    }
    const answered = attacker.received.filter((m) => m.status !== undefined).map((m) => header(m, 'cseq'));
    assert.deepEqual(answered, [
      '1 REGISTER',
      ...Array.from({ length: authFailuresBeforeBan }, (_, i) => `${i + 2} REGISTER`),
    ]);
    assert.ok(t.logs.some((l) => l.includes('dropped OPTIONS') && l.includes('address banned until')));

    const audit = t.db
      .prepare('SELECT action, customer_id, target, source_address FROM audit_events ORDER BY seq')
      .all() as Array<{ action: string; customer_id: string | null; target: string; source_address: string }>;
    assert.deepEqual(
      audit.map((a) => [a.action, a.customer_id, a.source_address]),
      [
        ...Array.from({ length: authFailuresBeforeBan }, () => ['auth.failed', CUSTOMER, '127.0.0.2']),
        ['auth.banned', CUSTOMER, '127.0.0.2'],
      ],
    );
    assert.equal(alerts.length, 1);
    const alert = alerts[0] as {
      customerId: string;
      type: string;
      data: { address: string; bannedUntil: string };
    };
    assert.equal(alert.customerId, CUSTOMER);
    assert.equal(alert.type, 'security.address_banned');
    assert.equal(alert.data.address, '127.0.0.2');
    const remaining = Date.parse(alert.data.bannedUntil) - Date.now();
    assert.ok(remaining > 0 && remaining <= banMs, `ban ends within the ban period (${remaining} ms left)`);
  } finally {
    attacker.close();
    phone.close();
    await t.stop();
  }
});

test('the edge drops a scanner without answering and answers the same request from a phone', async () => {
  const t = await startTestEdge();
  const scanner = await RawSipClient.open('scanner', t.server, 0, '127.0.0.4');
  try {
    const domain = t.config.sip.domain;
    const probe = (cseq: number, userAgent: string): void => {
      scanner.request({
        method: 'OPTIONS',
        uri: `sip:100@${domain}`,
        from: `<sip:100@${domain}>;tag=s${cseq}`,
        to: `<sip:100@${domain}>`,
        callId: `scan-${cseq}`,
        cseq,
        headers: [['User-Agent', userAgent]],
      });
    };
    probe(1, 'friendly-scanner');
    probe(2, 'Grandstream GXP2160');
    await scanner.waitForResponse(200, '2 OPTIONS');
    assert.deepEqual(
      scanner.received.map((m) => header(m, 'cseq')),
      ['2 OPTIONS'],
      'only the phone-like request was answered',
    );
  } finally {
    scanner.close();
    await t.stop();
  }
});

test('CallGuard: high-risk destinations count per account within the window; the tier caps calls in progress', () => {
  let now = 0;
  const settings = { ...EMBEDDED_SIP_FRAUD, highRiskCallsPerWindow: 2, highRiskWindowMs: 1_000 };
  const guard = new CallGuard(settings, () => now);
  assert.equal(guard.riskOf('+19005550100'), 'premium-rate');
  assert.equal(guard.riskOf('+8821234567'), 'far-international');
  assert.equal(guard.riskOf('+15555550100'), undefined);
  assert.equal(guard.check('alice', 'standard', '+19005550100', 0), undefined);
  assert.equal(guard.check('alice', 'standard', '+8821234567', 0), undefined);
  assert.equal(
    guard.check('alice', 'standard', '+15555550100', 0),
    undefined,
    'ordinary numbers never count',
  );
  assert.equal(guard.check('alice', 'standard', '+19005550101', 0)?.reason, 'Fraud Suspected');
  assert.equal(
    guard.check('bob', 'standard', '+19005550101', 0),
    undefined,
    'another account has its own count',
  );
  now += 1_000;
  assert.equal(guard.check('alice', 'standard', '+19005550101', 0), undefined, 'the window moved on');
  const cap = settings.simultaneousCallsByTier.standard;
  assert.equal(guard.check('alice', 'standard', '+15555550100', cap - 1), undefined);
  const refusal = guard.check('alice', 'standard', '+15555550100', cap);
  assert.equal(refusal?.status, 403);
  assert.equal(refusal?.reason, 'Simultaneous Call Limit Reached');
  assert.match(refusal?.warning ?? '', new RegExp(`standard tier allows ${cap} at once`));
});

test('the edge refuses the account call past the high-risk limit 403 with a Warning, audits it and raises fraud.alert; ordinary calls go on', async () => {
  const t = await startTestEdge();
  const alerts: Array<{ type: string; customerId: string }> = [];
  t.bus.on('security.alert', (event) => alerts.push(event));
  const alice = await RawSipClient.open('alice', t.server);
  const pstn = await RawSipClient.open('pstn', t.server);
  try {
    addTrunk(t.db, { id: 'trk_all', port: pstn.port, prefixes: [] });
    const { highRiskCallsPerWindow } = t.config.security.sipFraud;
    for (let n = 0; n < highRiskCallsPerWindow; n++) {
      const call = await placeCall(alice, ACCOUNTS.alice, `+1900555010${n}`, t, 40100 + 2 * n);
      const invite = await pstn.waitFor(
        (m) => m.method === 'INVITE' && m.requestUri?.includes(`+1900555010${n}`) === true,
        `INVITE ${n}`,
      );
      pstn.reply(invite, 486, 'Busy Here', { toTag: `b${n}` });
      await alice.waitFor(
        (m) => m.status === 486 && header(m, 'call-id') === call.callId,
        `486 for call ${n}`,
      );
    }
    const refused = await placeCall(alice, ACCOUNTS.alice, '+8821234567', t, 40200);
    const answer = await alice.waitFor(
      (m) =>
        m.status !== undefined &&
        m.status >= 200 &&
        header(m, 'call-id') === refused.callId &&
        header(m, 'cseq') === '2 INVITE',
      'the answer to the call past the limit',
    );
    assert.equal(answer.startLine, 'SIP/2.0 403 Fraud Suspected');
    assert.match(header(answer, 'warning') ?? '', /^399 \S+ "far-international destination refused/);
    assert.equal(
      pstn.received.filter((m) => m.method === 'INVITE' && m.requestUri?.includes('+882') === true).length,
      0,
    );
    assert.deepEqual(
      alerts.map((a) => [a.type, a.customerId]),
      [['fraud.alert', CUSTOMER]],
    );
    const audit = t.db
      .prepare("SELECT action, target FROM audit_events WHERE action = 'fraud.blocked'")
      .all();
    assert.deepEqual(audit, [{ action: 'fraud.blocked', target: 'alice' }]);

    const ordinary = await placeCall(alice, ACCOUNTS.alice, '+15555550100', t, 40300);
    const invite = await pstn.waitFor(
      (m) => m.method === 'INVITE' && m.requestUri?.includes('+15555550100') === true,
      'the ordinary call',
    );
    pstn.reply(invite, 486, 'Busy Here', { toTag: 'ord' });
    await alice.waitFor(
      (m) => m.status === 486 && header(m, 'call-id') === ordinary.callId,
      '486 for the ordinary call',
    );
  } finally {
    await Promise.all([alice.close(), pstn.close()]);
    await t.stop();
  }
});

test("the edge refuses an account's call beyond its tier's simultaneous-call cap with a 403 that says why", async () => {
  const t = await startTestEdge();
  const alice = await RawSipClient.open('alice', t.server);
  const pstn = await RawSipClient.open('pstn', t.server);
  try {
    addTrunk(t.db, { id: 'trk_all', port: pstn.port, prefixes: [] });
    const cap = t.config.security.sipFraud.simultaneousCallsByTier.standard;
    for (let n = 0; n < cap; n++) {
      await placeCall(alice, ACCOUNTS.alice, `+1555555020${n}`, t, 40400 + 2 * n);
      await pstn.waitFor(
        (m) => m.method === 'INVITE' && m.requestUri?.includes(`+1555555020${n}`) === true,
        `INVITE ${n}`,
      );
    }
    const extra = await placeCall(alice, ACCOUNTS.alice, '+15555550299', t, 40500);
    const answer = await alice.waitFor(
      (m) =>
        m.status !== undefined &&
        m.status >= 200 &&
        header(m, 'call-id') === extra.callId &&
        header(m, 'cseq') === '2 INVITE',
      'the answer to the call beyond the cap',
    );
    assert.equal(answer.startLine, 'SIP/2.0 403 Simultaneous Call Limit Reached');
    assert.match(
      header(answer, 'warning') ?? '',
      new RegExp(`the standard tier allows ${cap} at once per account`),
    );
  } finally {
    await Promise.all([alice.close(), pstn.close()]);
    await t.stop();
  }
});
