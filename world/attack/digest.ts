/**
 * HTTP digest (RFC 2617, MD5) as SIP attack tools compute it: svcrack answers a challenge with
 * one guess after another. The suite's own code, so an edge that accepts a wrong answer is caught.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  realm: string;
  nonce: string;
  opaque?: string;
  qop?: string;
}

/** The fields of a WWW-Authenticate / Proxy-Authenticate value (`Digest realm="…", nonce="…"`). */
export function parseChallenge(value: string): Challenge {
  const fields = new Map<string, string>();
  for (const match of value.replace(/^\s*Digest\s+/i, '').matchAll(/([a-zA-Z]+)=("([^"]*)"|[^,\s]+)/g))
    fields.set(match[1].toLowerCase(), match[3] ?? match[2]);
  const realm = fields.get('realm');
  const nonce = fields.get('nonce');
  if (realm === undefined || nonce === undefined)
    throw new Error(`not a digest challenge (no realm or nonce): ${JSON.stringify(value)}`);
  return { realm, nonce, opaque: fields.get('opaque'), qop: fields.get('qop') };
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** An Authorization / Proxy-Authorization value answering `challenge` with `password`. */
export function answerChallenge(
  challenge: Challenge,
  o: { username: string; password: string; method: string; uri: string },
): string {
  const ha1 = md5(`${o.username}:${challenge.realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const withQop = challenge.qop?.split(',').some((q) => q.trim() === 'auth') ?? false;
  const cnonce = randomBytes(8).toString('hex');
  const response = withQop
    ? md5(`${ha1}:${challenge.nonce}:00000001:${cnonce}:auth:${ha2}`)
    : md5(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username="${o.username}"`,
    `realm="${challenge.realm}"`,
    `nonce="${challenge.nonce}"`,
    `uri="${o.uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
  ];
  if (challenge.opaque !== undefined) parts.push(`opaque="${challenge.opaque}"`);
  if (withQop) parts.push('qop=auth', 'nc=00000001', `cnonce="${cnonce}"`);
  return `Digest ${parts.join(', ')}`;
}
