/**
 * The platform's ng side (NgClient, RelayControl) against a real rtpengine started by
 * lab/rtpengine.ts: what the voice features rely on, checked at the protocol. Needs the
 * rtpengine binary (the lab lane installs it); `npm run unit` leaves test/lab/ out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram, { type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimRtpenginePorts, ngPing, startLabRtpengine } from '../../lab/rtpengine';
import { NgClient } from '../../platform/sip-edge/ng-client';
import { RelayControl, relayPortIn } from '../../platform/sip-edge/relay-call';
import { placeholderAudioSdp, plainAudioSdp } from '../../platform/media-relay/media-app';

const HOST = '127.0.0.1';
const BOUND_MS = 3000;
let rtpengine: Awaited<ReturnType<typeof startLabRtpengine>>;
let client: NgClient;
let control: RelayControl;
const relayLog: string[] = [];

before(async () => {
  const logFile = join(mkdtempSync(join(tmpdir(), 'lab-rtpengine-')), 'rtpengine.log');
  rtpengine = await startLabRtpengine(logFile);
  client = await NgClient.open(rtpengine.ng, (message) => relayLog.push(message));
  control = new RelayControl(client, (message) => relayLog.push(message));
});

after(async () => {
  await client?.close();
  await rtpengine?.stop();
});

/** A party's RTP socket: sends numbered PCMU packets to where its SDP told it, records what arrives. */
class Party {
  readonly received: number[] = [];
  private readonly sources = new Set<string>();
  private waiters: Array<() => void> = [];
  sendTo = 0;
  private sequence = 0;

  private constructor(
    readonly name: string,
    private readonly socket: Socket,
  ) {
    socket.on('message', (packet, from) => {
      this.received.push(packet.readUInt16BE(2));
      this.sources.add(`${from.address}:${from.port}`);
      for (const wake of this.waiters) wake();
    });
  }

  static async open(name: string): Promise<Party> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    return new Party(name, socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  sdp(): string {
    return plainAudioSdp(HOST, this.port);
  }

  /** The relay addresses media arrived from. */
  heardFrom(): string[] {
    return [...this.sources];
  }

  send(count: number): number[] {
    const sent: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const packet = Buffer.alloc(172, 0xff);
      packet[0] = 0x80;
      packet[1] = 0; // PCMU
      this.sequence += 1;
      packet.writeUInt16BE(this.sequence, 2);
      packet.writeUInt32BE(this.sequence * 160, 4);
      packet.writeUInt32BE(this.port, 8); // SSRC: one per party
      this.socket.send(packet, this.sendTo, HOST);
      sent.push(this.sequence);
    }
    return sent;
  }

