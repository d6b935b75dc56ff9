/**
 * The campaign sender: starts scheduled campaigns when their time comes and hands each running
 * campaign's next contacts to the SMSC at the campaign's rate. The API side is campaigns.ts.
 */
import type { RoleDeps } from '../role';
import { nowIso } from '../store/store';
import { SmscRejection, type SmscService } from '../smsc';
import { renderTemplate } from './templates';
import { isOptedOut } from './opt-outs';
import type { CampaignRow, CampaignContactRow } from './campaigns';

/**
 * The sender: starts scheduled campaigns when their time comes and hands each running campaign's
 * next contacts to the SMSC at the campaign's rate. Paused, cancelled and finished campaigns are
 * never touched, so pausing takes effect before the API answers.
 */
export function startCampaignRunner(deps: RoleDeps, smsc: SmscService): { stop(): void } {
  const { db, config } = deps;
  const log = (message: string): void => deps.log('campaigns', message);
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
      try {
        const accepted = smsc.acceptMessage({
          customerId: campaign.customer_id,
          source: 'campaign',
          sender: campaign.sender,
          recipient: contact.number,
          text: rendered.text,
          registeredDelivery: true,
        });
        mark('handed', accepted.id, null);
        return 'texted';
      } catch (error) {
        if (!(error instanceof SmscRejection)) throw error;
        mark('failed', null, error.message);
        return 'skipped';
      }
    })();

  const advance = (campaign: CampaignRow, now: number): void => {
    const interval = 1000 / campaign.rate_per_second;
    // After a stall, catch up by at most one tick's worth: a rate is a ceiling, never a burst.
    let next = Math.max(campaign.next_send_at ?? now, now - config.campaigns.tickMs);
    while (next <= now) {
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
