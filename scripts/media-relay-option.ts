/**
 * `npm run platform -- --media-relay rtpengine=HOST:PORT`: the platform drives a real rtpengine
 * (its ng listener at HOST:PORT, UDP) instead of starting a relay of its own.
 */
import { isIP } from 'node:net';

/** The ng address the option names; throws a message that says what is wrong and what is expected. */
export function parseMediaRelayOption(value: string | undefined): { host: string; port: number } {
  const expected = 'expected --media-relay rtpengine=HOST:PORT, e.g. rtpengine=127.0.0.1:2223';
  if (value === undefined || value.startsWith('--'))
    throw new Error(`--media-relay needs a value: ${expected}`);
  const match = /^rtpengine=(.+):(\d+)$/.exec(value);
  if (!match?.[1] || !match[2]) throw new Error(`--media-relay "${value}": ${expected}`);
  const host = match[1];
  const port = Number(match[2]);
  if (isIP(host) !== 4)
    throw new Error(
      `--media-relay "${value}": "${host}" is not an IPv4 address (rtpengine's ng listener): ${expected}`,
    );
  if (port < 1 || port > 65535) throw new Error(`--media-relay "${value}": port ${port} is not 1-65535`);
  return { host, port };
}
