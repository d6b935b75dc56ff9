/**
 * The suite's voice drivers (SipPhone over UDP and WebSocket, the PSTN double) against the
 * reference platform running in this process: registration, calls both ways, media through
 * the relay, rejection, cancel, auto-answer, and the CDRs the API reports for them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPlatform, type RunningPlatform } from '../../platform';
import { embeddedDefaults } from '../../platform/config';
import { PlatformApi, type Cdr } from '../../world/http/api-client';
import { PstnDouble } from '../../world/sip/pstn-double';
import { traffic } from '../../world/traffic-log';
import type { RtpSession } from '../../world/sip/rtp';
import { SipPhone, type PhoneCall } from '../../world/sip/sip-phone';

const WAIT_MS = 3000;
/** About one second of 20 ms frames. */
const ONE_SECOND_OF_PACKETS = 50;
const CARRIER_NUMBER = '+442071234567';

let platform: RunningPlatform;
let operator: PlatformApi;
let storeDir: string;
const platformLog: string[] = [];

before(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'voice-drivers-'));
  const adminApiKey = `admin-${randomBytes(12).toString('hex')}`;
  platform = await startPlatform(
    embeddedDefaults({ storeFile: join(storeDir, 'platform.db'), adminApiKey }),
    (role, message) => platformLog.push(`[${role}] ${message}`),
  );
  operator = new PlatformApi({ baseUrl: platform.endpoints.apiUrl, apiKey: adminApiKey, actor: 'operator' });
});

after(async () => {
  await platform.stop();
  rmSync(storeDir, { recursive: true, force: true });
});

interface Subscriber {
  phone: SipPhone;
  number: string;
}

let numbersHanded = 0;

async function newCustomer(): Promise<PlatformApi> {
  const created = await operator.createCustomer({
    name: `Voice ${randomBytes(3).toString('hex')}`,
    tier: 'standard',
  });
  return new PlatformApi({ baseUrl: platform.endpoints.apiUrl, apiKey: created.apiKey, actor: created.name });
}

/** Provisions a number and a SIP account through the API, then starts and registers a phone for it. */
async function newSubscriber(
  api: PlatformApi,
  name: string,
  transport: 'udp' | 'ws',
  extra: { autoAnswer?: boolean } = {},
): Promise<Subscriber> {
  numbersHanded += 1;
  const number = `+1415555${String(numbersHanded).padStart(4, '0')}`;
  const username = `${name}${randomBytes(2).toString('hex')}`;
  const password = randomBytes(8).toString('hex');
  await api.addNumber({ number, kind: 'local' });
  await api.createSipAccount({ username, password, number });
  const { sip } = platform.endpoints;
  const phone = new SipPhone({
    actor: `${name}'s ${transport.toUpperCase()} phone`,
    username,
    password,
    domain: sip.domain,
    transport,
    server: transport === 'udp' ? sip.udp : { url: sip.ws },
    autoAnswer: extra.autoAnswer,
  });
  await phone.start();
  await phone.register();
  return { phone, number };
}

function nextIncoming(subscriber: Subscriber): Promise<PhoneCall> {
  const seen = subscriber.phone.incomingCalls.all().length;
  return subscriber.phone.incomingCalls.waitFor(
    (call) => subscriber.phone.incomingCalls.all().indexOf(call) >= seen,
    {
      awaited: `an incoming call on ${subscriber.phone.actor}`,
      timeoutMs: WAIT_MS,
      lookAt: 'the INVITE from the platform in the traffic log',
    },
  );
}

/**
 * About a second of audio each way, then each side stops and the other must have received at
 * least 95 % of what was sent, from the relay (not from the other phone directly).
 */
async function proveAudioBothWays(a: RtpSession, b: RtpSession): Promise<void> {
  await Promise.all([
    a.waitForPackets(ONE_SECOND_OF_PACKETS, WAIT_MS),
    b.waitForPackets(ONE_SECOND_OF_PACKETS, WAIT_MS),
  ]);
  a.stopSending();
  b.stopSending();
  const sentByA = a.stats().audioPacketsSent;
  const sentByB = b.stats().audioPacketsSent;
  await Promise.all([
    b.waitForPackets(Math.ceil(0.95 * sentByA), WAIT_MS),
    a.waitForPackets(Math.ceil(0.95 * sentByB), WAIT_MS),
  ]);
  for (const [receiver, sender] of [
    [a, b],
    [b, a],
  ] as const) {
    const stats = receiver.stats();
    const senderAddress = `${sender.localAddress.host}:${sender.localAddress.port}`;
    assert.ok(stats.lossPercent <= 5, `loss at ${stats.localAddress}: ${JSON.stringify(stats)}`);
    assert.deepEqual(stats.payloadTypes, [0], 'PCMU only');
    assert.ok(stats.toneFramesReceived > 0, 'the tone arrived intact');
    assert.ok(
      stats.sources.length > 0 && !stats.sources.includes(senderAddress),
      'media came through the relay',
    );
  }
}

