import type { ListedContact, Phase2World, UploadedContactList } from '../world/world';
import { attachJson } from '../reporting/evidence';
import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';

/** Contact lists: uploaded as CSV from a table, with the contacts the suite expects on them and the rows the platform skipped. */

/** Campaigns and contact lists of a scenario, and what their contacts' handsets show. */

/** The rows the platform accepted, in list order: every row its report does not skip. */
export function acceptedContacts(uploaded: UploadedContactList): ListedContact[] {
  const skipped = new Set(uploaded.list.rejectedRows.map((r) => r.line));
  return uploaded.rows.filter((row) => !skipped.has(row.line));
}

export function listNamed(world: Phase2World, name: string): UploadedContactList {
  const found = [...world.customers.values()].find((c) => c.contactLists.has(name))?.contactLists.get(name);
  if (!found) throw new Error(`No contact list "${name}" in this scenario: a step must upload it.`);
  return found;
}

/**
 * SMS campaigns: contact lists uploaded as CSV, campaigns started, scheduled, paused, resumed and
 * cancelled through the API, opt-outs by texting STOP. Every outcome is checked on the handsets
 * (the ground truth) and against the campaign's own statistics.
 */

const PERSON_CELL = /^(\w+)'s mobile$/;

// ---- contact lists ----

/** The table as CSV; a cell "Anna's mobile" in the number column becomes Anna's number. */
function contactsFromTable(world: Phase2World, raw: string[][]): { csv: string; rows: ListedContact[] } {
  const [header, ...body] = raw;
  if (!header?.includes('number')) throw new Error('The contact list table needs a "number" column.');
  const numberColumn = header.indexOf('number');
  const rows = body.map((cells, index): ListedContact => {
    const cell = cells[numberColumn] ?? '';
    const person = PERSON_CELL.exec(cell)?.[1];
    const number = person ? world.person(person).number : cell;
    const values = Object.fromEntries(
      header.map((name, i) => [name, i === numberColumn ? number : (cells[i] ?? '')]),
    );
    return { person, number, values, line: index + 2 };
  });
  const quote = (field: string): string =>
    /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
  const lines = [header, ...rows.map((row) => header.map((name) => row.values[name] ?? ''))];
  return { csv: `${lines.map((cells) => cells.map(quote).join(',')).join('\r\n')}\r\n`, rows };
}

export async function uploadList(
  world: Phase2World,
  customerName: string,
  name: string,
  raw: string[][],
): Promise<UploadedContactList> {
  const { csv, rows } = contactsFromTable(world, raw);
  const list = await world.customer(customerName).api.uploadContactList(name, csv);
  attachJson(world, `Contact list "${name}"`, { csv, list });
  expect(list.name, 'name of the uploaded list').to.equal(name);
  expect(list.columns, 'columns of the uploaded list').to.deep.equal(raw[0]);
  const uploaded = { list, rows };
  world.customer(customerName).contactLists.set(name, uploaded);
  return uploaded;
}

/** Given {string} has uploaded the contact list {string}: */
export async function uploadContactListOrFail(
  world: Phase2World,
  customerName: string,
  name: string,
  table: DataTable,
) {
  const { list, rows } = await uploadList(world, customerName, name, table.raw());
  expect(list.rejectedRows, `rows of "${name}" the platform skipped`).to.deep.equal([]);
  expect(list.contacts, `contacts on "${name}"`).to.equal(rows.length);
}

/** Then the list {string} is accepted with {int} contacts, and the upload report skips these rows: */
export async function expectListAcceptedWithSkippedRows(
  world: Phase2World,
  name: string,
  contacts: number,
  table: DataTable,
) {
  const uploaded = listNamed(world, name);
  const expected = table.hashes().map((row) => {
    const person = PERSON_CELL.exec(row.number ?? '')?.[1];
    return {
      line: Number(row.line),
      number: person ? world.person(person).number : (row.number ?? ''),
      reason: row.reason ?? '',
    };
  });
  const report = uploaded.list.rejectedRows;
  expect(
    report.map(({ line, number }) => ({ line, number })),
    `rows skipped, by line and the number as uploaded (see "Contact list "${name}"")`,
  ).to.deep.equal(expected.map(({ line, number }) => ({ line, number })));
  expected.forEach((row, index) =>
    expect(report[index]?.reason, `the reason given for line ${row.line}`).to.include(row.reason),
  );
  expect(uploaded.list.contacts, `contacts accepted on "${name}"`).to.equal(contacts);
  const read = await world.customer(world.onlyCustomerName()).api.raw({
    method: 'GET',
    path: `/v1/contact-lists/${uploaded.list.id}`,
  });
  expect(read.body, `the list "${name}" read back`).to.deep.equal(uploaded.list);
}
