import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerDirection, buildAudioSdp, mayEmit, parseAudioSdp, SdpParseError } from '../../world/sip/sdp';

test('a built SDP parses back to the same stream', () => {
  const text = buildAudioSdp({
    address: '127.0.0.1',
    port: 40000,
    direction: 'sendonly',
    sessionId: '42',
    sessionVersion: 3,
  });
  assert.match(text, /^v=0\r\n/);
  assert.match(text, /\r\nm=audio 40000 RTP\/AVP 0 101\r\n/);
  assert.match(text, /\r\na=fmtp:101 0-16\r\n/);
  const sdp = parseAudioSdp(text);
  assert.equal(sdp.connectionAddress, '127.0.0.1');
  assert.equal(sdp.port, 40000);
  assert.deepEqual(sdp.payloadTypes, [0, 101]);
  assert.equal(sdp.direction, 'sendonly');
  assert.equal(sdp.telephoneEventPayloadType, 101);
  assert.deepEqual(sdp.rtpmap.get(0), { encoding: 'PCMU', clockRate: 8000 });
  assert.equal(sdp.fmtp.get(101), '0-16');
  assert.deepEqual(sdp.origin, { username: '-', sessionId: '42', sessionVersion: 3, address: '127.0.0.1' });
});

test('media-level c= and direction win; another media stream is ignored; default is sendrecv', () => {
  const sdp = parseAudioSdp(
    [
      'v=0',
      'o=x 1 1 IN IP4 10.0.0.1',
      's=call',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'a=recvonly',
      'm=video 5000 RTP/AVP 96',
      'a=inactive',
      'm=audio 6000 RTP/AVP 8 0 96',
      'c=IN IP4 10.0.0.2',
      'a=rtpmap:96 telephone-event/8000',
      'a=sendrecv',
    ].join('\n'),
  );
  assert.equal(sdp.connectionAddress, '10.0.0.2');
  assert.equal(sdp.direction, 'sendrecv');
  assert.equal(sdp.telephoneEventPayloadType, 96);
  const plain = parseAudioSdp(
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n',
  );
  assert.equal(plain.direction, 'sendrecv');
  assert.equal(plain.telephoneEventPayloadType, null);
});

test('broken SDP is refused with what is missing', () => {
  assert.throws(() => parseAudioSdp('hello'), SdpParseError);
  assert.throws(() => parseAudioSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n'), /no audio stream/);
  assert.throws(
    () => parseAudioSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n'),
    /no connection address/,
  );
  assert.throws(
    () => parseAudioSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n'),
    /out of range/,
  );
});

test('answer directions follow RFC 3264 and decide who sends', () => {
  assert.equal(answerDirection('sendonly'), 'recvonly');
  assert.equal(answerDirection('recvonly'), 'sendonly');
  assert.equal(answerDirection('inactive'), 'inactive');
  assert.equal(answerDirection('sendrecv', 'sendonly'), 'sendonly');
  assert.equal(mayEmit('sendrecv', 'sendonly'), false);
  assert.equal(mayEmit('sendonly', 'recvonly'), true);
});
