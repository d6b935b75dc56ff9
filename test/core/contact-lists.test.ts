import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CsvSyntaxError,
  ContactListError,
  parseCsv,
  readContactList,
} from '../../platform/core/contact-lists';

test('CSV records: quoted commas, doubled quotes, line breaks inside quotes, CRLF, BOM and blank lines', () => {
  const csv =
    '\uFEFFnumber,name\r\n+447700900001,"Smith, Anna"\r\n\r\n+447700900002,"Ben ""B"" Jones"\n+447700900003,"two\nlines"\n';
  assert.deepEqual(parseCsv(csv), [
    { line: 1, fields: ['number', 'name'] },
    { line: 2, fields: ['+447700900001', 'Smith, Anna'] },
    { line: 4, fields: ['+447700900002', 'Ben "B" Jones'] },
    { line: 5, fields: ['+447700900003', 'two\nlines'] },
  ]);
  assert.deepEqual(parseCsv('a,b'), [{ line: 1, fields: ['a', 'b'] }], 'no final line break');
  assert.deepEqual(parseCsv('a,\n'), [{ line: 1, fields: ['a', ''] }], 'an empty last field is kept');
});

test('CSV errors name the line: an unclosed quote, a quote in the middle of a field', () => {
  assert.throws(
    () => parseCsv('number\n"+4477009\n'),
    (e: unknown) => e instanceof CsvSyntaxError && e.line === 2,
  );
  assert.throws(
    () => parseCsv('number\n+44"77"\n'),
    (e: unknown) => e instanceof CsvSyntaxError && e.line === 2,
  );
  assert.throws(() => parseCsv('number\n"+44"x\n'), /line 2: a closing quote must end its field/);
});

test('contact list: good rows become contacts, bad rows are reported by line and skipped', () => {
  const list = readContactList(
    [
      'number,name',
      '+447700900001,Anna',
      '+44 7700-900 002,Ben',
      '07700900003,Cleo',
      '+447700900001,Anna again',
      ',Nobody',
      '+447700900004',
      '+447700900005,Eve,extra',
      '(+44) 7700.900006,Fay',
    ].join('\n'),
  );
  assert.deepEqual(list.columns, ['number', 'name']);
  assert.deepEqual(
    list.contacts.map((c) => [c.line, c.number, c.values.name]),
    [
      [2, '+447700900001', 'Anna'],
      [3, '+447700900002', 'Ben'],
      [9, '+447700900006', 'Fay'],
    ],
  );
  assert.deepEqual(
    list.rejected.map((r) => [r.line, r.number]),
    [
      [4, '07700900003'],
      [5, '+447700900001'],
      [6, ''],
      [7, '+447700900004'],
      [8, '+447700900005'],
    ],
  );
  assert.match(list.rejected[0]?.reason ?? '', /not a mobile number in international format/);
  assert.match(list.rejected[1]?.reason ?? '', /already on the list \(line 2\)/);
  assert.match(list.rejected[2]?.reason ?? '', /has no number/);
  assert.match(list.rejected[3]?.reason ?? '', /has 1 fields; the header has 2/);
});

test('contact list: a file that cannot be read at all is refused with the reason', () => {
  assert.throws(() => readContactList(''), ContactListError);
  assert.throws(
    () => readContactList('phone,name\n+447700900001,A'),
    /no "number" column \(the columns are: phone, name\)/,
  );
  assert.throws(() => readContactList('number,first name\n+447700900001,A'), /column name "first name"/);
  assert.throws(() => readContactList('number,a,a\n+447700900001,1,2'), /"a" appears twice/);
  assert.throws(() => readContactList('number\n"+447700900001'), /not valid CSV: line 2/);
});
