import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attempts, judgeCall } from '../../reporting/attempts';

test('the attempt ledger: settled at once, settled at scenario end, never completed, drained once', () => {
  attempts.drain(); // whatever another test of this process left
  attempts.settle('request', 'req-1', 'GET /v1/trunks', 'succeeded');
  attempts.begin({ channel: 'text', key: 'msg-1', name: 'text to +1', text: { to: '+1', text: 'hi' } });
  attempts.begin({ channel: 'text', key: 'msg-1', name: 'the same text seen again' });
  attempts.begin({ channel: 'text', key: 'msg-2', name: 'text to +2' });
  attempts.begin({ channel: 'call', key: 'call-1', name: 'call', judge: () => undefined });
  attempts.begin({ channel: 'call', key: 'call-2', name: 'call', judge: () => ({ outcome: 'succeeded' }) });

  attempts.settleOpen('text', (attempt) =>
    attempt.text?.text === 'hi'
      ? { outcome: 'failed', why: '2 copies on the handset' }
      : { outcome: 'succeeded' },
  );
  attempts.settleOpen('call', (attempt) => attempt.judge?.());
  assert.deepEqual(
    attempts.drain().map((a) => [a.channel, a.key, a.outcome, a.why]),
    [
      ['request', 'req-1', 'succeeded', undefined],
      ['text', 'msg-1', 'failed', '2 copies on the handset'],
      ['text', 'msg-2', 'succeeded', undefined],
      ['call', 'call-2', 'succeeded', undefined],
    ],
    'a call its driver cannot judge (still ringing) is not counted',
  );
  attempts.begin({ channel: 'request', key: 'req-2', name: 'POST /v1/messages' });
  assert.deepEqual(
    attempts.drain().map((a) => [a.key, a.outcome, a.why]),
    [['req-2', 'failed', 'never completed']],
  );
  assert.deepEqual(attempts.drain(), []);

  // A line set up to refuse: its refusal is expected, and getting through would be the failure.
  attempts.expectRefusal('call', 'busy-1');
  attempts.expectRefusal('call', 'busy-2');
  attempts.settle('call', 'busy-1', 'call to a busy line', 'failed', 'answered 486');
  attempts.settle('call', 'busy-2', 'call to a busy line', 'succeeded');
  assert.deepEqual(
    attempts.drain().map((a) => [a.key, a.outcome, a.why]),
    [
      ['busy-1', 'refused-as-expected', 'answered 486'],
      ['busy-2', 'failed', 'went through where a refusal was expected'],
    ],
  );
});

test('a call as an attempt: audio heard, too short to judge, silent, 5xx, busy, given up, still ringing', () => {
  const base = { actor: 'Alice', received: 0, givenUp: false };
  assert.deepEqual(judgeCall({ ...base, answeredAt: 0, endedAt: 5000, received: 240 }), {
    outcome: 'succeeded',
  });
  assert.deepEqual(judgeCall({ ...base, answeredAt: 0, endedAt: 300 }), { outcome: 'succeeded' });
  assert.deepEqual(judgeCall({ ...base, answeredAt: 0, endedAt: 2000 }), {
    outcome: 'failed',
    why: 'answered for 2000 ms, but no audio reached Alice',
  });
  assert.deepEqual(judgeCall({ ...base, finalStatus: 503, finalReason: 'Service Unavailable' }), {
    outcome: 'failed',
    why: 'answered 503 Service Unavailable',
  });
  assert.deepEqual(judgeCall({ ...base, finalStatus: 486 }), {
    outcome: 'refused-as-expected',
    why: 'answered 486',
  });
  assert.deepEqual(judgeCall({ ...base, givenUp: true }), {
    outcome: 'refused-as-expected',
    why: 'given up by the caller',
  });
  assert.equal(judgeCall(base), undefined);
});
