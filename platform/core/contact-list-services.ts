/**
 * Contact lists as an API resource: a customer uploads a CSV of numbers (rows without a usable
 * number are skipped and reported), then lists and reads them. Parsing lives in contact-lists.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ValidationError } from '../errors';
import { ownRow } from './resources';
import { ContactListError, readContactList, type RejectedRow } from './contact-lists';

export interface ContactListResource {
  id: string;
  name: string;
  columns: string[];
  contacts: number;
  rejectedRows: RejectedRow[];
  createdAt: string;
}

export interface ContactListRow {
  id: string;
  customer_id: string;
  name: string;
  columns: string;
  rejected_rows: string;
  created_at: string;
}

export class ContactListServices {
  constructor(private readonly db: Db) {}

  uploadContactList(customerId: string, name: string | null, csv: string): ContactListResource {
    const errors: Array<{ field: string; message: string }> = [];
    if (name === null || name.trim() === '' || name.length > 200)
      errors.push({ field: 'name', message: 'give the list a name of 1 to 200 characters (?name=…)' });
    let content;
    try {
      content = readContactList(csv);
    } catch (error) {
      if (!(error instanceof ContactListError)) throw error;
      errors.push({ field: 'csv', message: error.message });
    }
    if (errors.length > 0 || !content) throw new ValidationError(errors);
    if (content.contacts.length === 0)
      throw new ValidationError([
        {
          field: 'csv',
          message: `no row has a usable number, so there is nobody to text (${content.rejected.length} rows skipped: ${content.rejected
            .slice(0, 3)
            .map((r) => `line ${r.line} ${r.reason}`)
            .join('; ')})`,
        },
      ]);
    const row: ContactListRow = {
      id: `cl_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name: (name ?? '').trim(),
      columns: JSON.stringify(content.columns),
      rejected_rows: JSON.stringify(content.rejected),
      created_at: nowIso(),
    };
    const insertEntry = this.db.prepare(
      'INSERT INTO contact_list_entries (list_id, line, number, fields) VALUES (?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO contact_lists (id, customer_id, name, columns, rejected_rows, created_at) VALUES (@id, @customer_id, @name, @columns, @rejected_rows, @created_at)',
        )
        .run(row);
      for (const contact of content.contacts)
        insertEntry.run(row.id, contact.line, contact.number, JSON.stringify(contact.values));
    })();
    return this.contactListResource(row);
  }

  listContactLists(customerId: string): ContactListResource[] {
    const rows = this.db
      .prepare('SELECT * FROM contact_lists WHERE customer_id = ? ORDER BY created_at, id')
      .all(customerId) as ContactListRow[];
    return rows.map((row) => this.contactListResource(row));
  }

  getContactList(customerId: string, id: string): ContactListResource {
    return this.contactListResource(this.contactListRow(customerId, id));
  }

  private contactListRow(customerId: string, id: string): ContactListRow {
    return ownRow<ContactListRow>(
      this.db,
      { table: 'contact_lists', key: 'id', what: 'contact list' },
      customerId,
      id,
    );
  }

  private contactListResource(row: ContactListRow): ContactListResource {
    const { n } = this.db
      .prepare('SELECT COUNT(*) AS n FROM contact_list_entries WHERE list_id = ?')
      .get(row.id) as { n: number };
    return {
      id: row.id,
      name: row.name,
      columns: JSON.parse(row.columns) as string[],
      contacts: n,
      rejectedRows: JSON.parse(row.rejected_rows) as RejectedRow[],
      createdAt: row.created_at,
    };
  }
}