  /** Waits until packet `sequence` has arrived; the failure says what did instead. */
  async awaitPacket(sequence: number, what: string): Promise<void> {
    const deadline = Date.now() + BOUND_MS;
    while (!this.received.includes(sequence)) {
      const left = deadline - Date.now();
      if (left <= 0)
        assert.fail(
          `${this.name} did not get ${what} (packet ${sequence}) within ${BOUND_MS} ms through rtpengine; it got ${JSON.stringify(this.received)} (rtpengine log: ${rtpengine.daemon.logFile})`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Asks until `check` says true; the failure names what was awaited and the last answer. */
async function eventually(check: () => Promise<unknown>, what: string): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await check();
    if (last === true) return;
  }
  assert.fail(`waited ${BOUND_MS} ms for ${what}; last seen: ${JSON.stringify(last)}`);
}

/** Both send `count` packets; resolves once each got the other's last one. */
async function talk(x: Party, y: Party, count: number): Promise<void> {
  const fromX = x.send(count);
  const fromY = y.send(count);
  await Promise.all([
    y.awaitPacket(fromX[fromX.length - 1] ?? 0, `${x.name}'s audio`),
    x.awaitPacket(fromY[fromY.length - 1] ?? 0, `${y.name}'s audio`),
  ]);
}

test('the launcher: rtpengine answers ng ping on its claimed port, with its media ports in the block', async () => {
  assert.equal(await ngPing(rtpengine.ng.port, 1000), true, 'ng ping → pong');
  const { ngPort, portMin, portMax } = rtpengine.ports;
  assert.equal(ngPort, rtpengine.ng.port);
  assert.ok(portMin > ngPort && portMin % 2 === 0 && portMax > portMin, `media ${portMin}-${portMax}`);
  const other = await claimRtpenginePorts();
  try {
    assert.ok(
      other.portMax < ngPort || other.ngPort > portMax,
      `a second claim (${other.ngPort}, ${other.portMin}-${other.portMax}) stays out of the first block (${ngPort}-${portMax})`,
    );
  } finally {
    other.release();
  }
});

test('a call: SDP rewritten to rtpengine ports, audio relayed both ways and counted per direction, deleted with its counts', async () => {
  const [a, b] = [await Party.open('caller'), await Party.open('callee')];
  const call = control.allocate(`lab-call-${Date.now()}`);
  try {
    const offer = await call.offer('A', a.sdp());
    const answer = await call.answer('B', b.sdp());
    b.sendTo = relayPortIn(offer) ?? 0;
    a.sendTo = relayPortIn(answer) ?? 0;
    const { portMin, portMax } = rtpengine.ports;
    for (const [name, port] of [
      ['offer', b.sendTo],
      ['answer', a.sendTo],
    ] as const)
      assert.ok(port >= portMin && port <= portMax, `the ${name} points at an rtpengine port (${port})`);
    assert.match(offer, /^c=IN IP4 127\.0\.0\.1\r?$/m);

    const talkedAt = Date.now();
    await talk(a, b, 10);
    const stats = await call.refresh();
    assert.equal(stats?.aToB.packets, 10, 'query: packets from the caller');
    assert.equal(stats?.bToA.packets, 10, 'query: packets from the callee');
    assert.equal(stats?.aToB.bytes, 10 * 172);
    // The inactivity timeout's clock: rtpengine's whole-second "last packet", read as the end of
    // that second, is never earlier than the media really was, and at most a second later.
    const lastMedia = call.lastMediaAt() ?? 0;
    assert.ok(
      lastMedia >= talkedAt && lastMedia <= Date.now() + 1000,
      `last media ${lastMedia} lies between the talk (${talkedAt}) and a second after now (${Date.now()})`,
    );
    assert.deepEqual(a.heardFrom(), [`${HOST}:${a.sendTo}`], 'the caller hears the port it sends to');

    const final = await call.close();
    assert.equal(final?.aToB.packets, 10, 'delete: final packets from the caller');
    assert.equal(final?.bToA.packets, 10, 'delete: final packets from the callee');
    const list = await client.command({ command: 'list' });
    assert.ok(!JSON.stringify(list).includes(call.callRef), 'the call is gone from rtpengine');
  } finally {
    a.close();
    b.close();
  }
});

test('hold through the API: block media stops both directions, unblock restarts them', async () => {
  const [a, b] = [await Party.open('caller'), await Party.open('callee')];
  const call = control.allocate(`lab-hold-${Date.now()}`);
  try {
    b.sendTo = relayPortIn(await call.offer('A', a.sdp())) ?? 0;
    a.sendTo = relayPortIn(await call.answer('B', b.sdp())) ?? 0;
    await talk(a, b, 3);
    await call.setBlocked(true);
    const heldA = a.send(5);
    const heldB = b.send(5);
    // rtpengine counts what reaches it on hold: once it has all of it, nothing is still on its way.
    await eventually(async () => {
      const stats = await call.refresh();
      return stats?.aToB.packets === 8 && stats.bToA.packets === 8 ? true : stats;
    }, 'rtpengine to have counted the 5 packets each party sent on hold (3 + 5 each way)');
    await call.setBlocked(false);
    await talk(a, b, 3);
    for (const [party, held] of [
      [b, heldA],
      [a, heldB],
    ] as const)
      assert.deepEqual(
        party.received.filter((sequence) => held.includes(sequence)),
        [],
        `${party.name} got none of what was sent on hold`,
      );
    await call.close();
  } finally {
    a.close();
    b.close();
  }
});

test('a transfer: the new party on the same tag gets the same relay port; the kept party is not re-INVITEd and hears one port', async () => {
  const [a, b, c] = [await Party.open('caller'), await Party.open('callee'), await Party.open('target')];
  const call = control.allocate(`lab-transfer-${Date.now()}`);
  try {
    const offer = await call.offer('A', a.sdp());
    b.sendTo = relayPortIn(offer) ?? 0;
    a.sendTo = relayPortIn(await call.answer('B', b.sdp())) ?? 0;
    await talk(a, b, 3);
    // What the sip-edge does on a blind transfer: the kept side's SDP offered again, the target answers.
    const again = await call.offer('A', call.lastSdp('A') ?? '');
    assert.equal(relayPortIn(again), b.sendTo, 'the target is offered the port facing the released party');
    const back = await call.replacePeer('B', c.sdp());
    assert.equal(relayPortIn(back), a.sendTo, 'the kept party keeps its relay port (port latching)');
    c.sendTo = relayPortIn(again) ?? 0;
    await talk(a, c, 5);
    assert.deepEqual(a.heardFrom(), [`${HOST}:${a.sendTo}`], 'the caller heard one relay port throughout');
    const final = await call.close();
    assert.equal(final?.aToB.packets, 8, 'the caller side counted across the transfer');
    assert.equal(final?.bToA.packets, 8, 'the callee side counted across the transfer (3 + 5)');
  } finally {
    for (const party of [a, b, c]) party.close();
  }
});

test('a call-back: the placeholder SDP still gives the outside party a port, and both parties are joined', async () => {
  const [outside, agent] = [await Party.open('outside party'), await Party.open('agent')];
  const call = control.allocate(`lab-callback-${Date.now()}`);
  try {
    // The sip-edge's originate: the agent's side unknown yet, the outside party called first.
    const offer = await call.offer('B', placeholderAudioSdp(HOST));
    outside.sendTo = relayPortIn(offer) ?? 0;
    assert.notEqual(outside.sendTo, 0, 'a real port for the outside party (port 0 would reject the stream)');
    const forAgent = await call.answer('A', outside.sdp());
    agent.sendTo = relayPortIn(forAgent) ?? 0;
    await call.answer('B', agent.sdp());
    await talk(outside, agent, 5);
    const final = await call.close();
    assert.equal(final?.aToB.packets, 5);
    assert.equal(final?.bToA.packets, 5);
  } finally {
    outside.close();
    agent.close();
  }
});

test('rtpengine answers a delete of an unknown call with "ok" and a warning, not an error', async () => {
  const reply = await client.command({ command: 'delete', 'call-id': `lab-unknown-${Date.now()}` });
  assert.equal(String(reply.result), 'ok');
  assert.match(String(reply.warning), /Call-ID not found/);
});

test('the launcher stops rtpengine and frees its block', async () => {
  const logFile = join(mkdtempSync(join(tmpdir(), 'lab-rtpengine-')), 'rtpengine.log');
  const second = await startLabRtpengine(logFile);
  const pid = second.daemon.pid;
  await second.stop();
  assert.equal(existsSync(`/proc/${pid}`), false, `rtpengine pid ${pid} is gone`);
  assert.match(readFileSync(logFile, 'utf8'), /Startup complete/, 'its log went to the file given');
  assert.equal(await ngPing(second.ng.port, 300), false, 'nothing answers ng there any more');
});
