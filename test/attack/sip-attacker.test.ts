import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackIPv4, randomLoopbackAddress, SipAttacker } from '../../world/attack/sip-attacker';

test('the attacker refuses a target that is not on loopback, naming it', async () => {
  await assert.rejects(
    SipAttacker.open('attacker', { host: '192.0.2.10', port: 5060, domain: 'example.test' }),
    /only to a platform on loopback.*not to 192\.0\.2\.10/,
  );
  await assert.rejects(
    SipAttacker.open('attacker', { host: 'sip.example.test', port: 5060, domain: 'example.test' }),
    /not to sip\.example\.test/,
  );
});

test('loopback means 127.0.0.0/8 written as four octets', () => {
  for (const host of ['127.0.0.1', '127.255.3.9']) assert.equal(isLoopbackIPv4(host), true, host);
  for (const host of ['128.0.0.1', '127.0.0', '127.0.0.256', 'localhost', '::1', '127.0.0.1.5'])
    assert.equal(isLoopbackIPv4(host), false, host);
});

test("an attacker's own address is loopback and outside the phones' 127.0.0.0/16", () => {
  for (let i = 0; i < 200; i += 1) {
    const address = randomLoopbackAddress();
    assert.equal(isLoopbackIPv4(address), true, address);
    assert.notEqual(address.split('.')[1], '0', address);
  }
});
