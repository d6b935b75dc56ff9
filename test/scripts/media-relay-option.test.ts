import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMediaRelayOption } from '../../scripts/media-relay-option';

test('--media-relay rtpengine=HOST:PORT names the ng listener of a real rtpengine', () => {
  assert.deepEqual(parseMediaRelayOption('rtpengine=127.0.0.1:2223'), { host: '127.0.0.1', port: 2223 });
});

test('--media-relay refuses what is not rtpengine=IPv4:PORT, saying what it expected', () => {
  assert.throws(
    () => parseMediaRelayOption(undefined),
    /needs a value: expected --media-relay rtpengine=HOST:PORT/,
  );
  assert.throws(() => parseMediaRelayOption('--ephemeral'), /needs a value/);
  assert.throws(
    () => parseMediaRelayOption('127.0.0.1:2223'),
    /"127.0.0.1:2223": expected --media-relay rtpengine=/,
  );
  assert.throws(
    () => parseMediaRelayOption('rtpengine=localhost:2223'),
    /"localhost" is not an IPv4 address/,
  );
  assert.throws(() => parseMediaRelayOption('rtpengine=127.0.0.1:70000'), /port 70000 is not 1-65535/);
  assert.throws(() => parseMediaRelayOption('rtpengine=127.0.0.1:0'), /port 0 is not 1-65535/);
  assert.throws(() => parseMediaRelayOption('rtpengine=127.0.0.1'), /expected --media-relay/);
});
