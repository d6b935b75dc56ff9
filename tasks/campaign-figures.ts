import type { CampaignStats } from '../world/http/api-client';
import type { Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { consistencyCheck, recordMetric } from '../reporting/metrics';
import { eventually } from './waiting';
import { optedOut } from './opt-outs';
import {
  campaignSettled,
  campaignTexts,
  contactsOf,
  expectedText,
  onlyCampaign,
  reachable,
} from './campaign-runs';

/** A campaign's statistics against the ground truth: the handsets and the network double. */

const STAT_COLUMNS: Record<string, keyof CampaignStats> = {
  contacts: 'contacts',
  pending: 'pending',
  sent: 'sent',
  delivered: 'delivered',
  failed: 'failed',
  'opted out': 'optedOut',
  cancelled: 'cancelled',
};

export function stats(partial: Partial<CampaignStats>): CampaignStats {
  return { contacts: 0, pending: 0, sent: 0, delivered: 0, failed: 0, optedOut: 0, cancelled: 0, ...partial };
}

/** Then within {int} seconds the campaign's statistics agree with the handsets and the network: */
export async function expectCampaignStatisticsAgreeWithin(
  world: Phase2World,
  seconds: number,
  table: DataTable,
) {
  const run = onlyCampaign(world);
  const [row] = table.hashes();
  if (!row) throw new Error('The table needs one row of expected figures.');
  const expected = stats(
    Object.fromEntries(
      Object.entries(row).map(([column, value]) => {
        const key = STAT_COLUMNS[column];
        if (!key)
          throw new Error(`Unknown column "${column}" (known: ${Object.keys(STAT_COLUMNS).join(', ')}).`);
        return [key, Number(value)];
      }),
    ),
  );
  // Ground truth from the handsets and the network double, independent of the table.
  const contacts = contactsOf(world, run);
  const onHandsets = contacts.filter((c) => campaignTexts(world, run, c).length > 0).length;
  run.latest = await eventually(
    world,
    `campaign "${run.name}" to count ${onHandsets} delivered (the handsets' count) and none awaiting a report`,
    () => world.customer(run.customer).api.getCampaign(run.latest.id),
    (c) => c.stats.sent === 0 && c.stats.delivered === onHandsets,
    { lookAt: [EVIDENCE.HTTP], within: seconds * 1000 },
  );
  // Undeliverable as the network reported it (read once the platform has every report): an
  // UNDELIV receipt the network sent for the campaign's text.
  const unreachable = contacts.filter((c) =>
    world.mobileNetwork.receipts
      .all()
      .some((r) => r.to === c.number && r.stat === 'UNDELIV' && r.text === expectedText(world, run, c)),
  ).length;
  // Opted out as observed: the platform confirmed the STOP on the phone, and the network never
  // got the campaign's text for them.
  const skipped = contacts.filter(
    (c) =>
      optedOut(world, run, c) &&
      !world.mobileNetwork.submits
        .all()
        .some((s) => s.to === c.number && s.text === expectedText(world, run, c)),
  ).length;
  attachJson(world, 'Campaign statistics vs ground truth', {
    campaign: run.latest,
    handsets: {
      received: onHandsets,
      unreachable,
      optedOut: skipped,
    },
  });
  recordMetric(world, {
    kind: 'delivery',
    name: 'campaign texts to reachable contacts',
    accepted: reachable(world, run).length,
    delivered: reachable(world, run).filter((c) => campaignTexts(world, run, c).length > 0).length,
  });
  await consistencyCheck(world, 'campaign statistics vs handsets and network', () => {
    expect(run.latest.stats.delivered, 'delivered: contacts whose handset shows the text').to.equal(
      onHandsets,
    );
    expect(run.latest.stats.failed, 'failed: contacts the network sent an UNDELIV receipt for').to.equal(
      unreachable,
    );
    expect(
      run.latest.stats.optedOut,
      'opted out: contacts whose phone shows the STOP confirmation and whom the network got no campaign text for',
    ).to.equal(skipped);
  });
  expect(run.latest.stats, `statistics of "${run.name}"`).to.deep.equal(expected);
}

/** Then the campaign's statistics count the contacts it never reached as cancelled, and the others as delivered */
export async function expectUnreachedCountedAsCancelled(world: Phase2World) {
  const run = onlyCampaign(world);
  const contacts = contactsOf(world, run);
  const cancelled = run.notYetTexted?.length ?? 0;
  const settled = await campaignSettled(world, run);
  const onHandsets = contacts.filter((c) => campaignTexts(world, run, c).length > 0).length;
  attachJson(world, 'Campaign statistics vs ground truth', {
    campaign: settled,
    handsets: { received: onHandsets },
  });
  expect(onHandsets, 'contacts whose handset shows the text').to.equal(contacts.length - cancelled);
  expect(settled.stats, `statistics of "${run.name}"`).to.deep.equal(
    stats({ contacts: contacts.length, delivered: onHandsets, cancelled }),
  );
  expect(settled.finishedAt, 'when it was cancelled').to.be.a('string');
}
