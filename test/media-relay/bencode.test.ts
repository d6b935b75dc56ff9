import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BencodeError, decode, encode, asDict, asText, asList } from '../../platform/media-relay/bencode';

test('bencode: encodes the four kinds, dictionary keys sorted as bytes', () => {
  assert.equal(encode('spam').toString(), '4:spam');
  assert.equal(encode('').toString(), '0:');
  assert.equal(encode(Buffer.from([0xff, 0x00])).toString('latin1'), '2:\xff\x00');
  assert.equal(encode(42).toString(), 'i42e');
  assert.equal(encode(-3).toString(), 'i-3e');
  assert.equal(encode(0).toString(), 'i0e');
  assert.equal(encode(['a', 1]).toString(), 'l1:ai1ee');
  assert.equal(
    encode({ 'to-tag': 'b', command: 'offer', 'call-id': 'x' }).toString(),
    'd7:call-id1:x7:command5:offer6:to-tag1:be',
  );
  assert.equal(encode('é').toString('latin1'), '2:\xc3\xa9', 'the length counts UTF-8 bytes, not characters');
});

test('bencode: nested round trip keeps every value', () => {
  const value = {
    command: 'query',
    tags: { A: { medias: [{ streams: [{ 'local port': 30000, stats: { packets: 12, bytes: 2064 } }] }] } },
    flags: ['trust-address', 'port latching'],
    sdp: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n',
  };
  const back = decode(encode(value));
  const dict = asDict(back);
  assert.ok(dict);
  assert.equal(asText(dict.command), 'query');
  assert.equal(asText(dict.sdp), value.sdp);
  assert.deepEqual(
    asList(dict.flags)?.map((f) => asText(f)),
    value.flags,
  );
  const stream = asDict(asList(asDict(asList(asDict(asDict(dict.tags)?.A)?.medias)?.[0])?.streams)?.[0]);
  assert.equal(stream?.['local port'], 30000);
  assert.deepEqual({ ...asDict(stream?.stats) }, { packets: 12, bytes: 2064 });
  assert.ok(Buffer.isBuffer(decode(Buffer.from('3:abc'))), 'strings decode as bytes');
});

function decodeError(input: string): BencodeError {
  try {
    decode(Buffer.from(input, 'latin1'));
  } catch (error) {
    assert.ok(error instanceof BencodeError, `a BencodeError for ${JSON.stringify(input)}`);
    return error;
  }
  assert.fail(`${JSON.stringify(input)} decoded, but is malformed`);
}

test('bencode: malformed input fails naming the offset and what was expected', () => {
  assert.match(decodeError('').message, /expected a value .* at offset 0, found end of input/);
  assert.equal(decodeError('i12').offset, 1);
  assert.match(decodeError('i12').message, /integer ended by "e"/);
  assert.match(decodeError('i012e').message, /leading zeros/);
  assert.match(decodeError('i-0e').message, /leading zeros or "-0"/);
  assert.match(decodeError('ie').message, /integer/);
  const short = decodeError('10:abc');
  assert.equal(short.offset, 3);
  assert.match(short.message, /10 bytes of string \(only 3 left\)/);
  assert.match(decodeError('l1:a').message, /a list item or "e" at offset 4/);
  assert.match(decodeError('di1e1:ae').message, /dictionary key/);
  assert.match(
    decodeError('d1:a1:x1:a1:ye').message,
    /a key other than "a" \(keys must be unique\) at offset 7/,
  );
  assert.match(decodeError('d1:a').message, /a value for key "a"/);
  assert.match(decodeError('4:spamX').message, /expected end of input at offset 6, found "X"/);
  assert.match(decodeError('x').message, /found "x"/);
  assert.match(decodeError('l'.repeat(100) + 'e'.repeat(100)).message, /levels of nesting/);
});

test('bencode: keys in any order decode, as rtpengine writes them (insertion order, "sdp" before "result")', () => {
  const reply = asDict(decode(Buffer.from('d3:sdp3:v=06:result2:oke', 'latin1')));
  assert.equal(asText(reply?.result), 'ok');
  assert.equal(asText(reply?.sdp), 'v=0');
  assert.equal(
    encode({ sdp: 'v=0', result: 'ok' }).toString(),
    'd6:result2:ok3:sdp3:v=0e',
    'we still write them sorted',
  );
});

test('bencode: integers beyond 2^53 are refused clearly, both ways', () => {
  assert.match(decodeError('i9007199254740993e').message, /within ±2\^53 \(larger ones are refused\)/);
  assert.equal(decode(Buffer.from('i9007199254740991e')), Number.MAX_SAFE_INTEGER);
  assert.throws(() => encode(2 ** 60), /not an integer within ±2\^53/);
  assert.throws(() => encode(1.5), /not an integer/);
});
