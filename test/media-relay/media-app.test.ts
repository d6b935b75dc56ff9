import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { MediaApp, mulawWav, plainAudioSdp } from '../../platform/media-relay/media-app';
import { encodeDtmfEvent, encodeRtp, estimateToneHz, pcmuToneFrame } from '../../world/sip/rtp';

async function peer() {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

test('plays a prompt as 20 ms PCMU frames of its pitch, then stops', async () => {
  const app = await MediaApp.open('127.0.0.1', () => undefined);
  const listener = await peer();
  const frames: Buffer[] = [];
  listener.on('message', (packet) => frames.push(packet));
  try {
    app.setRemote('127.0.0.1', listener.address().port);
    const started = Date.now();
    await app.play(650, 200);
    // Ten frames are nine 20 ms gaps (the first goes at once): 180 ms, less a few ms of clock and
    // timer rounding. A player that sent them back to back would take ~0 ms.
    const took = Date.now() - started;
    assert.ok(took >= 9 * 20 - 10, `ten frames paced 20 ms apart, sent in ${took} ms`);
    // Datagrams already sent may still be in the socket buffer: wait for the tenth.
    while (frames.length < 10) await once(listener, 'message');
    assert.equal(frames.length, 10);
    for (const packet of frames) {
      assert.equal(packet[1] & 0x7f, 0, 'payload type PCMU');
      assert.equal(packet.length, 12 + 160);
      const hz = estimateToneHz(packet.subarray(12));
      assert.ok(hz !== null && Math.abs(hz - 650) <= 30, `pitch ${hz}`);
    }
  } finally {
    listener.close();
    await app.close();
  }
});

test('records PCMU while recording, and hears each key once although its end packet comes three times', async () => {
  const app = await MediaApp.open('127.0.0.1', () => undefined);
  const sender = await peer();
  const digits: string[] = [];
  app.onDigit((digit) => digits.push(digit));
  const send = async (packet: Buffer): Promise<void> => {
    await new Promise<void>((resolve) => sender.send(packet, app.port, '127.0.0.1', () => resolve()));
  };
  try {
    const audio = (seq: number) =>
      encodeRtp({
        marker: false,
        payloadType: 0,
        sequenceNumber: seq,
        timestamp: seq * 160,
        ssrc: 7,
        payload: pcmuToneFrame(400),
      });
    /** One key press: a start packet and the end packet three times; resolves once the app heard it. */
    const press = async (event: number, timestamp: number): Promise<void> => {
      const heard = digits.length + 1;
      const end = encodeDtmfEvent({ event, end: true, volume: 10, duration: 800 });
      const start = encodeDtmfEvent({ event, end: false, volume: 10, duration: 160 });
      await send(
        encodeRtp({ marker: true, payloadType: 101, sequenceNumber: 10, timestamp, ssrc: 7, payload: start }),
      );
      for (let i = 0; i < 3; i += 1)
        await send(
          encodeRtp({
            marker: false,
            payloadType: 101,
            sequenceNumber: 11 + i,
            timestamp,
            ssrc: 7,
            payload: end,
          }),
        );
      const deadline = Date.now() + 2000;
      while (digits.length < heard && Date.now() < deadline)
        await new Promise((resolve) => setImmediate(resolve));
    };
    // Loopback keeps datagrams in order: once a key is heard, everything sent before it was handled.
    await send(audio(1)); // before recording: not kept
    await press(4, 1000);
    app.startRecording();
    await send(audio(2));
    await send(audio(3));
    await press(2, 2000);
    assert.deepEqual(digits, ['4', '2']);
    const recorded = app.stopRecording();
    assert.equal(recorded.length, 320, 'two frames of 160 bytes, the one before recording left out');
  } finally {
    sender.close();
    await app.close();
  }
});

test('a WAV around mu-law audio says G.711 mu-law, 8 kHz, mono, and its data length', () => {
  const wav = mulawWav(Buffer.alloc(800, 0xff));
  assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(wav.subarray(8, 12).toString('latin1'), 'WAVE');
  assert.equal(wav.readUInt16LE(20), 7);
  assert.equal(wav.readUInt16LE(22), 1);
  assert.equal(wav.readUInt32LE(24), 8000);
  assert.equal(wav.subarray(50, 54).toString('latin1'), 'data');
  assert.equal(wav.readUInt32LE(54), 800);
  assert.equal(wav.readUInt32LE(4), wav.length - 8);
});

test('the platform offers plain PCMU with telephone-event at its address', () => {
  const sdp = plainAudioSdp('127.0.0.1', 40000);
  assert.match(sdp, /^c=IN IP4 127\.0\.0\.1$/m);
  assert.match(sdp, /^m=audio 40000 RTP\/AVP 0 101$/m);
  assert.match(sdp, /^a=rtpmap:101 telephone-event\/8000$/m);
});
