import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLATFORM_LOG, bound, eventually } from '../../tasks/waiting';

const waiter = { env: { config: { waitMs: 120 } as never, platformLog: 'reports/platform-0.log' } };

test('a bound comes from the configuration and names the evidence to open', () => {
  assert.deepEqual(bound(waiter, 'the text on Anna’s phone', { lookAt: ['SMPP PDUs', PLATFORM_LOG] }), {
    awaited: 'the text on Anna’s phone',
    timeoutMs: 120,
    lookAt: 'the "SMPP PDUs" attachment and reports/platform-0.log',
  });
  assert.equal(bound(waiter, 'x', { lookAt: ['SIP messages'], extraMs: 1000 }).timeoutMs, 1120);
  assert.equal(
    bound(waiter, 'x', { lookAt: ['HTTP exchanges', 'Webhook deliveries'], within: 2000 }).lookAt,
    'the "HTTP exchanges" and "Webhook deliveries" attachments',
  );
});

test('a wait that never sees its answer names what it awaited, the last answer and where to look', async () => {
  let asked = 0;
  await assert.rejects(
    eventually(
      waiter,
      'the campaign to finish',
      async () => ({ status: 'running', asked: ++asked }),
      (c) => c.status === 'done',
      {
        lookAt: ['HTTP exchanges'],
        intervalMs: 10,
      },
    ),
    (error: Error) => {
      assert.match(
        error.message,
        /^Waited 120 ms for the campaign to finish; the last answer was \{"status":"running","asked":\d+\}\./,
      );
      assert.match(error.message, /Look at: the "HTTP exchanges" attachment\.$/);
      return true;
    },
  );
  assert.ok(asked > 1, 'asked again after the first answer');
});

test('a wait returns the first accepted answer', async () => {
  let n = 0;
  const answer = await eventually(
    waiter,
    'three',
    async () => ++n,
    (v) => v === 3,
    { lookAt: [], intervalMs: 1 },
  );
  assert.equal(answer, 3);
});
