/**
 * The sip-edge's media handle against replies shaped exactly as rtpengine 10.5.3.5 writes them
 * (keys in insertion order, "last packet" in whole seconds, no extensions of our relay), and the
 * commands it sends as Kamailio's rtpengine module would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { decode, asDict, asText, type BencodeValue } from '../../platform/media-relay/bencode';
import { NgClient } from '../../platform/sip-edge/ng-client';
import { RelayControl } from '../../platform/sip-edge/relay-call';
import { plainAudioSdp } from '../../platform/media-relay/media-app';

/** Bencode with keys in the order given, as rtpengine writes them (our encoder sorts). */
function rtpengineBencode(value: BencodeValue): string {
  if (typeof value === 'number') return `i${value}e`;
  if (typeof value === 'string') return `${Buffer.byteLength(value)}:${value}`;
  if (Buffer.isBuffer(value)) return `${value.length}:${value.toString('latin1')}`;
  if (Array.isArray(value)) return `l${value.map(rtpengineBencode).join('')}e`;
  return `d${Object.entries(value)
    .map(([key, item]) => rtpengineBencode(key) + rtpengineBencode(item))
    .join('')}e`;
}

/** A stream as rtpengine reports it: RTP first, then its RTCP companion. */
function streams(localPort: number, packets: number, lastPacket: number): BencodeValue[] {
  return [
    {
      'local port': localPort,
      'local address': '127.0.0.1',
      family: 'IPv4',
      endpoint: { family: 'IPv4', address: '127.0.0.1', port: 40000 + localPort - 30000 },
      'last packet': lastPacket,
      flags: ['RTP', 'filled'],
      SSRC: 1234,
      stats: { packets, bytes: packets * 172, errors: 0 },
    },
    {
      'local port': localPort + 1,
      'last packet': lastPacket - 5, // RTCP: stamped at signalling, never since
      flags: ['RTCP', 'filled'],
      stats: { packets: 0, bytes: 0, errors: 0 },
    },
  ];
}

test('the edge reads rtpengine 10.5 replies: per-tag counts, whole-second last packet, and deletes naming both tags', async () => {
  const seen: Array<{ [key: string]: BencodeValue }> = [];
  const fake = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => fake.bind(0, '127.0.0.1', resolve));
  const lastPacket = Math.floor(Date.now() / 1000) - 2;
  fake.on('message', (datagram, from) => {
    const space = datagram.indexOf(0x20);
    const command = asDict(decode(datagram.subarray(space + 1))) ?? {};
    seen.push(command);
    const tagA = asText(command['from-tag']) ?? '';
    const tagB = asText(command['to-tag']) ?? '';
    const name = asText(command.command);
    const stats = (a: string, b: string): BencodeValue => ({
      created: lastPacket - 10,
      'last signal': lastPacket - 10,
      SSRC: {},
      tags: {
        [b]: { tag: b, medias: [{ index: 1, type: 'audio', streams: streams(30000, 7, lastPacket - 1) }] },
        [a]: { tag: a, medias: [{ index: 1, type: 'audio', streams: streams(30010, 9, lastPacket) }] },
      },
      totals: { RTP: { packets: 16, bytes: 16 * 172, errors: 0 }, RTCP: { packets: 0, bytes: 0, errors: 0 } },
      result: 'ok',
    });
    const reply: BencodeValue =
      name === 'offer' || name === 'answer'
        ? { sdp: plainAudioSdp('127.0.0.1', 30000), result: 'ok' }
        : name === 'query'
          ? stats(queried.A, queried.B)
          : tagA
            ? stats(tagA, tagB)
            : { result: 'ok' };
    fake.send(
      `${datagram.subarray(0, space + 1).toString('latin1')}${rtpengineBencode(reply)}`,
      from.port,
      from.address,
    );
  });
  const client = await NgClient.open({ host: '127.0.0.1', port: fake.address().port }, () => undefined);
  const call = new RelayControl(client, () => undefined).allocate('call-rtpe-1');
  const queried = call.state().tags;
  try {
    await call.offer('A', plainAudioSdp('127.0.0.1', 40010));
    await call.answer('B', plainAudioSdp('127.0.0.1', 40000));
    await call.replacePeer('B', plainAudioSdp('127.0.0.1', 40100));
    const stats = await call.refresh();
    assert.equal(stats?.aToB.packets, 9, "A→B: what rtpengine counted under the caller's tag");
    assert.equal(stats?.bToA.packets, 7);
    assert.equal(stats?.sideA.relayPort, 30010);
    assert.equal(
      call.lastMediaAt(),
      (lastPacket + 1) * 1000,
      'the end of the latest whole second of an RTP stream (never earlier than the media really was)',
    );
    const final = await call.close();
    assert.equal(final?.aToB.packets, 9, 'the final counts come from the delete naming both tags');

    const sent = seen.map((command) => ({
      command: asText(command.command),
      from: asText(command['from-tag']),
      to: asText(command['to-tag']),
      flags: (command.flags as BencodeValue[] | undefined)?.map((flag) => asText(flag)),
    }));
    const { A, B } = queried;
    assert.deepEqual(sent, [
      { command: 'offer', from: A, to: B, flags: ['port latching'] },
      { command: 'answer', from: A, to: B, flags: ['port latching'] },
      // A new party on side B: the same tag, so rtpengine keeps counting it where the delete finds it.
      { command: 'answer', from: A, to: B, flags: ['port latching'] },
      { command: 'query', from: undefined, to: undefined, flags: undefined },
      { command: 'delete', from: A, to: B, flags: undefined },
    ]);
  } finally {
    await client.close();
    fake.close();
  }
});
