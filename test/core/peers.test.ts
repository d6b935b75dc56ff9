import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerAllowlist, webhookUrlRefusal } from '../../platform/core/peers';
import { embeddedDefaults } from '../../platform/config';

const defaults = new PeerAllowlist(
  embeddedDefaults({ storeFile: 'unused.db', adminApiKey: 'unused' }).network.allowedPeerHosts,
);

test('the embedded defaults allow loopback only: 127.0.0.0/8, localhost and ::1', () => {
  for (const host of [
    '127.0.0.1',
    '127.255.0.9',
    'localhost',
    'LocalHost.',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
  ])
    assert.ok(defaults.allows(host), host);
  for (const host of [
    '10.0.0.1',
    '128.0.0.1',
    '0.0.0.0',
    '::',
    'carrier.example',
    'localhost.example',
    '127.1',
    '',
  ])
    assert.ok(!defaults.allows(host), host);
});

test('a lab widens the list with names, addresses and CIDR blocks; loopback stays allowed', () => {
  const lab = new PeerAllowlist(['pbx.lab.example', '192.0.2.10', '10.20.0.0/16', 'fd00::/8']);
  for (const host of ['PBX.lab.example', '192.0.2.10', '10.20.255.1', 'fd12::5', '127.0.0.1'])
    assert.ok(lab.allows(host), host);
  for (const host of ['lab.example', '192.0.2.11', '10.21.0.1', 'fe80::1', 'localhost'])
    assert.ok(!lab.allows(host), host);
  assert.match(
    lab.rule(),
    /network\.allowedPeerHosts \(pbx\.lab\.example, 192\.0\.2\.10, 10\.20\.0\.0\/16, fd00::\/8\)/,
  );
});

test('a malformed entry is a start-up error, not a silently narrower list', () => {
  assert.throws(() => new PeerAllowlist(['10.0.0.0/33']), /10\.0\.0\.0\/33 is not a valid CIDR block/);
  assert.throws(() => new PeerAllowlist(['pbx/8']), /not a valid CIDR block/);
  assert.throws(() => new PeerAllowlist([' ']), /empty entry/);
});

test('webhook urls: http(s) only, judged by the host the HTTP client would connect to', () => {
  assert.equal(webhookUrlRefusal('http://127.0.0.1:8080/hook', defaults), undefined);
  assert.equal(webhookUrlRefusal('https://localhost/hook', defaults), undefined);
  assert.equal(webhookUrlRefusal('http://[::1]:9/hook', defaults), undefined);
  assert.equal(webhookUrlRefusal('http://2130706433/hook', defaults), undefined); // = 127.0.0.1
  assert.match(webhookUrlRefusal('http://evil.example/hook', defaults) ?? '', /^host evil\.example must be/);
  assert.match(webhookUrlRefusal('http://127.0.0.1@evil.example/', defaults) ?? '', /host evil\.example/);
  assert.match(webhookUrlRefusal('gopher://127.0.0.1/', defaults) ?? '', /\(got gopher\)/);
  assert.match(webhookUrlRefusal('/relative', defaults) ?? '', /absolute http or https URL/);
});
