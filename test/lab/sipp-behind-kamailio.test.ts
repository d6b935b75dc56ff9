/**
 * The SIP defences behind real Kamailio (lab/kamailio.cfg with the platform's jail settings, as
 * the lab lane starts it): a SIPp REGISTER dictionary attack from 127.0.0.9 goes through
 * Kamailio to a real sip-edge that trusts it as its proxy. The first guesses are challenged, then
 * Kamailio bans the address at the door (the edge never sees its next request), the edge reports
 * the ban against the attacker's true address (the Via below Kamailio, not Kamailio's own), and
 * the real phone on 127.0.0.1 registers through the same Kamailio meanwhile. A scanner's
 * User-Agent is dropped at the door too. Skipped where SIPp is missing; needs Kamailio (the lab
 * lane installs it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeSipPorts, jailDefines, startKamailio, type RunningKamailio } from '../../lab/kamailio';
import { ACCOUNTS, CUSTOMER, register, startTestEdge, type TestEdge } from '../sip-edge/harness';
import { RawSipClient } from '../sip-edge/raw-sip-client';
import {
  ANSWER_WITHIN_MS,
  ATTACKER,
  dictionary,
  SippDictionaryAttack,
  sippMissing,
  statuses,
} from '../security/sipp';

let runDir: string;
let t: TestEdge;
let kamailio: RunningKamailio;

before(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'lab-sipp-'));
  const [udpPort, wsPort] = await freeSipPorts([0, 0]);
  t = await startTestEdge({ trustedProxies: [{ host: '127.0.0.1', port: udpPort ?? 0 }] });
  kamailio = await startKamailio({
    udpPort: udpPort ?? 0,
    wsPort: wsPort ?? 0,
    sipEdges: [t.server],
    domain: t.config.sip.domain,
    runDir,
    logFile: join(runDir, 'kamailio.log'),
    defines: jailDefines(t.config.security.sipFraud),
  });
});

after(async () => {
  await kamailio?.daemon.stop();
  await t?.stop();
  rmSync(runDir, { recursive: true, force: true });
});

const kamailioLog = (): string => readFileSync(join(runDir, 'kamailio.log'), 'utf8');

test(
  'a SIPp dictionary attack through Kamailio is challenged, then banned at the door for its true address, while the real phone registers',
  { skip: sippMissing },
  async () => {
    const dir = mkdtempSync(join(runDir, 'sipp-'));
    const alerts: string[] = [];
    t.bus.on('security.alert', (event) => alerts.push(String(event.data.address)));
    const phone = await RawSipClient.open('alice', kamailio.udp);
    try {
      const { authFailuresBeforeBan } = t.config.security.sipFraud;
      const passwords = dictionary();
      const attack = await SippDictionaryAttack.prepare(dir, kamailio.udp, t.config.sip.domain);
      for (const password of passwords.slice(0, authFailuresBeforeBan)) {
        const run = await attack.guess('alice', password);
        assert.deepEqual(
          statuses(run),
          ['401', '401'],
          `guess "${password}" through Kamailio should be challenged and refused; SIPp got ${JSON.stringify(run.received)}; ${run.log}\nKamailio's log: ${kamailioLog().slice(-1500)}`,
        );
      }
      const edgeSawBefore = t.logs.length;
      const banned = attack.guess('alice', passwords[authFailuresBeforeBan] ?? 'one-more');
      await register(phone, ACCOUNTS.alice, t.config.sip.domain);
      const run = await banned;
      assert.deepEqual(
        run.received,
        [],
        `the banned address should get no answer within ${ANSWER_WITHIN_MS} ms; SIPp got ${JSON.stringify(run.received)}`,
      );
      const log = kamailioLog();
      assert.match(
        log,
        new RegExp(
          `jail: ${ATTACKER.replaceAll('.', '\\.')} banned .* after ${authFailuresBeforeBan} failed`,
        ),
      );
      assert.match(
        log,
        new RegExp(`jail: REGISTER from banned ${ATTACKER.replaceAll('.', '\\.')}:\\d+ dropped`),
      );
      const reachedEdge = t.logs.slice(edgeSawBefore).filter((l) => l.includes(`@${ATTACKER}`));
      assert.deepEqual(reachedEdge, [], "the banned address's REGISTER should stop at Kamailio's door");

      // The edge's own jail keyed the ban on the Via below Kamailio: the attacker, not Kamailio.
      const bans = t.db
        .prepare("SELECT customer_id, source_address FROM audit_events WHERE action = 'auth.banned'")
        .all() as Array<{ customer_id: string; source_address: string }>;
      assert.deepEqual(bans, [{ customer_id: CUSTOMER, source_address: ATTACKER }]);
      assert.deepEqual(alerts, [ATTACKER], "the customer is told of the attacker's address");
    } finally {
      await phone.close();
    }
  },
);

test("a scanner's User-Agent is dropped at Kamailio's door; the same request from an ordinary phone is answered", async () => {
  const client = await RawSipClient.open('scanner', kamailio.udp, 0, '127.0.0.10');
  try {
    const request = (callId: string, userAgent: string) =>
      client.request({
        method: 'OPTIONS',
        uri: `sip:100@${t.config.sip.domain}`,
        from: `<sip:100@${t.config.sip.domain}>;tag=s1`,
        to: `<sip:100@${t.config.sip.domain}>`,
        callId,
        cseq: 1,
        headers: [['User-Agent', userAgent]],
      });
    request('scan-1', 'friendly-scanner');
    request('phone-1', 'Grandstream GXP2160 1.0.11.3');
    await client.waitForResponse(200, '1 OPTIONS');
    assert.deepEqual(
      client.received.map((m) => m.headers.get('call-id')?.[0]),
      ['phone-1'],
      'only the ordinary phone is answered',
    );
    assert.match(
      kamailioLog(),
      /secfilter: OPTIONS from 127\.0\.0\.10:\d+ with scanner User-Agent 'friendly-scanner' dropped/,
    );
    assert.ok(!t.logs.some((l) => l.includes('scan-1')), 'the scanner never reached the sip-edge');
  } finally {
    await client.close();
  }
});
