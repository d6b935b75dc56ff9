import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import type { PlatformConfig } from '../config';
import { ConflictError } from '../errors';
import { ownRow } from './resources';
import { InputReader } from '../input';
import { templateVariables } from './templates';
import type { SenderCheck } from './numbers';
import type { ContactListRow } from './contact-list-services';

/**
 * SMS campaigns: one template sent to every contact of an uploaded list, paced at the campaign's
 * rate, in the order of the list. Each contact is handed to the SMSC at most once: the contact's
 * state and its message are written in one transaction. Opted-out contacts are skipped when their
 * turn comes, so a STOP that arrives while a campaign is paused is honoured.
 */

export const CAMPAIGN_STATUSES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
/** Campaigns that may still send: a template they use cannot be deleted. */
export const UNFINISHED_CAMPAIGN_STATUSES: readonly CampaignStatus[] = [
  'draft',
  'scheduled',
  'running',
  'paused',
];

export interface CampaignStats {
  /** Contacts on the campaign: the list's accepted rows. The other figures partition them. */
  contacts: number;
  /** Not texted yet. */
  pending: number;
  /** Handed to the mobile network, no final report yet. */
  sent: number;
  delivered: number;
  /** Undeliverable, rejected, expired, or the text could not be made or accepted. */
  failed: number;
  /** Skipped: the number had opted out when its turn came. */
  optedOut: number;
  /** Never texted: the campaign was cancelled first. */
  cancelled: number;
}

export interface CampaignResource {
  id: string;
  name: string;
  from: string;
  templateId: string;
  contactListId: string;
  ratePerSecond: number;
  status: CampaignStatus;
  startAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  stats: CampaignStats;
}

export interface CampaignRow {
  id: string;
  customer_id: string;
  name: string;
  sender: string;
  template_id: string;
  contact_list_id: string;
  rate_per_second: number;
  status: CampaignStatus;
  start_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  next_send_at: number | null;
  created_at: string;
  updated_at: string;
}

export interface CampaignContactRow {
  campaign_id: string;
  line: number;
  number: string;
  fields: string;
  state: 'pending' | 'handed' | 'opted-out' | 'cancelled' | 'failed';
}

/** The longest a campaign may be scheduled ahead. */
const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

export class CampaignServices {
  constructor(
    private readonly db: Db,
    private readonly settings: PlatformConfig['campaigns'],
    private readonly senderProblem: SenderCheck,
  ) {}

