/**
 * HTTP Digest (RFC 2617 / RFC 7616, MD5 only) as SIP uses it (RFC 3261 §22): response
 * computation, Authorization header parsing, and stateless nonces that expire.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

export interface DigestInput {
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** Present together with nc and cnonce when the client chose qop=auth. */
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** The request-digest of RFC 2617 §3.2.2.1 (MD5, with qop=auth or the RFC 2069 form without qop). */
export function computeDigestResponse(input: DigestInput): string {
  const ha1 = md5Hex(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5Hex(`${input.method}:${input.uri}`);
  if (input.qop === undefined || input.qop === '') return md5Hex(`${ha1}:${input.nonce}:${ha2}`);
  if (input.qop !== 'auth') throw new Error(`unsupported qop "${input.qop}" (only "auth" is implemented)`);
  if (input.nc === undefined || input.cnonce === undefined) throw new Error('qop=auth needs nc and cnonce');
  return md5Hex(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`);
}

/**
 * Parses the parameters of a `Digest ...` credentials or challenge value into a map with
 * lower-case keys. Quoted strings may contain commas and backslash escapes. Returns undefined
 * when the scheme is not Digest or the syntax is broken.
 */
export function parseDigestParams(headerValue: string): Record<string, string> | undefined {
  const match = /^\s*Digest\s+/i.exec(headerValue);
  if (!match) return undefined;
  const text = headerValue.slice(match[0].length);
  const params: Record<string, string> = {};
  let i = 0;
  const skipSpaces = (): void => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i += 1;
  };
  while (i < text.length) {
    skipSpaces();
    const nameMatch = /^[A-Za-z0-9_-]+/.exec(text.slice(i));
    if (!nameMatch) return undefined;
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    skipSpaces();
    if (text[i] !== '=') return undefined;
    i += 1;
    skipSpaces();
    let value = '';
    if (text[i] === '"') {
      i += 1;
      let closed = false;
      while (i < text.length) {
        const ch = text[i] ?? '';
        if (ch === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (ch === '"') {
          i += 1;
          closed = true;
          break;
        } else {
          value += ch;
          i += 1;
        }
      }
      if (!closed) return undefined;
    } else {
      const tokenMatch = /^[^\s,]+/.exec(text.slice(i));
      if (!tokenMatch) return undefined;
      value = tokenMatch[0];
      i += value.length;
    }
    params[name] = value;
    skipSpaces();
    if (i < text.length) {
      if (text[i] !== ',') return undefined;
      i += 1;
    }
  }
  return params;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  opaque?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** Parses an Authorization / Proxy-Authorization value; undefined when a mandatory field is missing. */
export function parseCredentials(headerValue: string): DigestCredentials | undefined {
  const p = parseDigestParams(headerValue);
  if (!p) return undefined;
  const { username, realm, nonce, uri, response } = p;
  if (
    username === undefined ||
    realm === undefined ||
    nonce === undefined ||
    uri === undefined ||
    response === undefined
  )
    return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response,
    algorithm: p.algorithm,
    opaque: p.opaque,
    qop: p.qop,
    nc: p.nc,
    cnonce: p.cnonce,
  };
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The WWW-Authenticate / Proxy-Authenticate value of a challenge. */
export function formatChallenge(challenge: {
  realm: string;
  nonce: string;
  opaque: string;
  stale?: boolean;
}): string {
  const parts = [
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `opaque=${quote(challenge.opaque)}`,
  ];
  if (challenge.stale) parts.push('stale=true');
  parts.push('algorithm=MD5', 'qop="auth"');
  return `Digest ${parts.join(', ')}`;
}

/** The Authorization value a client sends (used by tests and by anything that authenticates). */
export function formatCredentials(c: DigestCredentials): string {
  const parts = [
    `username=${quote(c.username)}`,
    `realm=${quote(c.realm)}`,
    `nonce=${quote(c.nonce)}`,
    `uri=${quote(c.uri)}`,
    `response=${quote(c.response)}`,
    `algorithm=${c.algorithm ?? 'MD5'}`,
  ];
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  if (c.qop !== undefined) parts.push(`qop=${c.qop}`, `nc=${c.nc ?? ''}`, `cnonce=${quote(c.cnonce ?? '')}`);
  return `Digest ${parts.join(', ')}`;
}

export type NonceCheck = 'valid' | 'stale' | 'invalid';

/**
 * Stateless nonces: issue time plus an HMAC over it, so any nonce this edge issued can be
 * verified and aged without a table (and a forged or foreign nonce is recognised as invalid).
 */
export class NonceIssuer {
  private readonly secret: Buffer;

  /**
   * `secret`: shared by every node of an edge so one node accepts another's nonces (Kamailio's
   * auth `secret` parameter, which a cluster must set alike); a random one otherwise.
   */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    secret?: string,
  ) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /** A value that is the same on every node sharing the secret (the challenge's opaque). */
  constant(label: string): string {
    return createHmac('sha256', this.secret).update(label).digest('base64url').slice(0, 16);
  }

  issue(): string {
    const issued = Buffer.alloc(8);
    issued.writeBigUInt64BE(BigInt(this.now()));
    return Buffer.concat([issued, this.mac(issued)]).toString('base64url');
  }

  check(nonce: string): NonceCheck {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 24 || raw.toString('base64url') !== nonce) return 'invalid';
    const issued = raw.subarray(0, 8);
    if (!timingSafeEqual(raw.subarray(8), this.mac(issued))) return 'invalid';
    const age = this.now() - Number(issued.readBigUInt64BE());
    return age >= 0 && age <= this.ttlMs ? 'valid' : 'stale';
  }

  private mac(issued: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(issued).digest().subarray(0, 16);
  }
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a.toLowerCase());
  const right = Buffer.from(b.toLowerCase());
  return left.length === right.length && timingSafeEqual(left, right);
}