async function cdrOf(api: PlatformApi, sipCallId: string): Promise<Cdr> {
  const page = await api.listCdrs({ sipCallId });
  assert.equal(page.items.length, 1, `one CDR for Call-ID ${sipCallId}: ${JSON.stringify(page.items)}`);
  return page.items[0];
}

/** The carrier's SIP exchange since `mark`, one line per message: "> INVITE", "< 100 Trying [INVITE]". */
function carrierSipFlow(mark: number): string[] {
  return traffic
    .since(mark, 'SIP')
    .filter((entry) => entry.from === 'carrier' || entry.to === 'carrier')
    .map(
      (entry) =>
        `${entry.from === 'carrier' ? '>' : '<'} ${entry.summary
          .replace(/ \(Call-ID [^)]*\)$/, '')
          .replace(/ sip:\S+/, '')
          .replace(/\[\d+ /, '[')}`,
    );
}

async function stopAll(...drivers: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(drivers.map((driver) => driver?.stop()));
}

test('UDP phone calls WS phone by number: answer, audio both ways via the relay, callee hangs up, internal CDR', async () => {
  const api = await newCustomer();
  const alice = await newSubscriber(api, 'alice', 'udp');
  const bob = await newSubscriber(api, 'bob', 'ws');
  try {
    const ringing = nextIncoming(bob);
    const call = await alice.phone.call(bob.number);
    const incoming = await ringing;
    assert.equal(incoming.remoteIdentity.user, alice.number, 'the callee sees the caller number');
    await incoming.answer();
    await call.waitUntilAnswered(WAIT_MS);

    await proveAudioBothWays(call.rtp, incoming.rtp);

    await incoming.hangup();
    const ended = await call.waitUntilEnded(WAIT_MS);
    assert.equal(ended.kind, 'ended');
    assert.equal(ended.by, 'remote');
    assert.equal(call.outcome.endedBy, 'remote');
    assert.equal(call.outcome.wasAnswered, true);

    const cdr = await cdrOf(api, call.callId);
    assert.equal(cdr.direction, 'internal');
    assert.equal(cdr.disposition, 'answered');
    assert.equal(cdr.hangupBy, 'callee');
    assert.equal(cdr.caller, alice.number);
    assert.equal(cdr.callee, bob.number);
    assert.ok(cdr.answeredAt);
  } finally {
    await stopAll(alice.phone, bob.phone);
  }
});

test('callee rejects with 486: the caller sees the call rejected with 486 and the CDR says busy', async () => {
  const api = await newCustomer();
  const alice = await newSubscriber(api, 'alice', 'ws');
  const bob = await newSubscriber(api, 'bob', 'udp');
  try {
    const ringing = nextIncoming(bob);
    const call = await alice.phone.call(bob.number);
    await (await ringing).reject(486);
    await assert.rejects(call.waitUntilAnswered(WAIT_MS), /rejected with 486/);
    assert.equal(call.outcome.state, 'rejected');
    assert.equal(call.outcome.status, 486);
    const cdr = await cdrOf(api, call.callId);
    assert.equal(cdr.disposition, 'busy');
    assert.equal(cdr.sipStatus, 486);
  } finally {
    await stopAll(alice.phone, bob.phone);
  }
});

/** A PSTN call in progress towards a fresh subscriber, reached over the customer's carrier trunk. */
interface PstnCallToSubscriber {
  api: PlatformApi;
  pstn: PstnDouble;
  trunk: Awaited<ReturnType<PlatformApi['createTrunk']>>;
  /** Taken before the subscriber registers, for carrierSipFlow. */
  mark: ReturnType<typeof traffic.mark>;
  subscriber: Subscriber;
  /** The subscriber's phone seeing the call. */
  ringing: Promise<PhoneCall>;
  call: Awaited<ReturnType<PstnDouble['call']>>;
}

/** A new customer with the PSTN double as its trunk; the PSTN calls a new subscriber, then `body` runs. */
async function withPstnCallingSubscriber(
  name: string,
  transport: 'udp' | 'ws',
  body: (setup: PstnCallToSubscriber) => Promise<void>,
): Promise<void> {
  const api = await newCustomer();
  const pstn = new PstnDouble({ actor: 'carrier' });
  let subscriber: Subscriber | undefined;
  try {
    await pstn.start();
    const trunk = await api.createTrunk({ name: 'carrier', ...pstn.address(), transport: 'udp' });
    const mark = traffic.mark();
    subscriber = await newSubscriber(api, name, transport);
    const ringing = nextIncoming(subscriber);
    const call = await pstn.call(CARRIER_NUMBER, subscriber.number, platform.endpoints.sip.udp);
    await body({ api, pstn, trunk, mark, subscriber, ringing, call });
  } finally {
    await stopAll(subscriber?.phone, pstn);
  }
}

