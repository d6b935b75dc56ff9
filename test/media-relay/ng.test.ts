import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram, { type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlatformBus } from '../../platform/bus';
import { embeddedDefaults } from '../../platform/config';
import { startMediaRelay, readAudioTarget, type PersistedSession } from '../../platform/media-relay';
import type { NgDict } from '../../platform/media-relay/ng-protocol';
import { asDict, asList, asText, decode, encode } from '../../platform/media-relay/bencode';
import { openStore, type Db } from '../../platform/store/store';
import { NgClient } from '../../platform/sip-edge/ng-client';
import { RelayControl } from '../../platform/sip-edge/relay-call';

function relayDeps(db: Db, ngPort = 0) {
  const config = embeddedDefaults({ storeFile: ':memory:', adminApiKey: 'unused' });
  config.media = { ...config.media, ngPort, statsFlushMs: 20 };
  const logs: string[] = [];
  return { deps: { config, db, bus: new PlatformBus(), log: (_r: string, m: string) => logs.push(m) }, logs };
}

async function udpPeer(): Promise<Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

function sdpFor(port: number): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

function rtp(seq: number): Buffer {
  const packet = Buffer.alloc(172, 0xff);
  packet[0] = 0x80;
  packet[1] = 0;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(seq * 160, 4);
  packet.writeUInt32BE(0x4321, 8);
  return packet;
}

/** Resolves when `count` datagrams arrived, or rejects naming what was awaited. */
function receive(socket: Socket, count: number, awaited: string): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(
        new Error(
          `timed out waiting for ${awaited}: ${got.length} of ${count} datagrams on port ${socket.address().port}`,
        ),
      );
    }, 2000);
    const onMessage = (data: Buffer): void => {
      got.push(data);
      if (got.length < count) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(got);
    };
    socket.on('message', onMessage);
  });
}

/** One raw ng exchange: the reply's body for `cookie`. */
async function rawCommand(socket: Socket, port: number, cookie: string, body: NgDict) {
  const reply = once(socket, 'message') as Promise<[Buffer]>;
  socket.send(Buffer.concat([Buffer.from(`${cookie} `), encode(body)]), port, '127.0.0.1');
  const [datagram] = await reply;
  const space = datagram.indexOf(0x20);
  assert.equal(datagram.subarray(0, space).toString(), cookie, 'the reply carries the command’s cookie');
  return asDict(decode(datagram.subarray(space + 1))) ?? {};
}

