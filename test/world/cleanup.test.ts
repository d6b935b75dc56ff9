import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cleanups } from '../../world/cleanups';

// A report shows only an error's message: a failed cleanup must name every inner failure there.
test('a failed cleanup lists every inner failure in its message, after running every piece', async () => {
  const cleanups = new Cleanups();
  const ran: string[] = [];
  cleanups.add(async () => {
    ran.push('phone');
    throw new Error('the phone would not unregister');
  });
  cleanups.add(async () => {
    ran.push('webhook');
  });
  cleanups.add(async () => {
    ran.push('smpp');
    throw new Error('the SMPP session would not unbind');
  });
  await assert.rejects(cleanups.run(), (error: Error) => {
    assert.ok(error instanceof AggregateError);
    assert.match(error.message, /scenario cleanup failed \(2\)/);
    assert.match(error.message, /the SMPP session would not unbind/);
    assert.match(error.message, /the phone would not unregister/);
    return true;
  });
  assert.deepEqual(ran, ['smpp', 'webhook', 'phone']);
});
