import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optOutKeyword } from '../../platform/core/opt-outs';

test('stop and start words are recognised however they are typed, and only as the whole text', () => {
  for (const text of ['STOP', 'stop', ' Stop. ', 'Unsubscribe', 'STOPALL', 'quit!', 'End', 'cancel'])
    assert.equal(optOutKeyword(text), 'stop', text);
  for (const text of ['START', 'start', 'Unstop']) assert.equal(optOutKeyword(text), 'start', text);
  for (const text of ['please stop', 'STOP IT', 'stopped', 'CALL ME', '', 'FORWARD OFF'])
    assert.equal(optOutKeyword(text), undefined, text);
});
