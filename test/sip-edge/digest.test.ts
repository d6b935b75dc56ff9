import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeDigestResponse,
  formatChallenge,
  formatCredentials,
  NonceIssuer,
  parseCredentials,
  parseDigestParams,
} from '../../platform/sip-edge/digest';

test('RFC 2617 §3.5 example: qop=auth response', () => {
  const response = computeDigestResponse({
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    password: 'Circle Of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
  });
  assert.equal(response, '6629fae49393a05397450978507c4ef1');
});

test('RFC 2069 form (no qop): MD5(HA1:nonce:HA2)', () => {
  // HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life") = 939e7578ed9e3c518a452acee763bce9
  // HA2 = MD5("GET:/dir/index.html") = 39aff3a2bab6126f332b942af96d3366
  const response = computeDigestResponse({
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    password: 'Circle Of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
  });
  assert.equal(response, '670fd8c2df070c60b045671b8b24ff02');
});

test('parses the RFC 2617 Authorization example, quoted commas and escapes included', () => {
  const header =
    'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ' +
    'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';
  const c = parseCredentials(header);
  assert.ok(c);
  assert.equal(c.username, 'Mufasa');
  assert.equal(c.qop, 'auth');
  assert.equal(c.nc, '00000001');
  assert.equal(c.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
  assert.deepEqual(parseDigestParams('Digest realm="a, \\"b\\"", nonce=x'), { realm: 'a, "b"', nonce: 'x' });
  assert.equal(parseDigestParams('Basic dXNlcg=='), undefined);
  assert.equal(parseDigestParams('Digest realm="unterminated'), undefined);
  assert.equal(
    parseCredentials('Digest realm="r", nonce="n"'),
    undefined,
    'username/uri/response are mandatory',
  );
});

test('challenge and credentials round-trip through the parser', () => {
  const challenge = parseDigestParams(
    formatChallenge({ realm: 'example.com', nonce: 'abc', opaque: 'op', stale: true }),
  );
  assert.deepEqual(challenge, {
    realm: 'example.com',
    nonce: 'abc',
    opaque: 'op',
    stale: 'true',
    algorithm: 'MD5',
    qop: 'auth',
  });
  const header = formatCredentials({
    username: 'u',
    realm: 'r',
    nonce: 'n',
    uri: 'sip:r',
    response: 'f'.repeat(32),
    opaque: 'op',
    qop: 'auth',
    nc: '00000001',
    cnonce: 'c',
  });
  assert.deepEqual(parseCredentials(header), {
    username: 'u',
    realm: 'r',
    nonce: 'n',
    uri: 'sip:r',
    response: 'f'.repeat(32),
    algorithm: 'MD5',
    opaque: 'op',
    qop: 'auth',
    nc: '00000001',
    cnonce: 'c',
  });
});

test('nonces: valid while young, stale when old, invalid when forged or foreign', () => {
  let now = 1_000_000;
  const issuer = new NonceIssuer(5_000, () => now);
  const nonce = issuer.issue();
  assert.equal(issuer.check(nonce), 'valid');
  now += 5_001;
  assert.equal(issuer.check(nonce), 'stale');
  assert.equal(issuer.check('not-a-nonce'), 'invalid');
  assert.equal(
    new NonceIssuer(5_000, () => now).check(issuer.issue()),
    'invalid',
    'another edge instance has another secret',
  );
  const tampered = Buffer.from(nonce, 'base64url');
  tampered[0] = (tampered[0] ?? 0) ^ 1;
  assert.equal(issuer.check(tampered.toString('base64url')), 'invalid');
});
