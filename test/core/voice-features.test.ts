import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCallMe, missedCallText, parseSubscriberCommand } from '../../platform/core/voice-features';

test('subscriber commands: FORWARD with a number, FORWARD OFF, anything else', () => {
  assert.deepEqual(parseSubscriberCommand('FORWARD +441632960001'), {
    kind: 'forward',
    target: '+441632960001',
  });
  assert.deepEqual(parseSubscriberCommand('  forward  +44 1632 960-001 '), {
    kind: 'forward',
    target: '+441632960001',
  });
  assert.deepEqual(parseSubscriberCommand('Forward off'), { kind: 'forward-off' });
  assert.deepEqual(parseSubscriberCommand('FORWARD 12ab'), { kind: 'invalid-forward', argument: '12ab' });
  assert.deepEqual(parseSubscriberCommand('FORWARD'), { kind: 'invalid-forward', argument: '' });
  assert.deepEqual(parseSubscriberCommand('hello'), { kind: 'unknown' });
});

test('a missed-call text names the caller (or says it was withheld) and the UTC time of the call', () => {
  assert.equal(
    missedCallText('+14155550100', '2026-12-02T16:42:10.000Z'),
    'Missed call from +14155550100 at 16:42 UTC on 2026-12-02.',
  );
  assert.match(missedCallText('anonymous', '2026-12-02T16:42:10.000Z'), /withheld number at 16:42 UTC/);
});

test('CALL ME in any case and spacing asks for a call back; nothing else does', () => {
  for (const text of ['CALL ME', 'call me', ' Call   Me ']) assert.equal(isCallMe(text), true, text);
  for (const text of ['CALL', 'call me now', 'CALLME']) assert.equal(isCallMe(text), false, text);
});
