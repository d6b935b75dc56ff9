/**
 * The sip-edge's brute-force jail against a standard tool: SIPp (Debian's sip-tester) runs a
 * REGISTER dictionary attack on one account from its own loopback address (127.0.0.9), the way
 * attackers script it. The first guesses are challenged (401); after the platform's
 * authFailuresBeforeBan wrong passwords the address is banned: its next REGISTER gets no answer
 * at all, while the account's real phone on 127.0.0.1 registers meanwhile.
 *
 * Why one SIPp run per guess: SIPp 3.6.1 does not expand `[fieldN]` inside `[authentication
 * username=… password=…]` (seen on the wire: it sends a corrupt header line, which the edge
 * answers 400 as malformed and, carrying no credentials, never counts), so the dictionary's
 * passwords reach SIPp through `-ap`, one process per guess, from the same address and port.
 *
 * Skipped, saying so, where SIPp is not installed (`apt-get install sip-tester`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNTS, CUSTOMER, register, startTestEdge } from '../sip-edge/harness';
import { RawSipClient } from '../sip-edge/raw-sip-client';

const ATTACKER = '127.0.0.9';
/** How long one REGISTER waits for its answer: the edge answers in milliseconds; silence is the ban. */
const ANSWER_WITHIN_MS = 1_500;
/** A whole SIPp run (start, two transactions, exit) never takes longer than this. */
const RUN_WITHIN_MS = 10_000;
const SCENARIO = join(__dirname, 'sipp', 'register-guess.xml');
const DICTIONARY = join(__dirname, 'sipp', 'dictionary.txt');

const sippMissing = spawnSync('sipp', ['-v']).error !== undefined;

interface GuessRun {
  password: string;
  exitCode: number | null;
  /** SIP messages SIPp received (from its -trace_msg file). */
  received: string[];
  log: string;
}

/** A free UDP port on the attacker's address: all guesses go from it, as from one attacker's socket. */
async function freePortOn(address: string): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, address);
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

async function guess(
  dir: string,
  target: { host: string; port: number },
  from: { address: string; port: number },
  username: string,
  password: string,
): Promise<GuessRun> {
  const trace = join(dir, `messages-${password}.log`);
  const args = [
    `${target.host}:${target.port}`,
    ...['-sf', join(dir, 'scenario.xml'), '-s', username, '-au', username, '-ap', password],
    ...['-i', from.address, '-p', String(from.port), '-t', 'u1', '-m', '1', '-nostdin'],
    ...['-trace_msg', '-message_file', trace, '-timeout', `${RUN_WITHIN_MS / 1000}s`],
  ];
  const sipp = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let log = '';
  sipp.stdout.on('data', (d: Buffer) => (log += d.toString()));
  sipp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const bound = setTimeout(() => sipp.kill('SIGKILL'), RUN_WITHIN_MS + 2_000);
  const [exitCode] = (await once(sipp, 'exit')) as [number | null];
  clearTimeout(bound);
  const text = existsSync(trace) ? readFileSync(trace, 'utf8') : '';
  // Each received message follows a "UDP message received [n] bytes :" line; its start line next.
  const received = [...text.matchAll(/message received \[\d+\] bytes :\s*\n+(.*)/g)].map((m) => m[1].trim());
  return { password, exitCode, received, log: log.slice(-600) };
}

test(
  'a SIPp REGISTER dictionary attack from another address is challenged, then banned, while the real phone registers',
  { skip: sippMissing ? 'sipp (SIPp, Debian package sip-tester) is not installed' : false },
  async () => {
    const t = await startTestEdge();
    const dir = mkdtempSync(join(tmpdir(), 'sipp-dictionary-'));
    const alerts: Array<{ customerId: string; type: string; data: { address: string } }> = [];
    t.bus.on('security.alert', (event) => alerts.push(event as (typeof alerts)[number]));
    const phone = await RawSipClient.open('alice', t.server);
    try {
      const domain = t.config.sip.domain;
      const { authFailuresBeforeBan } = t.config.security.sipFraud;
      writeFileSync(
        join(dir, 'scenario.xml'),
        readFileSync(SCENARIO, 'utf8')
          .replaceAll('DOMAIN', domain)
          .replaceAll('TIMEOUT_MS', String(ANSWER_WITHIN_MS)),
      );
      const passwords = readFileSync(DICTIONARY, 'utf8').split('\n').filter(Boolean);
      assert.ok(passwords.length > authFailuresBeforeBan, 'the dictionary outlasts the jail');
      assert.ok(!passwords.includes(ACCOUNTS.alice.password), "the dictionary misses alice's password");
      const from = { address: ATTACKER, port: await freePortOn(ATTACKER) };

      // The guesses before the ban: each challenged, then refused with 401 (wrong password).
      for (const password of passwords.slice(0, authFailuresBeforeBan)) {
        const run = await guess(dir, t.server, from, 'alice', password);
        assert.deepEqual(
          run.received.map((line) => line.split(' ')[1]),
          ['401', '401'],
          `guess "${password}" should be challenged and refused; SIPp got ${JSON.stringify(run.received)}, exit ${run.exitCode}; its output: ${run.log}\nedge log: ${t.logs.slice(-6).join('\n')}`,
        );
        assert.equal(run.exitCode, 0, `SIPp's run of guess "${password}" failed: ${run.log}`);
      }

      // Banned now: the next guess is not answered at all; the real phone registers meanwhile.
      const banned = guess(dir, t.server, from, 'alice', passwords[authFailuresBeforeBan]);
      await register(phone, ACCOUNTS.alice, domain);
      const run = await banned;
      assert.deepEqual(
        run.received,
        [],
        `the banned address should get no answer within ${ANSWER_WITHIN_MS} ms; SIPp got ${JSON.stringify(run.received)}`,
      );
      assert.notEqual(run.exitCode, 0, 'SIPp counts the unanswered REGISTER as a failed call');
      assert.ok(
        t.logs.some((l) => l.includes(`dropped REGISTER`) && l.includes(`udp:${ATTACKER}:`)),
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
