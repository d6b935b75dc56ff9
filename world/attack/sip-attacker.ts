/**
 * The suite's SIP attacker, doing what sipvicious does (svcrack: guess one account's password;
 * svmap: sweep for servers under a scanner's User-Agent; svwar: tell existing accounts from
 * missing ones), bounded in count and time. It sends from its own loopback address (127.x.y.z:
 * Linux routes all of 127/8 to lo), so the platform sees a source other than the real phones'.
 *
 * "No answer" is decided without a timer: a witness on yet another address sends a request right
 * after, along the same path (a REGISTER without credentials, which the edge challenges — a proxy
 * in front relays it as it relays the attacker's, where an OPTIONS to the proxy itself would be
 * answered at once), and the path handles datagrams in the order they arrive; once the witness is
 * answered, an answer to the earlier request would already have come.
 */
import { randomInt } from 'node:crypto';
import type { WaitOptions } from '../observed';
import { SipDatagramProbe } from '../probes/sip-datagram-probe';
import { parseSipMessage, randomToken, type SipResponse } from '../sip/sip-text';
import { answerChallenge, parseChallenge } from './digest';

/** svmap's and svwar's own User-Agent. */
export const SCANNER_USER_AGENT = 'friendly-scanner';
/** What an ordinary desk phone announces. */
export const PHONE_USER_AGENT = 'Grandstream GXP2160 1.0.11.3';

export interface Target {
  host: string;
  port: number;
  domain: string;
}

export interface SentRequest {
  method: string;
  callId: string;
  cseq: number;
  /** Suite clock when it went. */
  sentAt: number;
}

export interface Answer {
  status: number;
  reason: string;
  /** Header names, lower case, in order: what a prober compares besides the status. */
  headerNames: string[];
  response: SipResponse;
  at: number;
}

export interface RequestSpec {
  method: 'REGISTER' | 'INVITE' | 'OPTIONS';
  /** The account named in From/To (REGISTER's To is the AOR, INVITE's From the caller). */
  user: string;
  userAgent?: string;
  /** An Authorization (REGISTER) or Proxy-Authorization (INVITE) value. */
  credentials?: string;
  /** INVITE only: the number called (default: a name beside `user`). */
  dialed?: string;
  callId?: string;
  cseq?: number;
}

/** A dotted IPv4 address in 127.0.0.0/8. */
export function isLoopbackIPv4(host: string): boolean {
  const octets = host.split('.');
  return (
    octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255)
  );
}

