import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGsm,
  encodeGsm,
  encodeText,
  isGsmEncodable,
  splitUdh,
  concatenationUdh,
  decodeUcs2,
} from '../../platform/smsc/sms-text';
import { formatReceiptText, parseReceiptText } from '../../platform/smsc/receipts';
import { gsm7Decode, gsm7Encode, segmentText } from '../../world/smpp/sms-codec';

const SAMPLES = [
  'Hello world',
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  '\f^{}\\[~]|€',
  'a'.repeat(459),
  '€'.repeat(200),
  'مرحبا 👋🏽 '.repeat(30),
];

test("the platform's codec agrees byte for byte with the suite's independent one", () => {
  for (const text of SAMPLES) {
    const platform = encodeText(text);
    const suite = segmentText(text);
    assert.equal(platform.encoding, suite.encoding, text);
    assert.deepEqual(
      platform.segments.map((b) => b.toString('hex')),
      suite.parts.map((b) => b.toString('hex')),
      text,
    );
    if (platform.encoding === 'gsm7') {
      assert.equal(decodeGsm(Buffer.concat(platform.segments)), text);
      assert.equal(gsm7Decode(encodeGsm(text)), text);
      assert.deepEqual(encodeGsm(text), gsm7Encode(text));
    } else {
      assert.equal(decodeUcs2(Buffer.concat(platform.segments)), text);
    }
  }
});

test('the whole default alphabet (except ESC) is encodable, and only it', () => {
  assert.equal(isGsmEncodable(SAMPLES[1] + SAMPLES[2]), true);
  assert.equal(isGsmEncodable('ï'), false);
  assert.equal(encodeGsm(SAMPLES[1]).length, SAMPLES[1].length);
  assert.ok(encodeGsm(SAMPLES[1]).every((b) => b < 0x80 && b !== 0x1b));
});

test('parts: > 10 parts is the caller’s check; counts match the limits', () => {
  assert.equal(encodeText('a'.repeat(1530)).segments.length, 10);
  assert.equal(encodeText('a'.repeat(1531)).segments.length, 11);
  assert.equal(encodeText('ж'.repeat(670)).segments.length, 10);
});

test('UDH: 8- and 16-bit concatenation elements, malformed headers throw', () => {
  const udh8 = Buffer.concat([concatenationUdh(7, 2, 1), Buffer.from('x')]);
  assert.deepEqual(splitUdh(udh8).concatenation, { reference: 7, total: 2, sequence: 1 });
  const udh16 = Buffer.from([6, 8, 4, 0x12, 0x34, 3, 2, 0x41]);
  assert.deepEqual(splitUdh(udh16), {
    concatenation: { reference: 0x1234, total: 3, sequence: 2 },
    payload: Buffer.from('A'),
  });
  assert.throws(() => splitUdh(Buffer.from([9, 0, 3])), /exceeds/);
});

test('receipt text: formatted in the SMPP appendix B shape and parsed back', () => {
  const text = formatReceiptText({
    id: 'msg_1',
    stat: 'UNDELIV',
    err: '1',
    submittedAt: '2025-01-02T03:04:05.000Z',
    doneAt: '2025-01-02T03:05:00.000Z',
    text: 'Hi, there! ☺',
  });
  assert.equal(
    text,
    'id:msg_1 sub:001 dlvrd:000 submit date:2501020304 done date:2501020305 stat:UNDELIV err:001 text:Hi  there   ',
  );
  assert.deepEqual(parseReceiptText(text), { id: 'msg_1', stat: 'UNDELIV', err: '001' });
  assert.deepEqual(parseReceiptText('garbage'), { id: null, stat: null, err: null });
});
