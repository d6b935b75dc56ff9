/**
 * The campaign sender: starts scheduled campaigns when their time comes and hands each running
 * campaign's next contacts to the SMSC at the campaign's rate. The API side is campaigns.ts.
 */
import type { RoleDeps } from '../role';
import { nowIso } from '../store/store';
import { SmscRejection, type SmscService } from '../smsc';
import { renderTemplate } from './templates';
import { isOptedOut } from './opt-outs';
import { recordSpamRejection, SpamFilter } from '../smsc/spam-filter';
import type { CampaignRow, CampaignContactRow } from './campaigns';

/**
 * The sender: starts scheduled campaigns when their time comes and hands each running campaign's
 * next contacts to the SMSC at the campaign's rate. Paused, cancelled and finished campaigns are
 * never touched, so pausing takes effect before the API answers.
 */
export function startCampaignRunner(deps: RoleDeps, smsc: SmscService): { stop(): void } {
  const { db, config } = deps;
  const log = (message: string): void => deps.log('campaigns', message);
  const spam = new SpamFilter(db, config.security.spam);
  const nextPending = db.prepare(
    "SELECT * FROM campaign_contacts WHERE campaign_id = ? AND state = 'pending' ORDER BY line LIMIT 1",
  );
  const setContact = db.prepare(
    'UPDATE campaign_contacts SET state = @state, message_id = @message_id, error = @error WHERE campaign_id = @campaign_id AND number = @number',
  );
  // Prepared once: the sender looks every tick.
  const templateBody = db.prepare('SELECT body FROM templates WHERE id = ?');
  const complete = db.prepare(
    "UPDATE campaigns SET status = 'completed', finished_at = @at, next_send_at = NULL, updated_at = @at WHERE id = @id AND status = 'running'",
  );
  const setNextSend = db.prepare('UPDATE campaigns SET next_send_at = ? WHERE id = ?');
  const dueToStart = db.prepare("SELECT id FROM campaigns WHERE status = 'scheduled' AND start_at <= ?");
  const startScheduled = db.prepare(
    "UPDATE campaigns SET status = 'running', started_at = @at, next_send_at = @now, updated_at = @at WHERE id = @id AND status = 'scheduled'",
  );
  const runningCampaigns = db.prepare("SELECT * FROM campaigns WHERE status = 'running'");
  const hasPending = db.prepare(
    "SELECT 1 FROM campaign_contacts WHERE campaign_id = ? AND state = 'pending' LIMIT 1",
  );
  // The campaign's texts still in the SMSC's queue (through the index on status: asked every tick while waiting).
  const stillQueued = db.prepare(
    `SELECT COUNT(*) AS n FROM messages m JOIN campaign_contacts c ON c.message_id = m.id
      WHERE m.status = 'queued' AND c.campaign_id = ?`,
  );
  // When the campaign's latest text to leave the SMSC left it (submitted, or refused for good).
  const lastLeft = db.prepare(
    `SELECT MAX(COALESCE(m.sent_at, m.done_at)) AS at FROM campaign_contacts c JOIN messages m ON m.id = c.message_id
      WHERE c.campaign_id = ? AND c.state = 'handed' AND m.status <> 'queued'`,
  );

  /** Texts one contact (or skips it); false when the campaign has no pending contact left. */
  const textNext = (campaign: CampaignRow): 'texted' | 'skipped' | 'none' =>
    db.transaction((): 'texted' | 'skipped' | 'none' => {
      const contact = nextPending.get(campaign.id) as CampaignContactRow | undefined;
      if (!contact) return 'none';
      const mark = (
        state: CampaignContactRow['state'],
        messageId: string | null,
        error: string | null,
      ): void => {
        setContact.run({
          state,
          message_id: messageId,
          error,
          campaign_id: campaign.id,
          number: contact.number,
        });
      };
      if (isOptedOut(db, campaign.customer_id, contact.number)) {
        mark('opted-out', null, null);
        return 'skipped';
      }
      const template = templateBody.get(campaign.template_id) as { body: string } | undefined;
      const rendered = renderTemplate(
        template?.body ?? '',
        JSON.parse(contact.fields) as Record<string, string>,
      );
      if (!template || rendered.missing.length > 0) {
        mark(
          'failed',
          null,
          template
            ? `the template uses ${rendered.missing.map((v) => `{{${v}}}`).join(', ')}, which this contact has no value for`
            : 'the template no longer exists',
        );
        return 'skipped';
      }
      const message = {
        customerId: campaign.customer_id,
        source: 'campaign' as const,
        sender: campaign.sender,
        recipient: contact.number,
        text: rendered.text,
        registeredDelivery: true,
      };
      // A campaign is no way around the spam filter (its content and sender rules; velocity
      // concerns one-off sends, a campaign is paced by its rate).
      const verdict = spam.verdict(message);
      if (verdict !== null) {
        const id = recordSpamRejection(db, deps.bus, message, verdict, {
          sourceAddress: null,
          requestId: null,
          campaignId: campaign.id,
        });
        mark('failed', id, `refused as spam (rule ${verdict.rule}): ${verdict.reason}`);
        log(
          `campaign ${campaign.id}: line ${contact.line} refused as spam (${verdict.rule}), recorded as ${id}`,
        );
        return 'skipped';
      }
      try {
        const accepted = smsc.acceptMessage(message);
        mark('handed', accepted.id, null);
        log(`campaign ${campaign.id}: line ${contact.line} handed to the SMSC as ${accepted.id}`);
        return 'texted';
      } catch (error) {
        if (!(error instanceof SmscRejection)) throw error;
        mark('failed', null, error.message);
        return 'skipped';
      }
    })();

  /**
   * The earliest the campaign's next text may be handed over so that it reaches the network at
   * most at the campaign's rate, or null while too many of its texts are still in the SMSC.
   * Pacing the hand-over alone is not enough: the SMSC queue (a busy process, a retry, a
   * reconnect) can hold a text back and then let it go right before the next one.
   */
  const networkPace = (campaign: CampaignRow, interval: number): number | null => {
    const queued = (stillQueued.get(campaign.id) as { n: number }).n;
    // As many as the rate hands over in one tick may be in the SMSC at once, and at least one.
    if (queued >= Math.max(1, Math.floor(config.campaigns.tickMs / interval))) return null;
    const left = (lastLeft.get(campaign.id) as { at: string | null }).at;
    // Each text still queued will take an interval of its own after the one that left.
    return left === null ? -Infinity : Date.parse(left) + (queued + 1) * interval;
  };

  const advance = (campaign: CampaignRow, now: number): void => {
    const interval = 1000 / campaign.rate_per_second;
    // After a stall, catch up by at most one tick's worth: a rate is a ceiling, never a burst.
    let next = Math.max(campaign.next_send_at ?? now, now - config.campaigns.tickMs);
    while (next <= now) {
      if (hasPending.get(campaign.id) !== undefined) {
        const earliest = networkPace(campaign, interval);
        if (earliest === null || earliest > now) {
          next = Math.max(next, earliest ?? next);
          break;
        }
      }
      const outcome = textNext(campaign);
      if (outcome === 'none') {
        complete.run({ at: nowIso(), id: campaign.id });
        log(`campaign ${campaign.id} completed: every contact texted or skipped`);
        return;
      }
      if (outcome === 'texted') next += interval;
    }
    setNextSend.run(next, campaign.id);
  };

  const tick = (): void => {
    try {
      const now = Date.now();
      const due = dueToStart.all(new Date(now).toISOString()) as Array<{ id: string }>;
      for (const { id } of due) {
        startScheduled.run({ at: nowIso(), now, id });
        log(`campaign ${id} started at its scheduled time`);
      }
      const running = runningCampaigns.all() as CampaignRow[];
      for (const campaign of running) advance(campaign, now);
    } catch (error) {
      log(`tick failed: ${(error as Error).stack ?? String(error)}`);
    }
  };

  const timer = setInterval(tick, config.campaigns.tickMs);
  log(`sending campaigns, looking every ${config.campaigns.tickMs} ms`);
  return { stop: () => clearInterval(timer) };
}