/** 127.a.b.c outside 127.0.0.0/16 (the suite's phones live on 127.0.0.1): one per attacker. */
export function randomLoopbackAddress(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

export class SipAttacker {
  private readonly probe: SipDatagramProbe;
  private port = 0;

  private constructor(
    readonly actor: string,
    readonly address: string,
    private readonly target: Target,
  ) {
    this.probe = new SipDatagramProbe(actor);
  }

  static async open(actor: string, target: Target, address = randomLoopbackAddress()): Promise<SipAttacker> {
    // Attack traffic stays on this machine (non-negotiable 9): never at a deployment over a network.
    if (!isLoopbackIPv4(target.host))
      throw new Error(
        `The attacker sends only to a platform on loopback (embedded or lab target), not to ${target.host}: ` +
          'password guessing, scanning and probing a deployment over the network is for its own security team.',
      );
    const attacker = new SipAttacker(actor, address, target);
    attacker.port = await attacker.probe.open(address);
    return attacker;
  }

  close(): Promise<void> {
    return this.probe.close();
  }

  async send(spec: RequestSpec): Promise<SentRequest> {
    const { domain } = this.target;
    const callId = spec.callId ?? `${randomToken(10)}@${this.address}`;
    const cseq = spec.cseq ?? 1;
    const uri =
      spec.method === 'INVITE' ? `sip:${spec.dialed ?? `${spec.user}-callee`}@${domain}` : `sip:${domain}`;
    const aor = `<sip:${spec.user}@${domain}>`;
    const authHeader = spec.method === 'INVITE' ? 'Proxy-Authorization' : 'Authorization';
    const lines = [
      `${spec.method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK${randomToken(8)};rport`,
      'Max-Forwards: 70',
      `From: ${aor};tag=${randomToken(4)}`,
      `To: ${spec.method === 'INVITE' ? `<${uri}>` : aor}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${spec.method}`,
      `Contact: <sip:${spec.user}@${this.address}:${this.port}>`,
      ...(spec.userAgent !== undefined ? [`User-Agent: ${spec.userAgent}`] : []),
      ...(spec.credentials !== undefined ? [`${authHeader}: ${spec.credentials}`] : []),
      'Content-Length: 0',
    ];
    const sentAt = Date.now();
    await this.probe.send(`${lines.join('\r\n')}\r\n\r\n`, this.target);
    return { method: spec.method, callId, cseq, sentAt };
  }

  /** The final answer to `sent` (provisional ones skipped), within the wait's bound. */
  async answerTo(sent: SentRequest, wait: WaitOptions): Promise<Answer> {
    const item = await this.probe.responses.waitFor((r) => answers(r.text, sent) && isFinal(r.text), {
      ...wait,
      relevant: (r) => answers(r.text, sent),
    });
    return toAnswer(item.text);
  }

  /** The final answer to `sent` if one has arrived, else undefined. */
  answered(sent: SentRequest): Answer | undefined {
    const item = this.probe.responses.all().find((r) => answers(r.text, sent) && isFinal(r.text));
    return item ? toAnswer(item.text) : undefined;
  }

  /**
   * Sends `spec` and tells whether the edge answered it: a witness from another address sends a
   * REGISTER without credentials right after; once the edge's challenge to it is back (within the
   * wait's bound), so is the answer to `spec`, or it never comes.
   */
  async sendAndSettle(spec: RequestSpec, wait: WaitOptions): Promise<{ sent: SentRequest; answer?: Answer }> {
    const sent = await this.send(spec);
    const witness = await SipAttacker.open(`${this.actor}'s witness`, this.target);
    try {
      const control = await witness.send({
        method: 'REGISTER',
        user: `witness-${randomInt(1e6)}`,
        userAgent: PHONE_USER_AGENT,
      });
      await witness.answerTo(control, {
        ...wait,
        awaited: `the challenge to a witness's REGISTER sent right after: ${wait.awaited}`,
      });
    } finally {
      await witness.close();
    }
    // Datagrams that became readable together are delivered in one turn of the event loop.
    await new Promise((done) => setImmediate(done));
    return { sent, answer: this.answered(sent) };
  }

  /**
   * svcrack: challenge, then one guess per request until the password is found, the edge stops
   * answering, or `maxTries` guesses were made.
   */
  async guessPasswords(
    username: string,
    guesses: readonly string[],
    maxTries: number,
    wait: WaitOptions,
  ): Promise<DictionaryAttack> {
    const callId = `${randomToken(10)}@${this.address}`;
    const first = await this.send({ method: 'REGISTER', user: username, callId, cseq: 1 });
    let challenge = await this.answerTo(first, wait);
    const tries: DictionaryAttack['tries'] = [];
    for (const password of guesses.slice(0, maxTries)) {
      const header = challenge.response.headers.get('www-authenticate');
      if (challenge.status !== 401 || header === undefined) break;
      const credentials = answerChallenge(parseChallenge(header), {
        username,
        password,
        method: 'REGISTER',
        uri: `sip:${this.target.domain}`,
      });
      const cseq = tries.length + 2;
      const { sent, answer } = await this.sendAndSettle(
        { method: 'REGISTER', user: username, callId, cseq, credentials },
        wait,
      );
      tries.push({ password, sentAt: sent.sentAt, answer });
      if (answer === undefined || answer.status !== 401) break;
      challenge = answer;
    }
    return { username, address: this.address, tries };
  }
}

export interface DictionaryAttack {
  username: string;
  address: string;
  /** Each guess, when it went, and the edge's answer (undefined: none, the edge went quiet). */
  tries: Array<{ password: string; sentAt: number; answer?: Answer }>;
}

/** The most common SIP passwords seen in svcrack dictionaries: none is a real account's. */
export const COMMON_PASSWORDS = [
  '123456',
  'password',
  '1234',
  'admin',
  'secret',
  '0000',
  '1111',
  'voip',
  'sip123',
  'qwerty',
  '12345678',
  'pass',
];

function answers(text: string, sent: SentRequest): boolean {
  const message = safeParse(text);
  return (
    message?.headers.get('call-id') === sent.callId &&
    message.headers.get('cseq') === `${sent.cseq} ${sent.method}`
  );
}

function isFinal(text: string): boolean {
  const message = safeParse(text);
  return message?.kind === 'response' && message.status >= 200;
}

function safeParse(text: string) {
  try {
    return parseSipMessage(text);
  } catch {
    return undefined;
  }
}

function toAnswer(text: string): Answer {
  const message = parseSipMessage(text);
  if (message.kind !== 'response') throw new Error(`expected a SIP response, got: ${text.slice(0, 80)}`);
  const headerNames = text
    .split('\r\n\r\n', 1)[0]
    .split('\r\n')
    .slice(1)
    .map((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase());
  return { status: message.status, reason: message.reason, headerNames, response: message, at: Date.now() };
}
