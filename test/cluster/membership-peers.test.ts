/**
 * Membership mode 'peers' (an active-active role): every node serves; a peer that falls silent,
 * or is never heard at all, is fenced and then announced dead exactly once; one still starting is
 * left alone; a peer that adverts again (a new process) counts as alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Membership } from '../../platform/cluster/membership';

const TIMING = { advertIntervalMs: 20, deadAfterMs: 120 };

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

/** Resolves when `check` holds; fails after 3 s naming what was awaited. */
async function until(what: string, check: () => boolean): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 3_000) assert.fail(`${what} not within 3000 ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function advert(node: string, pid: number): Buffer {
  return Buffer.from(JSON.stringify({ role: 'sip', node, pid, state: 'active', epoch: 1 }));
}

test('a peer that never adverts is left alone while the supervisor refuses (still starting), then fenced and announced once', async () => {
  const [selfPort, peerPort] = [await freeUdpPort(), await freeUdpPort()];
  const asked: string[] = [];
  const dead: string[] = [];
  let answer: 'refused' | 'killed' = 'refused';
  const membership = new Membership({
    self: { role: 'sip', node: 'a', heartbeatPort: selfPort },
    peers: [{ role: 'sip', node: 'b', heartbeatPort: peerPort }],
    timing: TIMING,
    initial: 'active',
    mode: 'peers',
    activate: async () => undefined,
    onState: () => undefined,
    log: () => undefined,
    superseded: () => assert.fail('a peers-mode node is never superseded'),
    fence: () => Promise.resolve(true),
    fenceUnheard: (node, unheardForMs) => {
      asked.push(`${node}/${unheardForMs}`);
      return Promise.resolve(answer);
    },
    onPeerDead: (node) => dead.push(node),
  });
  await membership.start();
  try {
    await until('a fence request for the unheard peer b', () => asked.length >= 2);
    assert.equal(asked[0], `b/${TIMING.deadAfterMs}`);
    assert.deepEqual(dead, [], 'a refused fence must not make the peer dead');
    assert.equal(membership.isDead('b'), false);
    answer = 'killed';
    await until('b announced dead', () => dead.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 5 * TIMING.advertIntervalMs));
    assert.deepEqual(dead, ['b'], 'announced once');
    assert.equal(membership.isDead('b'), true);
    assert.deepEqual(membership.livingNodes(), ['a']);
  } finally {
    membership.stop();
  }
});

test('a peer heard and then silent is fenced by its pid and announced; its new process brings it back', async () => {
  const [selfPort, peerPort] = [await freeUdpPort(), await freeUdpPort()];
  const fenced: string[] = [];
  const dead: string[] = [];
  const membership = new Membership({
    self: { role: 'sip', node: 'a', heartbeatPort: selfPort },
    peers: [{ role: 'sip', node: 'b', heartbeatPort: peerPort }],
    timing: TIMING,
    initial: 'active',
    mode: 'peers',
    activate: async () => undefined,
    onState: () => undefined,
    log: () => undefined,
    superseded: () => assert.fail('a peers-mode node is never superseded'),
    fence: (node, pid) => {
      fenced.push(`${node}/${pid}`);
      return Promise.resolve(true);
    },
    fenceUnheard: () => assert.fail('b was heard: its pid is known'),
    onPeerDead: (node) => dead.push(node),
  });
  await membership.start();
  const peer = dgram.createSocket('udp4');
  peer.bind(peerPort, '127.0.0.1');
  await once(peer, 'listening');
  try {
    // b adverts for a while (higher epoch too: no supersession in peers mode), then falls silent.
    for (let i = 0; i < 5; i += 1) {
      peer.send(advert('b', 4242), selfPort, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, TIMING.advertIntervalMs));
    }
    assert.deepEqual(dead, [], 'b was alive');
    await until('b announced dead', () => dead.length > 0);
    assert.deepEqual(fenced, ['b/4242']);
    assert.equal(membership.isDead('b'), true);
    peer.send(advert('b', 4343), selfPort, '127.0.0.1');
    await until('b alive again', () => !membership.isDead('b'));
    assert.deepEqual(membership.livingNodes(), ['a', 'b']);
  } finally {
    peer.close();
    membership.stop();
  }
});
