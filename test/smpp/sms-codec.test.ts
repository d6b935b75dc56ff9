import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitsGsm7,
  gsm7Decode,
  gsm7Encode,
  readUdh,
  segmentText,
  ucs2Decode,
  ucs2Encode,
  udhConcat,
} from '../../world/smpp/sms-codec';
import { shortMessageOf, FrameSplitter } from '../../world/smpp/pdu-frames';
import smpp from 'smpp';

test('GSM 03.38: known septets, the extension table, and strict decoding', () => {
  assert.deepEqual([...gsm7Encode('@£$A a')], [0x00, 0x01, 0x02, 0x41, 0x20, 0x61]);
  assert.deepEqual([...gsm7Encode('€{}')], [0x1b, 0x65, 0x1b, 0x28, 0x1b, 0x29]);
  const mixed = 'Ünicode? no: Üñ ß é € ^ \\ | ~ [ ]';
  assert.equal(gsm7Decode(gsm7Encode(mixed)), mixed);
  assert.throws(() => gsm7Decode(Buffer.from([0x80])), /not a GSM septet/);
  assert.throws(() => gsm7Decode(Buffer.from([0x1b, 0x01])), /not an extension septet/);
  assert.equal(fitsGsm7('hello €'), true);
  assert.equal(fitsGsm7('hello ï'), false);
  assert.equal(fitsGsm7('`'), false);
});

test('UCS2 is UTF-16BE and keeps surrogate pairs', () => {
  assert.deepEqual([...ucs2Encode('A👋')], [0x00, 0x41, 0xd8, 0x3d, 0xdc, 0x4b]);
  assert.equal(ucs2Decode(ucs2Encode('مرحبا 👋🏽')), 'مرحبا 👋🏽');
  assert.throws(() => ucs2Decode(Buffer.from([0x00])), /odd length/);
});

test('segmentation limits: 160/153 septets, 70/67 UTF-16 units, no split escapes or surrogates', () => {
  assert.equal(segmentText('a'.repeat(160)).parts.length, 1);
  assert.equal(segmentText('a'.repeat(161)).parts.length, 2);
  assert.equal(segmentText('€'.repeat(80)).parts.length, 1); // 160 septets
  const euros = segmentText('a' + '€'.repeat(80)); // 161 septets
  assert.equal(euros.parts.length, 2);
  assert.ok(
    euros.parts.every((p) => p[p.length - 1] !== 0x1b),
    'an escape never ends a part',
  );
  assert.equal(segmentText('ж'.repeat(70)).parts.length, 1);
  assert.equal(segmentText('ж'.repeat(71)).parts.length, 2);
  const emoji = segmentText('ж'.repeat(66) + '👋' + 'ж'.repeat(3));
  assert.equal(emoji.parts[0].length, 132, 'the emoji moves whole to part 2');
  assert.equal(emoji.dataCoding, 8);
});

test('UDH concatenation round trip', () => {
  const message = Buffer.concat([udhConcat(0x1ab, 3, 2), Buffer.from('hi')]);
  assert.deepEqual(readUdh(message), { concat: { ref: 0xab, total: 3, seq: 2 }, text: Buffer.from('hi') });
});

test('frames: short_message and TLVs are read raw; bad lengths are reported', () => {
  const pdu = new smpp.PDU('submit_sm', {
    sequence_number: 7,
    destination_addr: '447700900001',
    data_coding: 0,
    short_message: Buffer.from([0x00, 0x1b, 0x65]),
    receipted_message_id: 'abc',
  });
  const bytes = pdu.toBuffer();
  const splitter = new FrameSplitter();
  const frames = [...splitter.push(bytes.subarray(0, 10)), ...splitter.push(bytes.subarray(10))];
  assert.equal(frames.length, 1);
  assert.ok(frames[0].ok);
  const { shortMessage, tlvs } = shortMessageOf(frames[0].bytes);
  assert.deepEqual([...shortMessage], [0x00, 0x1b, 0x65]);
  assert.equal(tlvs.get(0x001e)?.toString(), 'abc\0');
  const bad = Buffer.alloc(16);
  bad.writeUInt32BE(99_999, 0);
  assert.deepEqual(new FrameSplitter().push(bad), [{ ok: false, commandLength: 99_999, sequence: 0 }]);
});
