/**
 * An active-active edge: two sip-edge nodes at their own addresses share the store (as behind
 * Kamailio's dispatcher). Registrations made through one are used by the other; a call carried
 * by a node that died goes on from its peer once the peer knows it is dead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipEdge } from '../../platform/sip-edge';
import { RemoteLiveCalls, serveCallControl } from '../../platform/sip-edge/call-control';
import {
  ACCOUNTS,
  CUSTOMER,
  answerInvite,
  cdrFor,
  placeCall,
  register,
  registerRequestBase,
  startPeerEdge,
  startTestEdge,
  type DialogIds,
  type TestEdge,
} from './harness';
import { digestAnswer, header, RawSipClient } from './raw-sip-client';

interface Pair {
  t: TestEdge;
  /** Node b; node a is t.edge. */
  b: SipEdge;
  dead: Set<string>;
  alice: RawSipClient;
  bob: RawSipClient;
}

async function withTwoNodes(body: (pair: Pair) => Promise<void>): Promise<void> {
  const dead = new Set<string>();
  const node = (name: string) => ({ node: name, isDead: (peer: string) => dead.has(peer) });
  const t = await startTestEdge({ nonceSecret: 'one secret for the whole edge' }, {}, node('a'));
  const b = await startPeerEdge(t, node('b'));
  const alice = await RawSipClient.open('alice', t.server);
  const bob = await RawSipClient.open('bob', t.server);
  try {
    await register(alice, ACCOUNTS.alice, t.config.sip.domain);
    await register(bob, ACCOUNTS.bob, t.config.sip.domain);
    await body({ t, b, dead, alice, bob });
  } finally {
    await Promise.all([alice.close(), bob.close()]);
    if (t.edge !== b) await b.stop();
    await t.stop();
  }
}

/** Alice calls Bob through node a; Bob answers; both legs ACKed. Returns Alice's dialog. */
async function establishedThroughA({ t, alice, bob }: Pair): Promise<{ dialog: DialogIds; callId: string }> {
  const call = await placeCall(alice, ACCOUNTS.alice, ACCOUNTS.bob.number, t, 40_002);
  const invite = await bob.waitForRequest('INVITE');
  answerInvite(bob, invite, 'bobtag', 40_004);
  const ok = await alice.waitForResponse(200, '2 INVITE');
  const dialog: DialogIds = {
    from: header(ok, 'from') ?? '',
    to: header(ok, 'to') ?? '',
    callId: header(ok, 'call-id') ?? '',
  };
  alice.request({ method: 'ACK', uri: 'sip:edge@127.0.0.1', ...dialog, cseq: 2 });
  await bob.waitForRequest('ACK');
  return { dialog, callId: call.callId };
}

function bye(alice: RawSipClient, dialog: DialogIds, branch?: string): string {
  return alice.request({ method: 'BYE', uri: 'sip:edge@127.0.0.1', ...dialog, cseq: 3, branch });
}

/** Node a vanishes as a crash leaves it: sockets gone, its calls still in the store. */
async function crashA(pair: Pair): Promise<void> {
  await pair.t.edge.release();
  pair.t.edge = pair.b;
  pair.alice.server = pair.b.endpoints.udp;
}

test('a phone registered through one node is called through the other, and a challenge from one node is answered to the other', async () => {
  await withTwoNodes(async ({ t, b, alice, bob }) => {
    // Carol is challenged by node a and answers node b: the nonce secret is the edge's, not the node's.
    const carol = await RawSipClient.open('carol', t.server);
    try {
      const base = registerRequestBase('carol', t.config.sip.domain, 'c1', 'reg-carol-across');
      const contact: [string, string] = ['Contact', `<${carol.contact}>;expires=300`];
      carol.request({ ...base, cseq: 1, headers: [contact] });
      const challenge = await carol.waitForResponse(401, '1 REGISTER');
      carol.server = b.endpoints.udp;
      const authorization = digestAnswer(header(challenge, 'www-authenticate') ?? '', {
        ...ACCOUNTS.carol,
        method: 'REGISTER',
        uri: base.uri,
      });
      carol.request({ ...base, cseq: 2, headers: [contact, ['Authorization', authorization]] });
      await carol.waitForResponse(200, '2 REGISTER');
    } finally {
      await carol.close();
    }
    // Bob registered through node a only; node b finds his binding in the store.
    alice.server = b.endpoints.udp;
    await placeCall(alice, ACCOUNTS.alice, ACCOUNTS.bob.number, t, 40_002);
    const invite = await bob.waitForRequest('INVITE');
    assert.equal(invite.requestUri, bob.contact, 'node b called the contact bob registered through node a');
    assert.equal(invite.from.port, b.endpoints.udp.port, 'the INVITE came from node b');
  });
});

