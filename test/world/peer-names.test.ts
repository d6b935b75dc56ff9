import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerNames, peerNames, traffic } from '../../world/traffic-log';
import { UdpTransport } from '../../world/sip/transports';
import { RtpSession } from '../../world/sip/rtp';

test('a peer is named by its address or by the port range it owns; elsewhere nobody is named', () => {
  const names = new PeerNames();
  names.define([
    { name: 'Kamailio', host: '127.0.0.1', portMin: 10_000, portMax: 10_000 },
    { name: 'rtpengine', host: '127.0.0.1', portMin: 10_010, portMax: 10_249 },
  ]);
  assert.equal(names.nameOf('127.0.0.1', 10_000), 'Kamailio');
  assert.equal(names.nameOf('127.0.0.1', 10_010), 'rtpengine');
  assert.equal(names.nameOf('127.0.0.1', 10_249), 'rtpengine');
  assert.equal(names.nameOf('127.0.0.1', 10_250), undefined);
  assert.equal(names.nameOf('127.0.0.2', 10_000), undefined, 'same port, other host');
});

test("drivers name the other side from the target's peers, and keep their own name without them", async () => {
  const sessions: RtpSession[] = [];
  peerNames.define([
    { name: 'Kamailio', host: '127.0.0.1', portMin: 10_000, portMax: 10_000 },
    { name: 'rtpengine', host: '127.0.0.1', portMin: 10_010, portMax: 10_249 },
  ]);
  try {
    const mark = traffic.mark();
    const alice = await RtpSession.open({ actor: 'alice-phone', peerActor: 'platform SIP' });
    const bob = await RtpSession.open({ actor: 'bob-phone' });
    sessions.push(alice, bob);
    alice.setRemote('127.0.0.1', 10_020);
    bob.setRemote('127.0.0.1', 40_000, 'platform SIP');
    const transport = new UdpTransport(undefined, {
      actor: 'carol-phone',
      outboundProxy: { host: '127.0.0.1', port: 10_000 },
    }) as unknown as { peerActor: string }; // protected: read here only to see the name it will record
    assert.deepEqual(
      traffic.since(mark).map((e) => `${e.from} → ${e.to}`),
      ['alice-phone → rtpengine', 'bob-phone → platform SIP'],
    );
    assert.equal(transport.peerActor, 'Kamailio');
  } finally {
    peerNames.define([]);
    await Promise.all(sessions.map((s) => s.close()));
  }
});
