/**
 * Message templates as an API resource: create, list, read, replace, delete (refused while an
 * unfinished campaign sends it). Rendering lives in templates.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { ConflictError } from '../errors';
import { InputReader } from '../input';
import { UNFINISHED_CAMPAIGN_STATUSES } from './campaigns';
import { ownRow, templateResource, type TemplateResource } from './resources';
import type { TemplateRow } from '../store/rows';

export class TemplateServices {
  constructor(private readonly db: Db) {}

  createTemplate(customerId: string, body: unknown): TemplateResource {
    const { name, text } = this.readTemplate(body);
    const now = nowIso();
    const row: TemplateRow = {
      id: `tpl_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name,
      body: text,
      created_at: now,
      updated_at: now,
    };
    this.refuseDuplicateTemplateName(customerId, name, row.id);
    this.db
      .prepare(
        'INSERT INTO templates (id, customer_id, name, body, created_at, updated_at) VALUES (@id, @customer_id, @name, @body, @created_at, @updated_at)',
      )
      .run(row);
    return templateResource(row);
  }

  listTemplates(customerId: string): TemplateResource[] {
    const rows = this.db
      .prepare('SELECT * FROM templates WHERE customer_id = ? ORDER BY name')
      .all(customerId) as TemplateRow[];
    return rows.map(templateResource);
  }

  getTemplate(customerId: string, id: string): TemplateResource {
    return templateResource(this.templateRow(customerId, id));
  }

  replaceTemplate(customerId: string, id: string, body: unknown): TemplateResource {
    const row = this.templateRow(customerId, id);
    const { name, text } = this.readTemplate(body);
    this.refuseDuplicateTemplateName(customerId, name, id);
    const updated: TemplateRow = { ...row, name, body: text, updated_at: nowIso() };
    this.db
      .prepare('UPDATE templates SET name = @name, body = @body, updated_at = @updated_at WHERE id = @id')
      .run(updated);
    return templateResource(updated);
  }

  /** A template an unfinished campaign sends cannot be deleted: the campaign renders it for each contact. */
  deleteTemplate(customerId: string, id: string): void {
    this.templateRow(customerId, id);
    const user = this.db
      .prepare(
        `SELECT id, status FROM campaigns WHERE template_id = ? AND status IN (${UNFINISHED_CAMPAIGN_STATUSES.map(() => '?').join(', ')}) ORDER BY created_at LIMIT 1`,
      )
      .get(id, ...UNFINISHED_CAMPAIGN_STATUSES) as { id: string; status: string } | undefined;
    if (user)
      throw new ConflictError(
        `template ${id} is used by campaign ${user.id}, which is ${user.status}: cancel the campaign or let it complete first`,
      );
    this.db.prepare('DELETE FROM templates WHERE id = ?').run(id);
  }

  private templateRow(customerId: string, id: string): TemplateRow {
    return ownRow<TemplateRow>(this.db, { table: 'templates', key: 'id', what: 'template' }, customerId, id);
  }

  private readTemplate(body: unknown): { name: string; text: string } {
    const input = new InputReader(body, ['name', 'body']);
    const name = input.string('name', { maxLength: 100 });
    const text = input.string('body', { maxLength: 1600 });
    input.done();
    return { name, text };
  }

  private refuseDuplicateTemplateName(customerId: string, name: string, exceptId: string): void {
    const other = this.db
      .prepare('SELECT id FROM templates WHERE customer_id = ? AND name = ? AND id <> ?')
      .get(customerId, name, exceptId) as { id: string } | undefined;
    if (other) throw new ConflictError(`template ${other.id} is already called "${name}"`);
  }
}
