import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isSecretField,
  REDACTED,
  redactedSecrets,
  redactJson,
  redactQuery,
  redactText,
} from '../../world/http/redact';

test('secret field names match by case-insensitive suffix', () => {
  for (const name of [
    'password',
    'adminApiKey',
    'webhookSecret',
    'smppPassword',
    'accessToken',
    'clientSecret',
    'api_key',
    'X-Api-Key',
    'SIGNATURE',
    'proxyAuthorization',
  ])
    assert.ok(isSecretField(name), `${name} is a secret`);
  for (const name of ['passwordChangedAt', 'tokens', 'apiKeyId', 'secretRotatedAt', 'name', 'keyword'])
    assert.ok(!isSecretField(name), `${name} is not a secret`);
});

test('redactJson replaces secrets at any depth and leaves the rest', () => {
  const redacted = redactJson({
    name: 'Acme',
    adminApiKey: 'k-1',
    smpp: { systemId: 'acme', smppPassword: 'pw', password: 'pw2' },
    hooks: [{ url: 'http://x', webhookSecret: 'whsec_1' }],
    oauth: { accessToken: 't', clientSecret: 's' },
  });
  assert.deepEqual(redacted, {
    name: 'Acme',
    adminApiKey: REDACTED,
    smpp: { systemId: 'acme', smppPassword: REDACTED, password: REDACTED },
    hooks: [{ url: 'http://x', webhookSecret: REDACTED }],
    oauth: { accessToken: REDACTED, clientSecret: REDACTED },
  });
});

test('redactText: JSON structurally, broken JSON by pattern, suffixes included', () => {
  const json = redactText('{"apiKey":"k-1","nested":{"clientSecret":"s-1"}}');
  assert.doesNotMatch(json, /k-1|s-1/);
  const broken = redactText('{"adminApiKey": "k-2", "smppPassword":"p-\\"2", "name": "acme", ');
  assert.doesNotMatch(broken, /k-2|p-/);
  assert.match(broken, /"adminApiKey": "\*\*\*"/);
  assert.match(broken, /"name": "acme"/);
});

test('secret-named query parameters are redacted in a request path, and remembered', () => {
  assert.equal(redactQuery('/v1/numbers'), '/v1/numbers');
  assert.equal(
    redactQuery('/v1/cdrs?limit=2&apikey=k3y-in-the-url&APIKEY=&to=%2B4477'),
    `/v1/cdrs?limit=2&apikey=${REDACTED}&APIKEY=${REDACTED}&to=%2B4477`,
  );
  assert.ok(redactedSecrets.has('k3y-in-the-url'));
});

test("a placeholder standing in for a secret (ours, the audit trail's) is redacted but not remembered as one", () => {
  const text = redactText('{"before":{"apiKey":"[redacted]"},"after":{"apiKey":"live-key-123456"}}');
  assert.doesNotMatch(text, /live-key-123456|\[redacted\]/);
  assert.ok(redactedSecrets.has('live-key-123456'));
  assert.ok(!redactedSecrets.has('[redacted]'));
});
