import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IWorldOptions } from '@cucumber/cucumber';
import { Phase2World } from '../../world/world';

// A report shows only an error's message: a failed cleanup must name every inner failure there.
test('a failed cleanup lists every inner failure in its message', async () => {
  const noop = (): void => undefined;
  const world = new Phase2World({
    attach: noop,
    log: noop,
    link: noop,
    parameters: {},
  } as unknown as IWorldOptions);
  world.onCleanup(async () => {
    throw new Error('the phone would not unregister');
  });
  world.onCleanup(async () => undefined);
  world.onCleanup(async () => {
    throw new Error('the SMPP session would not unbind');
  });
  await assert.rejects(world.cleanup(), (error: Error) => {
    assert.ok(error instanceof AggregateError);
    assert.match(error.message, /scenario cleanup failed \(2\)/);
    assert.match(error.message, /the phone would not unregister/);
    assert.match(error.message, /the SMPP session would not unbind/);
    return true;
  });
});
