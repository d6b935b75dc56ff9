/**
 * The talk time a platform can have measured, bracketed by what the two ends of a call saw:
 * the check that replaced a ±150 ms tolerance against the caller's phone alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { talkTimeBracket } from '../../tasks/call-records';

test('caller hangs up: from the caller hearing the answer to its BYE, up to the callee answering to hearing the BYE', () => {
  const caller = { answeredAt: 1_010, endedAt: 2_000 };
  const callee = { answeredAt: 1_000, endedAt: 2_012 };
  assert.deepEqual(talkTimeBracket([caller, callee]), { atLeast: 990, atMost: 1_012 });
});

test('callee hangs up: the bracket is the same whichever end sent the BYE', () => {
  const caller = { answeredAt: 1_010, endedAt: 2_015 };
  const callee = { answeredAt: 1_000, endedAt: 2_000 };
  assert.deepEqual(talkTimeBracket([caller, callee]), { atLeast: 990, atMost: 1_015 });
});

test('a busy host delays the messages: the bracket widens instead of failing a correct platform', () => {
  // The 200 OK took 260 ms to reach the caller's phone: a correct record of 1 256 ms still fits.
  const caller = { answeredAt: 1_260, endedAt: 2_252 };
  const callee = { answeredAt: 1_000, endedAt: 2_256 };
  const { atLeast, atMost } = talkTimeBracket([caller, callee]);
  assert.ok(atLeast <= 1_252 && 1_252 <= atMost, `${atLeast}…${atMost}`);
});

test('an end that never answered or never ended gives no bracket at all (NaN fails every check)', () => {
  const { atLeast, atMost } = talkTimeBracket([{ answeredAt: 1_000 }, { answeredAt: 1_000, endedAt: 2_000 }]);
  assert.ok(Number.isNaN(atLeast) && Number.isNaN(atMost));
});