  createCampaign(customerId: string, body: unknown): CampaignResource {
    const input = new InputReader(body, [
      'name',
      'from',
      'templateId',
      'contactListId',
      'ratePerSecond',
      'startAt',
    ]);
    const name = input.string('name', { maxLength: 200 });
    const from = input.string('from');
    const templateId = input.string('templateId');
    const contactListId = input.string('contactListId');
    const ratePerSecond = input.has('ratePerSecond')
      ? input.integer('ratePerSecond', 1, this.settings.maxRatePerSecond)
      : this.settings.defaultRatePerSecond;
    const startAt = input.has('startAt') ? this.readStartAt(input) : null;
    const senderProblem = from ? this.senderProblem(customerId, from) : undefined;
    if (senderProblem) input.fail('from', senderProblem);

    const template = templateId
      ? (this.db
          .prepare('SELECT body FROM templates WHERE id = ? AND customer_id = ?')
          .get(templateId, customerId) as { body: string } | undefined)
      : undefined;
    if (templateId && !template) input.fail('templateId', `${templateId} is not one of your templates`);
    const list = contactListId
      ? (this.db
          .prepare('SELECT * FROM contact_lists WHERE id = ? AND customer_id = ?')
          .get(contactListId, customerId) as ContactListRow | undefined)
      : undefined;
    if (contactListId && !list)
      input.fail('contactListId', `${contactListId} is not one of your contact lists`);
    if (template && list) {
      const columns = JSON.parse(list.columns) as string[];
      const uncovered = templateVariables(template.body).filter((v) => !columns.includes(v));
      if (uncovered.length > 0)
        input.fail(
          'templateId',
          `the template uses ${uncovered.map((v) => `{{${v}}}`).join(', ')}, but the contact list has no such column (its columns: ${columns.join(', ')})`,
        );
    }
    input.done();

    const at = nowIso();
    const row: CampaignRow = {
      id: `cmp_${randomBytes(8).toString('hex')}`,
      customer_id: customerId,
      name,
      sender: from,
      template_id: templateId,
      contact_list_id: contactListId,
      rate_per_second: ratePerSecond,
      status: startAt ? 'scheduled' : 'draft',
      start_at: startAt,
      started_at: null,
      finished_at: null,
      next_send_at: null,
      created_at: at,
      updated_at: at,
    };
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO campaigns (id, customer_id, name, sender, template_id, contact_list_id, rate_per_second, status,
             start_at, started_at, finished_at, next_send_at, created_at, updated_at)
           VALUES (@id, @customer_id, @name, @sender, @template_id, @contact_list_id, @rate_per_second, @status,
             @start_at, @started_at, @finished_at, @next_send_at, @created_at, @updated_at)`,
        )
        .run(row);
      this.db
        .prepare(
          `INSERT INTO campaign_contacts (campaign_id, line, number, fields, state)
           SELECT ?, line, number, fields, 'pending' FROM contact_list_entries WHERE list_id = ?`,
        )
        .run(row.id, contactListId);
    })();
    return this.campaignResource(row);
  }

  listCampaigns(customerId: string): CampaignResource[] {
    const rows = this.db
      .prepare('SELECT * FROM campaigns WHERE customer_id = ? ORDER BY created_at DESC, id DESC')
      .all(customerId) as CampaignRow[];
    return rows.map((row) => this.campaignResource(row));
  }

  getCampaign(customerId: string, id: string): CampaignResource {
    return this.campaignResource(this.campaignRow(customerId, id));
  }

  /** Starts now: a draft, or a scheduled campaign ahead of its time. */
  start(customerId: string, id: string): CampaignResource {
    return this.transition(customerId, id, ['draft', 'scheduled'], 'started', () => ({
      status: 'running',
      started_at: nowIso(),
      next_send_at: Date.now(),
    }));
  }

  schedule(customerId: string, id: string, body: unknown): CampaignResource {
    const input = new InputReader(body, ['startAt']);
    const startAt = this.readStartAt(input);
    input.done();
    return this.transition(customerId, id, ['draft', 'scheduled'], 'scheduled', () => ({
      status: 'scheduled',
      start_at: startAt,
    }));
  }

  pause(customerId: string, id: string): CampaignResource {
    return this.transition(customerId, id, ['running'], 'paused', () => ({
      status: 'paused',
      next_send_at: null,
    }));
  }

  resume(customerId: string, id: string): CampaignResource {
    return this.transition(customerId, id, ['paused'], 'resumed', () => ({
      status: 'running',
      next_send_at: Date.now(),
    }));
  }

  /** Contacts not texted yet are never texted; texts already handed over still get their reports. */
  cancel(customerId: string, id: string): CampaignResource {
    return this.transition(customerId, id, UNFINISHED_CAMPAIGN_STATUSES, 'cancelled', (row) => {
      this.db
        .prepare(
          "UPDATE campaign_contacts SET state = 'cancelled' WHERE campaign_id = ? AND state = 'pending'",
        )
        .run(row.id);
      return { status: 'cancelled', finished_at: nowIso(), next_send_at: null };
    });
  }

  private transition(
    customerId: string,
    id: string,
    from: readonly CampaignStatus[],
    verb: string,
    change: (row: CampaignRow) => Partial<CampaignRow>,
  ): CampaignResource {
    const updated = this.db.transaction(() => {
      const row = this.campaignRow(customerId, id);
      if (!from.includes(row.status))
        throw new ConflictError(
          `campaign ${id} is ${row.status}: only a ${from.join(' or ')} campaign can be ${verb}`,
        );
      const next: CampaignRow = { ...row, ...change(row), updated_at: nowIso() };
      this.db
        .prepare(
          `UPDATE campaigns SET status = @status, start_at = @start_at, started_at = @started_at,
             finished_at = @finished_at, next_send_at = @next_send_at, updated_at = @updated_at WHERE id = @id`,
        )
        .run(next);
      return next;
    })();
    return this.campaignResource(updated);
  }

  private readStartAt(input: InputReader): string {
    const raw = input.string('startAt');
    const at = Date.parse(raw);
    if (raw && Number.isNaN(at)) {
      input.fail('startAt', 'must be an ISO-8601 date-time such as 2025-01-31T09:00:00Z');
      return '';
    }
    if (raw && at <= Date.now())
      input.fail('startAt', `${raw} is not in the future: to send now, start the campaign`);
    if (raw && at > Date.now() + MAX_SCHEDULE_AHEAD_MS) input.fail('startAt', 'must be within a year');
    return raw ? new Date(at).toISOString() : '';
  }

  private campaignRow(customerId: string, id: string): CampaignRow {
    return ownRow<CampaignRow>(this.db, { table: 'campaigns', key: 'id', what: 'campaign' }, customerId, id);
  }

  private campaignResource(row: CampaignRow): CampaignResource {
    return {
      id: row.id,
      name: row.name,
      from: row.sender,
      templateId: row.template_id,
      contactListId: row.contact_list_id,
      ratePerSecond: row.rate_per_second,
      status: row.status,
      startAt: row.start_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      stats: campaignStats(this.db, row.id),
    };
  }
}

/** The campaign's contacts by outcome; a handed contact's outcome is its message's status. */
export function campaignStats(db: Db, campaignId: string): CampaignStats {
  const rows = db
    .prepare(
      `SELECT c.state AS state, m.status AS status, COUNT(*) AS n
         FROM campaign_contacts c LEFT JOIN messages m ON m.id = c.message_id
        WHERE c.campaign_id = ? GROUP BY c.state, m.status`,
    )
    .all(campaignId) as Array<{ state: CampaignContactRow['state']; status: string | null; n: number }>;
  const stats: CampaignStats = {
    contacts: 0,
    pending: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    optedOut: 0,
    cancelled: 0,
  };
  for (const { state, status, n } of rows) {
    stats.contacts += n;
    if (state === 'pending') stats.pending += n;
    else if (state === 'opted-out') stats.optedOut += n;
    else if (state === 'cancelled') stats.cancelled += n;
    else if (state === 'failed') stats.failed += n;
    else if (status === 'queued' || status === 'sent') stats.sent += n;
    else if (status === 'delivered') stats.delivered += n;
    else stats.failed += n;
  }
  return stats;
}