test('the PSTN calls a DID over the trunk: the phone answers, audio both ways, the PSTN hangs up, inbound CDR', async () => {
  await withPstnCallingSubscriber(
    'dana',
    'udp',
    async ({ api, pstn, trunk, mark, subscriber, ringing, call }) => {
      assert.equal(call.origin, 'pstn');
      const incoming = await ringing;
      assert.equal(incoming.remoteIdentity.user, CARRIER_NUMBER, 'the phone sees the PSTN caller');
      await incoming.answer();
      await call.waitUntilAnswered(WAIT_MS);

      await proveAudioBothWays(call.rtp, incoming.rtp);

      await call.hangup();
      assert.equal(call.endedBy, 'local');
      const ended = await incoming.waitUntilEnded(WAIT_MS);
      assert.equal(ended.by, 'remote');

      const cdr = await cdrOf(api, call.callId);
      assert.equal(cdr.direction, 'inbound');
      assert.equal(cdr.disposition, 'answered');
      assert.equal(cdr.trunkId, trunk.id);
      assert.equal(cdr.caller, CARRIER_NUMBER);
      assert.equal(cdr.callee, subscriber.number);
      assert.equal(cdr.hangupBy, 'caller');
      assert.deepEqual(carrierSipFlow(mark), [
        '> INVITE',
        '< 100 Trying [INVITE]',
        '< 180 Ringing [INVITE]',
        '< 200 OK [INVITE]',
        '> ACK',
        '> BYE',
        '< 200 OK [BYE]',
      ]);
      assert.deepEqual(pstn.problems.all(), [], 'the double saw nothing unexpected');
    },
  );
});

test('a PSTN call the phone rejects ends rejected 486 at the PSTN (non-2xx ACKed)', async () => {
  await withPstnCallingSubscriber('erin', 'ws', async ({ api, pstn, mark, ringing, call }) => {
    await (await ringing).reject(486);
    await assert.rejects(call.waitUntilAnswered(WAIT_MS), /rejected with 486/);
    const event = await call.waitUntilEnded(WAIT_MS);
    assert.equal(event.kind, 'rejected');
    assert.equal(call.finalStatus, 486);
    const cdr = await cdrOf(api, call.callId);
    assert.equal(cdr.direction, 'inbound');
    assert.equal(cdr.disposition, 'busy');
    assert.deepEqual(carrierSipFlow(mark), [
      '> INVITE',
      '< 100 Trying [INVITE]',
      '< 180 Ringing [INVITE]',
      '< 486 Busy Here [INVITE]',
      '> ACK',
    ]);
    assert.deepEqual(pstn.problems.all(), []);
  });
});

test('the PSTN hangs up while the phone rings: CANCEL, 487 at the PSTN, the phone sees the call end', async () => {
  await withPstnCallingSubscriber('fred', 'udp', async ({ api, pstn, mark, ringing, call }) => {
    const incoming = await ringing;
    await call.hangup();
    assert.equal(call.finalStatus, 487);
    assert.equal(call.endedBy, 'local');
    const ended = await incoming.waitUntilEnded(WAIT_MS);
    assert.equal(ended.by, 'remote');
    assert.equal(incoming.outcome.wasAnswered, false);
    const cdr = await cdrOf(api, call.callId);
    assert.equal(cdr.disposition, 'cancelled');
    // The CANCEL may cross the 180; what matters is CANCEL answered, 487 and its ACK last.
    const flow = carrierSipFlow(mark);
    for (const line of ['> CANCEL', '< 200 OK [CANCEL]', '< 487 Request Terminated [INVITE]'])
      assert.ok(flow.includes(line), `${line} in ${JSON.stringify(flow)}`);
    assert.equal(flow.at(-1), '> ACK');
    assert.ok(
      flow.indexOf('> CANCEL') > flow.indexOf('< 100 Trying [INVITE]'),
      'CANCEL only after a provisional',
    );
    assert.deepEqual(pstn.problems.all(), []);
  });
});

test('autoAnswer: the callee phone answers by itself; the caller hangs up and the callee sees it', async () => {
  const api = await newCustomer();
  const alice = await newSubscriber(api, 'alice', 'udp');
  const bob = await newSubscriber(api, 'bob', 'udp', { autoAnswer: true });
  try {
    const ringing = nextIncoming(bob);
    const call = await alice.phone.call(bob.number);
    await call.waitUntilAnswered(WAIT_MS);
    const incoming = await ringing;
    await incoming.rtp.waitForPackets(1, WAIT_MS);
    await call.hangup();
    const ended = await incoming.waitUntilEnded(WAIT_MS);
    assert.equal(ended.by, 'remote');
    assert.equal(call.outcome.endedBy, 'local');
  } finally {
    await stopAll(alice.phone, bob.phone);
  }
});
