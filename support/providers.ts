import nock from 'nock';
import type { Phase2World } from '../world/world';

/**
 * Third-party HTTP providers the platform calls, stubbed with nock where the platform runs in
 * this process (embedded target; non-negotiable 7): the target declares the seam in
 * `PlatformEndpoints.stubbedProviders`. A target without it cannot run a scenario that decides
 * what the provider answers: the step fails saying so (the preflight says it first), instead of
 * letting the real provider answer and the checks become weaker.
 */
export function stubSpeechToText(
  world: Phase2World,
  answer: { transcript: string } | { failWith: number },
): void {
  const url = world.env.endpoints.stubbedProviders?.speechToTextUrl;
  if (!url)
    throw new Error(
      'This target declares no speech-to-text test provider (PlatformEndpoints.stubbedProviders.speechToTextUrl): ' +
        '@stubbed-provider scenarios cannot tell the provider what to answer here. Run them on the embedded target.',
    );
  const requests: Array<{ contentType: string; body: Buffer }> = [];
  world.voice.speechToText = {
    transcript: 'transcript' in answer ? answer.transcript : null,
    requests,
  };
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

/** The audio samples of a WAV file (its data chunk), empty when it has none. */
export function wavData(file: Buffer): Buffer {
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.subarray(offset, offset + 4).toString('latin1');
    const size = file.readUInt32LE(offset + 4);
    if (id === 'data') return file.subarray(offset + 8, Math.min(file.length, offset + 8 + size));
    offset += 8 + size + (size % 2);
  }
  return Buffer.alloc(0);
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