test('ng over UDP: ping, offer/answer rewrite SDP, query counts per party, block media holds, delete ends', async () => {
  const db = openStore(':memory:');
  const { deps } = relayDeps(db);
  const relay = await startMediaRelay(deps);
  const client = await NgClient.open(relay.endpoints.ng, () => undefined);
  const caller = await udpPeer();
  const callee = await udpPeer();
  try {
    assert.equal(asText((await client.command({ command: 'ping' })).result), 'pong');
    const control = new RelayControl(client, () => undefined);
    const call = control.allocate('call-ng-1');
    const toCallee = await call.offer('A', sdpFor(caller.address().port));
    const toCaller = await call.answer('B', sdpFor(callee.address().port));
    const portB = readAudioTarget(toCallee)?.port ?? 0;
    const portA = readAudioTarget(toCaller)?.port ?? 0;
    assert.ok(portA > 0 && portB > 0 && portA !== portB, `two relay ports (${portA}, ${portB})`);
    assert.equal(readAudioTarget(toCallee)?.address, '127.0.0.1');
    const persisted = db
      .prepare('SELECT count(*) AS n FROM relay_sessions WHERE call_id = ?')
      .get('call-ng-1');
    assert.deepEqual({ ...(persisted as object) }, { n: 1 }, 'the session is persisted as soon as it exists');

    const atCallee = receive(callee, 3, 'caller audio at the callee');
    for (let seq = 1; seq <= 3; seq += 1) caller.send(rtp(seq), portA, '127.0.0.1');
    await atCallee;
    const atCaller = receive(caller, 2, 'callee audio at the caller');
    for (let seq = 1; seq <= 2; seq += 1) callee.send(rtp(seq), portB, '127.0.0.1');
    await atCaller;

    // rtpengine's query shape, read raw: per tag, the stream's "local port", latched "endpoint", "stats".
    const raw = await client.command({ command: 'query', 'call-id': 'call-ng-1' });
    const tags = asDict(raw.tags) ?? {};
    assert.equal(Object.keys(tags).length, 2, 'one entry per party tag');
    const streamOf = (tag: string) =>
      asDict(asList(asDict(asList(asDict(tags[tag])?.medias)?.[0])?.streams)?.[0]) ?? {};
    const tagA = Object.keys(tags).find((tag) => streamOf(tag)['local port'] === portA) ?? '';
    const tagB = Object.keys(tags).find((tag) => tag !== tagA) ?? '';
    assert.equal(streamOf(tagA)['local port'], portA);
    assert.deepEqual({ ...asDict(streamOf(tagA).stats) }, { packets: 3, bytes: 3 * 172, errors: 0 });
    assert.equal(asText(asDict(streamOf(tagA).endpoint)?.address), '127.0.0.1');
    assert.equal(asDict(streamOf(tagA).endpoint)?.port, caller.address().port, 'latched on the caller');
    assert.equal(asDict(streamOf(tagB).stats)?.packets, 2);
    assert.deepEqual({ ...asDict(asDict(raw.totals)?.RTP) }, { packets: 5, bytes: 5 * 172, errors: 0 });
    const stats = await call.refresh();
    assert.equal(stats?.aToB.packets, 3, 'the edge reads A→B from its caller tag');
    assert.equal(stats?.bToA.packets, 2);

    // Hold: nothing passes, packets are counted as blocked; resume: media flows again.
    await call.setBlocked(true);
    await new Promise<void>((resolve) => caller.send(rtp(4), portA, '127.0.0.1', () => resolve()));
    await call.setBlocked(false);
    const afterResume = receive(callee, 1, 'caller audio after the resume');
    caller.send(rtp(5), portA, '127.0.0.1');
    const [resumed] = await afterResume;
    assert.equal(resumed?.readUInt16BE(2), 5, 'the packet sent on hold was not relayed');
    const final = await call.close();
    assert.equal(final?.aToB.packets, 5, 'as rtpengine counts: every packet that arrived, the held one too');
    assert.equal(final?.aToB.blocked, 1, 'of which one was held');
    assert.equal(relay.sessions().length, 0);
    assert.equal(
      (db.prepare('SELECT count(*) AS n FROM relay_sessions').get() as { n: number }).n,
      0,
      'delete forgets the session',
    );
    await assert.rejects(
      client.command({ command: 'query', 'call-id': 'call-ng-1' }),
      new RegExp(
        `ng "query" for call call-ng-1 to relay 127\\.0\\.0\\.1:${relay.endpoints.ng.port}: error: Unknown call-id`,
      ),
    );
  } finally {
    caller.close();
    callee.close();
    await client.close();
    await relay.stop();
    db.close();
  }
});

