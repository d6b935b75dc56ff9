/**
 * A REGISTER dictionary attack with SIPp (Debian's sip-tester), as attackers script it: one
 * account, a list of common passwords, from one address and port of the attacker's own.
 *
 * One SIPp run per guess: SIPp 3.6.1 does not expand `[fieldN]` inside `[authentication
 * username=… password=…]` (seen on the wire: it sends a corrupt header line, which the edge
 * answers 400 as malformed and, carrying no credentials, never counts), so each password
 * reaches SIPp through `-ap`. The scenario's Request-URI carries the port because SIPp's digest
 * uri is always sip:remote_ip:remote_port (see sipp/register-guess.xml).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The attacker's address: loopback, but not the phones' 127.0.0.1. */
export const ATTACKER = '127.0.0.9';
/** How long one REGISTER waits for its answer: the edge answers in milliseconds; silence is the ban. */
export const ANSWER_WITHIN_MS = 1_500;
/** A whole SIPp run (start, two transactions, exit) never takes longer than this. */
const RUN_WITHIN_MS = 10_000;
const SCENARIO = join(__dirname, 'sipp', 'register-guess.xml');
const DICTIONARY = join(__dirname, 'sipp', 'dictionary.txt');

/** Why SIPp tests are skipped here, or false when SIPp runs. */
export const sippMissing =
  spawnSync('sipp', ['-v']).error !== undefined
    ? 'sipp (SIPp, Debian package sip-tester) is not installed: apt-get install sip-tester'
    : false;

export interface GuessRun {
  password: string;
  exitCode: number | null;
  /** Start lines of the SIP messages SIPp received (from its -trace_msg file). */
  received: string[];
  /** The tail of SIPp's own output, for failure messages. */
  log: string;
}

export function dictionary(): string[] {
  return readFileSync(DICTIONARY, 'utf8').split('\n').filter(Boolean);
}

/** A free UDP port on `address`: all guesses go from it, as from one attacker's socket. */
export async function freePortOn(address: string): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, address);
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

export class SippDictionaryAttack {
  private constructor(
    private readonly dir: string,
    private readonly target: { host: string; port: number },
    private readonly from: { address: string; port: number },
  ) {}

  /** Writes the scenario for `domain` into `dir` (SIPp's working folder: its traces go there). */
  static async prepare(
    dir: string,
    target: { host: string; port: number },
    domain: string,
  ): Promise<SippDictionaryAttack> {
    writeFileSync(
      join(dir, 'scenario.xml'),
      readFileSync(SCENARIO, 'utf8')
        .replaceAll('DOMAIN', domain)
        .replaceAll('TIMEOUT_MS', String(ANSWER_WITHIN_MS)),
    );
    return new SippDictionaryAttack(dir, target, { address: ATTACKER, port: await freePortOn(ATTACKER) });
  }

  /** One guess: SIPp's REGISTER, the challenge, the REGISTER with `password`; resolves when SIPp exits. */
  async guess(username: string, password: string): Promise<GuessRun> {
    const trace = join(this.dir, `messages-${password}.log`);
    const args = [
      `${this.target.host}:${this.target.port}`,
      ...['-sf', join(this.dir, 'scenario.xml'), '-s', username, '-au', username, '-ap', password],
      ...['-i', this.from.address, '-p', String(this.from.port), '-t', 'u1', '-m', '1', '-nostdin'],
      ...['-trace_msg', '-message_file', trace, '-timeout', `${RUN_WITHIN_MS / 1000}s`],
    ];
    const sipp = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    let log = '';
    sipp.stdout.on('data', (d: Buffer) => (log += d.toString()));
    sipp.stderr.on('data', (d: Buffer) => (log += d.toString()));
    // SIPp's own -timeout ends it; this only keeps a wedged SIPp from outliving the test.
    const bound = setTimeout(() => sipp.kill('SIGKILL'), RUN_WITHIN_MS + 2_000);
    const [exitCode] = (await once(sipp, 'exit')) as [number | null];
    clearTimeout(bound);
    const text = existsSync(trace) ? readFileSync(trace, 'utf8') : '';
    // Each received message follows a "UDP message received [n] bytes :" line.
    const received = [...text.matchAll(/message received \[\d+\] bytes :\s*\n+(.*)/g)].map((m) =>
      (m[1] ?? '').trim(),
    );
    return { password, exitCode, received, log: log.slice(-600) };
  }
}

/** The status codes in a run's received start lines ("SIP/2.0 401 Unauthorized" → "401"). */
export function statuses(run: GuessRun): string[] {
  return run.received.map((line) => line.split(' ')[1] ?? line);
}
