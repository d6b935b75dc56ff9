import nock from 'nock';
import type { Phase2World } from '../world/world';

/**
 * Third-party HTTP providers the platform calls, stubbed with nock where the platform runs in
 * this process (embedded target; non-negotiable 7). Against a remote deployment the real
 * provider answers, and the scenario can only expect "some transcript".
 */
export function stubSpeechToText(
  world: Phase2World,
  answer: { transcript: string } | { failWith: number },
): void {
  const url = world.env.endpoints.stubbedProviders?.speechToTextUrl;
  const requests: Array<{ contentType: string; body: Buffer }> = [];
  world.voice.speechToText = {
    transcript: url && 'transcript' in answer ? answer.transcript : null,
    requests,
  };
  if (!url) return;
  const { origin, pathname } = new URL(url);
  nock(origin)
    .post(pathname)
    .reply(function (_uri, body) {
      requests.push({
        contentType: String(this.req.headers['content-type'] ?? ''),
        body: requestBytes(body),
      });
      return 'transcript' in answer
        ? [200, { text: answer.transcript }]
        : [answer.failWith, { error: 'provider unavailable' }];
    });
  // nock serves only the provider stubs: dropping them all leaves nothing for the next scenario.
  world.onCleanup(async () => {
    nock.cleanAll();
  });
}

/** nock hands over a binary body as hex (it is not UTF-8), a text body as it is. */
function requestBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body !== 'string') return Buffer.from(JSON.stringify(body));
  return /^([0-9a-f]{2})+$/i.test(body) && !body.startsWith('RIFF')
    ? Buffer.from(body, 'hex')
    : Buffer.from(body, 'latin1');
}

/** The parts of a WAV header a speech provider relies on. */
export interface WavInfo {
  riff: boolean;
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  dataBytes: number;
}

export function readWav(file: Buffer): WavInfo {
  const info: WavInfo = {
    riff:
      file.subarray(0, 4).toString('latin1') === 'RIFF' && file.subarray(8, 12).toString('latin1') === 'WAVE',
    format: 0,
    channels: 0,
    sampleRate: 0,
    bitsPerSample: 0,
    dataBytes: -1,
  };
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.subarray(offset, offset + 4).toString('latin1');
    const size = file.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 24 <= file.length) {
      info.format = file.readUInt16LE(offset + 8);
      info.channels = file.readUInt16LE(offset + 10);
      info.sampleRate = file.readUInt32LE(offset + 12);
      info.bitsPerSample = file.readUInt16LE(offset + 22);
    }
    if (id === 'data') info.dataBytes = Math.min(size, file.length - offset - 8);
    offset += 8 + size + (size % 2);
  }
  return info;
}
