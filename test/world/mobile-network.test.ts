import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CarrierSmscDouble } from '../../world/smpp/carrier-smsc';
import { MobileNetwork } from '../../world/mobile-network';

// The mobile network actor is the suite's only way to the carrier double: a handset it hands
// out lives in the worker's range, behaves as asked, and is forgotten when the scenario ends.
test('a new handset is in the range, behaves as asked and is forgotten at cleanup', async () => {
  const double = new CarrierSmscDouble();
  const cleanups: Array<() => Promise<void>> = [];
  const network = new MobileNetwork(double, '+4477009', (fn) => cleanups.push(fn));
  const number = network.newHandset('undeliverable');
  assert.match(number, /^\+4477009\d+$/);
  assert.equal(network.behaviourOf(number), 'undeliverable');
  assert.equal(cleanups.length, 1);
  await cleanups[0]();
  assert.equal(network.behaviourOf(number), 'deliver', 'forgotten: back to the default behaviour');
});
