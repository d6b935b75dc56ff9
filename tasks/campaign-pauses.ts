import type { ListedContact, Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { expect } from 'chai';
import { bound, describeEvidence, PLATFORM_LOG } from './waiting';
import { optedOut } from './opt-outs';
import { awaitCampaignText, contactsOf, expectedText, onlyCampaign } from './campaign-runs';

/** Pausing, resuming and cancelling a running campaign: who was left, and that they wait. */

/** How many send intervals a paused or cancelled campaign is watched for a text that must not go out. */
const QUIET_INTERVALS = 3;

/** Pauses or cancels once the first `count` contacts (list order) have their text on the handset. */
async function interruptAfter(world: Phase2World, count: number, action: 'pause' | 'cancel'): Promise<void> {
  const run = onlyCampaign(world);
  const contacts = contactsOf(world, run);
  await Promise.all(contacts.slice(0, count).map((c) => awaitCampaignText(world, run, c)));
  const before = run.latest;
  run.latest = await world.customer(run.customer).api.changeCampaign(run.latest.id, action);
  const { stats: figures } = run.latest;
  expect(run.latest.status, `status of "${run.name}" after ${action}`).to.equal(
    action === 'pause' ? 'paused' : 'cancelled',
  );
  const left = action === 'pause' ? figures.pending : figures.cancelled;
  expect(left, `contacts still to be texted when ${action}d`).to.be.above(
    0,
    'the campaign finished before it could be interrupted: slow its rate',
  );
  expect(left, `contacts still to be texted when ${action}d`).to.be.at.most(contacts.length - count);
  // Who is still waiting is what the network saw, not the platform's figure: once the texts the
  // platform had already handed over have reached the network (at most a send interval), the
  // contacts without a submit are the ones not yet texted, and they must number what it says.
  const submitted = (c: ListedContact): boolean =>
    world.mobileNetwork.submits
      .all()
      .some((s) => s.to === c.number && s.text === expectedText(world, run, c));
  const handedOver = contacts.length - left;
  await world.mobileNetwork.submits.waitFor(
    () => contacts.filter(submitted).length >= handedOver,
    bound(
      world,
      `the ${handedOver} texts "${run.name}" had handed over when ${action}d to reach the network`,
      {
        lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
      },
    ),
  );
  run.notYetTexted = contacts.filter((c) => !submitted(c));
  attachJson(world, `Campaign before and after ${action}`, {
    before,
    after: run.latest,
    notYetTextedAtTheNetwork: run.notYetTexted.map((c) => c.person ?? c.number),
  });
  expect(
    run.notYetTexted.length,
    `contacts the network has no text for after "${run.name}" was ${action}d, vs the platform's ` +
      `${action === 'pause' ? 'pending' : 'cancelled'} figure (${left}); texted: ${contacts.length - run.notYetTexted.length} of ${contacts.length}`,
  ).to.equal(left);
}

/** When {string} pauses the campaign as soon as {int} contacts have received it */
export async function pauseCampaignAfter(world: Phase2World, customerName: string, count: number) {
  expect(onlyCampaign(world).customer, 'whose campaign').to.equal(customerName);
  await interruptAfter(world, count, 'pause');
}

/** When {string} cancels the campaign as soon as {int} contacts have received it */
export async function cancelCampaignAfter(world: Phase2World, customerName: string, count: number) {
  expect(onlyCampaign(world).customer, 'whose campaign').to.equal(customerName);
  await interruptAfter(world, count, 'cancel');
}

/** Then nobody else is texted while the campaign stays paused / is cancelled */
export async function expectNobodyElseTextedWhileHeld(world: Phase2World) {
  const run = onlyCampaign(world);
  const waiting = new Set((run.notYetTexted ?? []).map((c) => c.number));
  const quietMs = Math.ceil((QUIET_INTERVALS * 1000) / run.latest.ratePerSecond);
  // The time the campaign would need for a few more texts at its own rate: any submit to a
  // contact still waiting in that time is the campaign sending when it must not.
  await world.mobileNetwork.submits.expectNone((s) => waiting.has(s.to), {
    duringMs: quietMs,
    unexpected: `While "${run.name}" is ${run.latest.status}, the mobile network got a text for a contact not yet texted`,
    lookAt: describeEvidence(world, [EVIDENCE.SMPP, PLATFORM_LOG]),
  });
  const now = await world.customer(run.customer).api.getCampaign(run.latest.id);
  expect(now.status, `status of "${run.name}" ${quietMs} ms later`).to.equal(run.latest.status);
  expect(now.stats.pending + now.stats.cancelled, 'contacts not texted').to.equal(waiting.size);
}

/** When {string} resumes the campaign */
export async function resumeCampaign(world: Phase2World, customerName: string) {
  const run = onlyCampaign(world);
  expect(run.customer, 'whose campaign').to.equal(customerName);
  run.resumeRequestedAt = Date.now();
  run.latest = await world.customer(customerName).api.changeCampaign(run.latest.id, 'resume');
  expect(run.latest.status, `status of "${run.name}" once resumed`).to.equal('running');
}

/** Then the contacts not texted before the pause receive it only after it was resumed */
export async function expectTheRestTextedOnlyAfterResume(world: Phase2World) {
  const run = onlyCampaign(world);
  const resumedAt = run.resumeRequestedAt;
  if (resumedAt === undefined) throw new Error('The campaign was not resumed in this scenario.');
  const waiting = (run.notYetTexted ?? []).filter((c) => !optedOut(world, run, c));
  expect(waiting, 'contacts left at the pause who should still get it').to.have.length.above(0);
  for (const contact of waiting) {
    const sms = await awaitCampaignText(world, run, contact);
    expect(
      sms.receivedAt,
      `when ${contact.person ?? contact.number}'s text arrived vs the resume (${resumedAt})`,
    ).to.be.at.least(resumedAt);
  }
}

/** Then the campaign can be neither resumed nor started again, as it is cancelled */
export async function expectCancelledCampaignStaysCancelled(world: Phase2World) {
  const run = onlyCampaign(world);
  for (const action of ['resume', 'start'] as const) {
    const response = await world.customer(run.customer).api.raw({
      method: 'POST',
      path: `/v1/campaigns/${run.latest.id}/${action}`,
      refusal: { what: `a ${action} of a cancelled campaign`, by: 'the platform' },
    });
    expect(response.status, `${action} of the cancelled campaign (see "${EVIDENCE.HTTP}")`).to.equal(409);
    expect((response.body as { detail?: string }).detail, 'the explanation').to.include('cancelled');
  }
}