test('a call carried by a dead node goes on from its peer: the BYE is left for a retransmission until the peer knows, then passed on, one CDR', async () => {
  await withTwoNodes(async (pair) => {
    const { t, b, dead, alice, bob } = pair;
    const { dialog, callId } = await establishedThroughA(pair);
    await crashA(pair);

    const branch = bye(alice, dialog);
    await waitForLog(t, /BYE for call .* carried by node a, not known dead yet/);
    assert.equal(
      alice.received.filter((m) => header(m, 'cseq') === '3 BYE').length,
      0,
      'node b did not answer a BYE of a call it does not own yet (no 481: the call is not over)',
    );

    dead.add('a');
    assert.equal(b.adoptCallsOf('a'), 1, 'node b adopts the one call node a carried');
    assert.equal(b.activeCalls().length, 1, 'node b carries the call now');
    bye(alice, dialog, branch); // the phone's Timer E retransmission
    const atBob = await bob.waitForRequest('BYE');
    assert.equal(atBob.from.port, b.endpoints.udp.port, 'node b passed the BYE on to bob');
    bob.reply(atBob, 200, 'OK');
    await alice.waitForResponse(200, '3 BYE');
    await waitFor(() => cdrFor(t, callId) !== undefined, 'the call record');
    const cdr = cdrFor(t, callId);
    assert.equal(cdr?.disposition, 'answered');
    assert.equal(cdr?.hangup_by, 'caller');
    const rows = t.db.prepare('SELECT count(*) AS n FROM cdrs WHERE sip_call_id = ?').get(callId) as {
      n: number;
    };
    assert.equal(rows.n, 1, 'one record for the call');
    assert.equal(b.adoptCallsOf('a'), 0, 'nothing of node a is left to adopt');
  });
});

test('a request for a call of a peer already known dead is handled at once: its calls are adopted on demand', async () => {
  await withTwoNodes(async (pair) => {
    const { dead, alice, bob } = pair;
    const { dialog } = await establishedThroughA(pair);
    await crashA(pair);
    dead.add('a');
    bye(alice, dialog);
    const atBob = await bob.waitForRequest('BYE');
    bob.reply(atBob, 200, 'OK');
    await alice.waitForResponse(200, '3 BYE');
  });
});

test('a request for a dialog no node carries is still answered 481', async () => {
  await withTwoNodes(async ({ b, alice }) => {
    alice.server = b.endpoints.udp;
    bye(alice, {
      from: '<sip:alice@127.0.0.1>;tag=x',
      to: '<sip:bob@127.0.0.1>;tag=y',
      callId: 'no-such-call',
    });
    await alice.waitForResponse(481, '3 BYE');
  });
});

async function waitForLog(t: TestEdge, pattern: RegExp): Promise<void> {
  await waitFor(() => t.logs.some((line) => pattern.test(line)), `a log line matching ${String(pattern)}`);
}

/** Polls a condition of the store or the log (no event to wait on), bounded at 2 s. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after 2000 ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("the API's hang-up of a call goes to the node carrying it, also after a peer's call was adopted", async () => {
  await withTwoNodes(async (pair) => {
    const { t, b, dead, bob } = pair;
    const log = (message: string): void => void t.logs.push(message);
    const controls = [
      await serveCallControl('127.0.0.1', 0, t.edge.liveCalls, log),
      await serveCallControl('127.0.0.1', 0, b.liveCalls, log),
    ];
    try {
      // The default address is node a's, which dies: only the owner's address can work after.
      const api = new RemoteLiveCalls(t.db, { host: '127.0.0.1', port: controls[0].port }, log, {
        a: { host: '127.0.0.1', port: controls[0].port },
        b: { host: '127.0.0.1', port: controls[1].port },
      });
      await establishedThroughA(pair);
      await crashA(pair);
      await controls[0].stop();
      dead.add('a');
      b.adoptCallsOf('a');
      const [call] = api.list(CUSTOMER);
      assert.ok(call, 'the adopted call is listed');
      assert.equal(api.hangup(CUSTOMER, call.id), true);
      const bye = await bob.waitForRequest('BYE');
      assert.equal(bye.from.port, b.endpoints.udp.port, 'node b, which carries the call now, hung it up');
    } finally {
      await controls[1].stop();
    }
  });
});
