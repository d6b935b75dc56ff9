/**
 * Input patterns and hints that several resources share (hosts, identifiers, number prefixes),
 * so that a trunk, a connector and a SIP account refuse the same bad value with the same words.
 */

import type { InputReader } from '../input';
import type { PeerAllowlist } from './peers';

export const E164_HINT = 'must be an E.164 number: + and 8 to 15 digits, such as +14155550100';
export const HOST = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+)$/;
export const IDENTIFIER = /^[A-Za-z0-9._-]{1,64}$/;
export const PREFIX = /^\+?\d{1,15}$/;
export const PREFIX_HINT = 'must be a number prefix: an optional + and 1 to 15 digits';

/** A host and port the platform will send traffic to (a trunk, a carrier connector): only allowed peers. */
export function readPeerAddress(input: InputReader, peers: PeerAllowlist): { host: string; port: number } {
  const host = input.string('host', {
    maxLength: 253,
    pattern: HOST,
    patternHint: 'must be a host name or an IP address',
  });
  if (host && !peers.allows(host)) input.fail('host', `${host} ${peers.rule()}`);
  const port = input.integer('port', 1, 65535);
  return { host, port };
}