test('ng: a retransmitted command is answered again from the cache, not executed twice; errors are ng errors', async () => {
  const db = openStore(':memory:');
  const relay = await startMediaRelay(relayDeps(db).deps);
  const socket = await udpPeer();
  try {
    const port = relay.endpoints.ng.port;
    const offer = { command: 'offer', 'call-id': 'c-2', 'from-tag': 'ta', sdp: sdpFor(40000) };
    const first = await rawCommand(socket, port, 'k1', offer);
    const again = await rawCommand(socket, port, 'k1', offer);
    assert.equal(asText(again.sdp), asText(first.sdp));
    assert.equal(relay.sessions().length, 1, 'one session, not two');
    const deleted = await rawCommand(socket, port, 'k2', { command: 'delete', 'call-id': 'c-2' });
    assert.equal(asText(deleted.result), 'ok');
    const deletedAgain = await rawCommand(socket, port, 'k2', { command: 'delete', 'call-id': 'c-2' });
    assert.equal(
      asText(deletedAgain.result),
      'ok',
      'the retransmitted delete gets the first reply, not "Unknown call-id"',
    );
    assert.equal(deleted.tags, undefined, "a delete of the whole call-id carries no counters (rtpengine's)");
    // As rtpengine: deleting what is not there is "ok" with a warning; an error only when "fatal".
    const fresh = await rawCommand(socket, port, 'k3', { command: 'delete', 'call-id': 'c-2' });
    assert.deepEqual(
      [asText(fresh.result), asText(fresh.warning)],
      ['ok', "Call-ID not found or tags didn't match"],
    );
    const fatal = await rawCommand(socket, port, 'k3f', {
      command: 'delete',
      'call-id': 'c-2',
      flags: ['fatal'],
    });
    assert.deepEqual(
      [asText(fatal.result), asText(fatal['error-reason'])],
      ['error', "Call-ID not found or tags didn't match"],
    );
    const unknown = await rawCommand(socket, port, 'k4', { command: 'teleport' });
    assert.equal(asText(unknown['error-reason']), 'Unrecognized command "teleport"');
    const incomplete = await rawCommand(socket, port, 'k5', { command: 'answer', 'call-id': 'c-3' });
    assert.equal(asText(incomplete['error-reason']), 'answer: missing "from-tag", "to-tag", "sdp"');
  } finally {
    socket.close();
    await relay.stop();
    db.close();
  }
});

test('ng client: retransmits until the relay answers, and a silent relay fails naming address and command', async () => {
  const fake = await udpPeer();
  let seen = 0;
  fake.on('message', (datagram, source) => {
    seen += 1;
    if (seen < 3) return; // the first two are "lost"
    const space = datagram.indexOf(0x20);
    fake.send(
      Buffer.concat([datagram.subarray(0, space + 1), encode({ result: 'pong' })]),
      source.port,
      source.address,
    );
  });
  const client = await NgClient.open({ host: '127.0.0.1', port: fake.address().port }, () => undefined, {
    retransmitMs: 20,
    maxRetransmitMs: 40,
    timeoutMs: 1000,
  });
  const silent = await udpPeer();
  const quiet = await NgClient.open({ host: '127.0.0.1', port: silent.address().port }, () => undefined, {
    retransmitMs: 20,
    maxRetransmitMs: 40,
    timeoutMs: 200,
  });
  try {
    assert.equal(asText((await client.command({ command: 'ping' })).result), 'pong');
    assert.equal(seen, 3, 'answered on the third transmission');
    await assert.rejects(
      quiet.command({ command: 'delete', 'call-id': 'x-1' }),
      new RegExp(
        `ng "delete" for call x-1 to relay 127\\.0\\.0\\.1:${silent.address().port}: no reply within 200 ms \\(\\d+ attempts\\)`,
      ),
    );
  } finally {
    await client.close();
    await quiet.close();
    fake.close();
    silent.close();
  }
});

