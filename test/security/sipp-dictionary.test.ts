/**
 * The sip-edge's brute-force jail against a standard tool: SIPp runs a REGISTER dictionary
 * attack on one account from its own loopback address (127.0.0.9), the way attackers script it
 * (test/security/sipp.ts). The first guesses are challenged (401); after the platform's
 * authFailuresBeforeBan wrong passwords the address is banned: its next REGISTER gets no answer
 * at all, while the account's real phone on 127.0.0.1 registers meanwhile.
 * test/lab/sipp-behind-kamailio.test.ts runs the same attack through real Kamailio.
 *
 * Skipped, saying so, where SIPp is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNTS, CUSTOMER, register, startTestEdge } from '../sip-edge/harness';
import { RawSipClient } from '../sip-edge/raw-sip-client';
import { ANSWER_WITHIN_MS, ATTACKER, dictionary, SippDictionaryAttack, sippMissing, statuses } from './sipp';

test(
  'a SIPp REGISTER dictionary attack from another address is challenged, then banned, while the real phone registers',
  { skip: sippMissing },
  async () => {
    const t = await startTestEdge();
    const dir = mkdtempSync(join(tmpdir(), 'sipp-dictionary-'));
    const alerts: Array<{ customerId: string; type: string; data: { address: string } }> = [];
    t.bus.on('security.alert', (event) => alerts.push(event as (typeof alerts)[number]));
    const phone = await RawSipClient.open('alice', t.server);
    try {
      const domain = t.config.sip.domain;
      const { authFailuresBeforeBan } = t.config.security.sipFraud;
      const passwords = dictionary();
      assert.ok(passwords.length > authFailuresBeforeBan, 'the dictionary outlasts the jail');
      assert.ok(!passwords.includes(ACCOUNTS.alice.password), "the dictionary misses alice's password");
      const attack = await SippDictionaryAttack.prepare(dir, t.server, domain);

      // The guesses before the ban: each challenged, then refused with a new challenge.
      for (const password of passwords.slice(0, authFailuresBeforeBan)) {
        const run = await attack.guess('alice', password);
        assert.deepEqual(
          statuses(run),
          ['401', '401'],
          `guess "${password}" should be challenged and refused; SIPp got ${JSON.stringify(run.received)}, exit ${run.exitCode}; its output: ${run.log}\nedge log: ${t.logs.slice(-6).join('\n')}`,
        );
        assert.equal(run.exitCode, 0, `SIPp's run of guess "${password}" failed: ${run.log}`);
      }

      // Banned now: the next guess is not answered at all; the real phone registers meanwhile.
      const banned = attack.guess('alice', passwords[authFailuresBeforeBan] ?? 'one-more');
      await register(phone, ACCOUNTS.alice, domain);
      const run = await banned;
      assert.deepEqual(
        run.received,
        [],
        `the banned address should get no answer within ${ANSWER_WITHIN_MS} ms; SIPp got ${JSON.stringify(run.received)}`,
      );
      assert.notEqual(run.exitCode, 0, 'SIPp counts the unanswered REGISTER as a failed call');
      assert.ok(
        t.logs.some((l) => l.includes('dropped REGISTER') && l.includes(`udp:${ATTACKER}:`)),
        `the edge's log should say it dropped the banned address's REGISTER:\n${t.logs.slice(-8).join('\n')}`,
      );

      const bans = t.db
        .prepare("SELECT customer_id, source_address FROM audit_events WHERE action = 'auth.banned'")
        .all() as Array<{ customer_id: string; source_address: string }>;
      assert.deepEqual(bans, [{ customer_id: CUSTOMER, source_address: ATTACKER }]);
      assert.deepEqual(
        alerts.map((a) => [a.customerId, a.type, a.data.address]),
        [[CUSTOMER, 'security.address_banned', ATTACKER]],
      );
    } finally {
      await phone.close();
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
