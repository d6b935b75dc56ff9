import { E164 } from '../phone-numbers';

/**
 * Contact lists uploaded as CSV (RFC 4180): a header line naming the columns, one contact per
 * line. The `number` column is the contact's mobile number; every other column is a value a
 * campaign's template may use ({{name}} takes the `name` column). A bad row never fails the
 * upload: it is skipped and reported with its line number, so the customer can fix it.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts (a quoted field may span lines). */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/**
 * RFC 4180 records: fields separated by commas, records by CRLF or LF; a field in double quotes
 * may hold commas, line breaks and doubled quotes. Blank lines are skipped; a leading UTF-8 BOM
 * (spreadsheets write one) is ignored.
 */
export function parseCsv(text: string): CsvRecord[] {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let quoteOpenedOn = 0;
  let fieldWasQuoted = false;

  const endRecord = (): void => {
    fields.push(field);
    const blank = fields.length === 1 && fields[0] === '' && !fieldWasQuoted;
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    fieldWasQuoted = false;
  };

  for (let i = 0; i < source.length; i += 1) {
    const char = source[i];
    if (quoted) {
      if (char === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i += 1;
        } else {
          quoted = false;
          const next = source[i + 1];
          if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r')
            throw new CsvSyntaxError(
              line,
              'a closing quote must end its field (write "" for a quote inside)',
            );
        }
      } else {
        if (char === '\n') line += 1;
        field += char;
      }
      continue;
    }
    switch (char) {
      case '"':
        if (field !== '')
          throw new CsvSyntaxError(line, 'a quote may only open a field (write the whole field in quotes)');
        quoted = true;
        fieldWasQuoted = true;
        quoteOpenedOn = line;
        break;
      case ',':
        fields.push(field);
        field = '';
        fieldWasQuoted = false;
        break;
      case '\r':
        if (source[i + 1] !== '\n') field += char;
        break;
      case '\n':
        endRecord();
        line += 1;
        recordLine = line;
        break;
      default:
        field += char;
    }
  }
  if (quoted) throw new CsvSyntaxError(quoteOpenedOn, 'a quoted field is never closed');
  if (field !== '' || fields.length > 0 || fieldWasQuoted) endRecord();
  return records;
}

export interface ContactRow {
  line: number;
  number: string;
  /** Every column's value by header name, `number` included. */
  values: Record<string, string>;
}

export interface RejectedRow {
  line: number;
  /** The row's `number` cell as uploaded ('' when the row has none). */
  number: string;
  reason: string;
}

export interface ContactListContent {
  columns: string[];
  contacts: ContactRow[];
  rejected: RejectedRow[];
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Formatting people type inside numbers; removed before the number is judged. */
const NUMBER_FORMATTING = /[\s\-().]/g;

/** Problems with the file as a whole: the list cannot be read, so nothing is accepted. */
export class ContactListError extends Error {}

/**
 * The contacts of a CSV upload. Numbers must be international (E.164) once spaces, dashes, dots
 * and brackets are removed; a number already on the list is a duplicate, so nobody is texted twice.
 */
export function readContactList(csv: string): ContactListContent {
  let records: CsvRecord[];
  try {
    records = parseCsv(csv);
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw new ContactListError(`the file is not valid CSV: ${error.message}`);
    throw error;
  }
  const [header, ...rows] = records;
  if (!header)
    throw new ContactListError(
      'the file is empty: the first line must name the columns, one of them "number"',
    );
  const columns = header.fields.map((name) => name.trim());
  const badColumn = columns.find((name) => !COLUMN.test(name));
  if (badColumn !== undefined)
    throw new ContactListError(
      `line ${header.line}: column name "${badColumn}" must be letters, digits and _ (not starting with a digit), so a template can use it as {{${badColumn || 'name'}}}`,
    );
  const repeated = columns.find((name, index) => columns.indexOf(name) !== index);
  if (repeated !== undefined)
    throw new ContactListError(`line ${header.line}: the column "${repeated}" appears twice`);
  const numberColumn = columns.indexOf('number');
  if (numberColumn < 0)
    throw new ContactListError(
      `line ${header.line}: no "number" column (the columns are: ${columns.join(', ')})`,
    );

  const contacts: ContactRow[] = [];
  const rejected: RejectedRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const row of rows) {
    const uploaded = (row.fields[numberColumn] ?? '').trim();
    const reject = (reason: string): void => {
      rejected.push({ line: row.line, number: uploaded, reason });
    };
    if (row.fields.length !== columns.length) {
      reject(`has ${row.fields.length} fields; the header has ${columns.length}`);
      continue;
    }
    const number = uploaded.replace(NUMBER_FORMATTING, '');
    if (!E164.test(number)) {
      reject(
        uploaded === ''
          ? 'has no number'
          : `"${uploaded}" is not a mobile number in international format (+ and 8 to 15 digits, such as +447700900123)`,
      );
      continue;
    }
    const earlier = firstLineOf.get(number);
    if (earlier !== undefined) {
      reject(`${number} is already on the list (line ${earlier}): each contact gets one text`);
      continue;
    }
    firstLineOf.set(number, row.line);
    const values = Object.fromEntries(columns.map((name, index) => [name, row.fields[index] ?? '']));
    contacts.push({ line: row.line, number, values: { ...values, number } });
  }
  return { columns, contacts, rejected };
}