/** Resolves once the store holds these per-side packet counts for the session; rejects naming what it held. */
async function persistedCounts(db: Db, callId: string, expected: { A: number; B: number }, boundMs: number) {
  const read = () => {
    const row = db.prepare('SELECT state FROM relay_sessions WHERE call_id = ?').get(callId) as
      { state: string } | undefined;
    const state = row ? (JSON.parse(row.state) as PersistedSession) : undefined;
    return { A: state?.counters.A.packets, B: state?.counters.B.packets };
  };
  const deadline = Date.now() + boundMs;
  let seen = read();
  while (seen.A !== expected.A || seen.B !== expected.B) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${boundMs} ms waiting for the store to count ${JSON.stringify(expected)} packets per side of ${callId}: it holds ${JSON.stringify(seen)} (config.media.statsFlushMs)`,
      );
    await new Promise((resolve) => setImmediate(resolve));
    seen = read();
  }
}

test('restore: a relay started on the same store and address relays the call on, without new signalling, counting both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-restore-'));
  const file = join(dir, 'platform.db');
  const dbOne = openStore(file);
  const first = relayDeps(dbOne);
  const relayOne = await startMediaRelay(first.deps);
  const ngPort = relayOne.endpoints.ng.port;
  let oneStopped = false;
  const stopOne = async () => {
    if (oneStopped) return;
    oneStopped = true;
    await relayOne.stop();
  };
  const client = await NgClient.open(relayOne.endpoints.ng, () => undefined);
  const caller = await udpPeer();
  const callee = await udpPeer();
  let relayTwo: Awaited<ReturnType<typeof startMediaRelay>> | undefined;
  const dbTwo = openStore(file);
  try {
    const call = new RelayControl(client, () => undefined).allocate('call-restore');
    const portB = readAudioTarget(await call.offer('A', sdpFor(caller.address().port)))?.port ?? 0;
    const portA = readAudioTarget(await call.answer('B', sdpFor(callee.address().port)))?.port ?? 0;
    const before = receive(callee, 4, 'caller audio through the first relay');
    for (let seq = 1; seq <= 4; seq += 1) caller.send(rtp(seq), portA, '127.0.0.1');
    await before;
    const back = receive(caller, 1, 'callee audio through the first relay');
    callee.send(rtp(1), portB, '127.0.0.1');
    await back;
    // A crash gives no chance to save: the counts must already be in the store within statsFlushMs.
    await persistedCounts(dbOne, 'call-restore', { A: 4, B: 1 }, 1000);
    await stopOne(); // a clean stop keeps the rows, as a crash would

    // The successor: another store connection (another process in the cluster), the same ng port.
    const second = relayDeps(dbTwo, ngPort);
    relayTwo = await startMediaRelay(second.deps);
    assert.ok(
      second.logs.some((line) => line.includes('1 session(s) restored')),
      second.logs.join('\n'),
    );
    const after = receive(callee, 3, 'caller audio through the second relay (no new command)');
    for (let seq = 5; seq <= 7; seq += 1) caller.send(rtp(seq), portA, '127.0.0.1');
    const relayed = await after;
    assert.deepEqual(
      relayed.map((p) => p.readUInt16BE(2)),
      [5, 6, 7],
    );
    // The callee's latched address came back too: its audio reaches the caller without an SDP.
    const backAgain = receive(caller, 1, 'callee audio through the second relay');
    callee.send(rtp(2), portB, '127.0.0.1');
    await backAgain;
    const final = await call.close();
    assert.equal(final?.aToB.packets, 7, 'A→B counts 4 from the first relay and 3 from the second');
    assert.equal(final?.bToA.packets, 2, 'B→A counts 1 + 1');
    assert.equal(final?.sideA.relayPort, portA, 'the same port facing the caller');
  } finally {
    caller.close();
    callee.close();
    await client.close();
    await stopOne();
    await relayTwo?.stop();
    dbOne.close();
    dbTwo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second sip-edge adopts a call’s relay handle from its state and reads the same session', async () => {
  const db = openStore(':memory:');
  const relay = await startMediaRelay(relayDeps(db).deps);
  const clientOne = await NgClient.open(relay.endpoints.ng, () => undefined);
  const clientTwo = await NgClient.open(relay.endpoints.ng, () => undefined);
  const caller = await udpPeer();
  try {
    const call = new RelayControl(clientOne, () => undefined).allocate('call-adopt');
    await call.offer('A', sdpFor(caller.address().port));
    const portA = readAudioTarget(await call.answer('B', sdpFor(9)))?.port ?? 0;
    await new Promise<void>((resolve) => caller.send(rtp(1), portA, '127.0.0.1', () => resolve()));
    await call.setBlocked(true);
    const adopted = new RelayControl(clientTwo, () => undefined).restore(call.state());
    assert.equal(adopted.blocked, true, 'the hold comes along');
    assert.equal(adopted.lastSdp('A'), sdpFor(caller.address().port));
    const stats = await adopted.close();
    assert.equal(stats?.sideA.relayPort, portA, 'side A is still the caller’s');
    assert.equal(stats?.sideA.peer, `127.0.0.1:${caller.address().port}`);
    assert.equal(relay.sessions().length, 0, 'the adopted handle deleted the session');
  } finally {
    caller.close();
    await clientOne.close();
    await clientTwo.close();
    await relay.stop();
    db.close();
  }
});
