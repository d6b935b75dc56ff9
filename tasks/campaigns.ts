import type { CampaignRun, ListedContact, Phase2World } from '../world/world';
import type { Campaign, CampaignStats } from '../world/http/api-client';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { customerNumber } from './messaging';
import { consistencyCheck, recordMetric } from '../reporting/metrics';
import { bound, describeEvidence, eventually, PLATFORM_LOG } from './waiting';
import { acceptedContacts, listNamed, uploadList } from './contact-lists';
import { optedOut, isOptOutNotice } from './opt-outs';

function onlyCampaign(world: Phase2World): CampaignRun {
  const runs = [...world.customers.values()].flatMap((c) => [...c.campaigns.values()]);
  if (runs.length !== 1 || !runs[0])
    throw new Error(`Expected one campaign in this scenario, found ${runs.length}.`);
  return runs[0];
}

export function campaignNamed(world: Phase2World, name: string): CampaignRun {
  const found = [...world.customers.values()].find((c) => c.campaigns.has(name))?.campaigns.get(name);
  if (!found) throw new Error(`No campaign "${name}" in this scenario: a step must create it.`);
  return found;
}

/** The text a contact should get: the template with their row's values. */
export function expectedText(world: Phase2World, run: CampaignRun, contact: ListedContact): string {
  const body = world.customer(run.customer).templates.get(run.templateName)?.body ?? '';
  return body.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => contact.values[name] ?? `{{${name}}}`);
}

export function contactsOf(world: Phase2World, run: CampaignRun): ListedContact[] {
  return acceptedContacts(listNamed(world, run.listName));
}

/** The campaign's texts on a contact's handset: from the campaign's sender, reading as the template made for them. */
function campaignTexts(world: Phase2World, run: CampaignRun, contact: ListedContact): HandsetSms[] {
  return world.mobileNetwork
    .handset(contact.number)
    .inbox.filter((sms) => sms.from === run.latest.from && sms.text === expectedText(world, run, contact));
}

/** Contacts whose network delivers and who have not opted out: they must each get the text. */
export function reachable(world: Phase2World, run: CampaignRun): ListedContact[] {
  return contactsOf(world, run).filter(
    (c) => !optedOut(world, run, c) && world.mobileNetwork.behaviourOf(c.number) !== 'undeliverable',
  );
}

async function awaitCampaignText(
  world: Phase2World,
  run: CampaignRun,
  contact: ListedContact,
): Promise<HandsetSms> {
  const text = expectedText(world, run, contact);
  return world.mobileNetwork
    .handset(contact.number)
    .inbox.waitFor(
      (sms) => sms.from === run.latest.from && sms.text === text,
      bound(
        world,
        `the campaign "${run.name}" text "${text}" on ${contact.person ?? contact.number}'s phone`,
        { lookAt: [EVIDENCE.SMPP, PLATFORM_LOG], extraMs: Math.max(0, (run.startAt ?? 0) - Date.now()) },
      ),
    );
}

/** Waits until no contact is pending or awaiting a report: the campaign's figures are final. */
async function campaignSettled(world: Phase2World, run: CampaignRun): Promise<Campaign> {
  run.latest = await eventually(
    world,
    `campaign "${run.name}" to finish with every report in (no contact pending or sent)`,
    () => world.customer(run.customer).api.getCampaign(run.latest.id),
    (c) =>
      (c.status === 'completed' || c.status === 'cancelled') && c.stats.sent === 0 && c.stats.pending === 0,
    { lookAt: [EVIDENCE.HTTP, PLATFORM_LOG] },
  );
  return run.latest;
}
/** How many send intervals a paused or cancelled campaign is watched for a text that must not go out. */
const QUIET_INTERVALS = 3;

// ---- campaigns ----

export async function createCampaign(
  world: Phase2World,
  customerName: string,
  name: string,
  templateName: string,
  listName: string,
  extra: { ratePerSecond?: number; startAt?: string },
): Promise<CampaignRun> {
  const template = world.customer(customerName).templates.get(templateName);
  if (!template)
    throw new Error(`No template "${templateName}" in this scenario: a Given step must create it.`);
  const campaign = await world.customer(customerName).api.createCampaign({
    name,
    from: customerNumber(world, customerName),
    templateId: template.id,
    contactListId: listNamed(world, listName).list.id,
    ...extra,
  });
  expect(campaign.status, `status of campaign "${name}" when created`).to.equal(
    extra.startAt ? 'scheduled' : 'draft',
  );
  expect(campaign.stats, `statistics of "${name}" before it sends anything`).to.deep.equal(
    stats({
      contacts: listNamed(world, listName).list.contacts,
      pending: listNamed(world, listName).list.contacts,
    }),
  );
  const run: CampaignRun = { name, customer: customerName, templateName, listName, latest: campaign };
  world.customer(customerName).campaigns.set(name, run);
  return run;
}

export async function startCampaign(world: Phase2World, run: CampaignRun): Promise<void> {
  run.startRequestedAt = Date.now();
  run.latest = await world.customer(run.customer).api.changeCampaign(run.latest.id, 'start');
  expect(run.latest.status, `status of "${run.name}" once started`).to.equal('running');
}

/** When {string} starts the campaign {string} with the template {string} and the list {string}, sending {int} texts a second */
export async function startCampaignAtRate(
  world: Phase2World,
  customerName: string,
  name: string,
  template: string,
  list: string,
  rate: number,
) {
  const run = await createCampaign(world, customerName, name, template, list, { ratePerSecond: rate });
  expect(run.latest.ratePerSecond, `rate of "${name}"`).to.equal(rate);
  await startCampaign(world, run);
}

/** When {string} schedules the campaign {string} with the template {string} and the list {string} to start {int} second(s) from now */
export async function scheduleCampaign(
  world: Phase2World,
  customerName: string,
  name: string,
  template: string,
  list: string,
  seconds: number,
) {
  const startAt = new Date(Date.now() + seconds * 1000).toISOString();
  const run = await createCampaign(world, customerName, name, template, list, { startAt });
  expect(run.latest.startAt, `start time of "${name}"`).to.equal(startAt);
  run.startAt = Date.parse(startAt);
  run.startRequestedAt = run.startAt;
}

/** Then the campaign is scheduled, and nobody has been texted before its start time */
export async function expectScheduledAndNobodyTextedYet(world: Phase2World) {
  const run = onlyCampaign(world);
  const campaign = await world.customer(run.customer).api.getCampaign(run.latest.id);
  if (run.startAt === undefined)
    throw new Error(`The campaign "${run.name}" was not scheduled by this scenario.`);
  // Only meaningful while the start is still ahead: a slow step would make it vacuous.
  expect(Date.now(), 'this check runs before the scheduled start').to.be.below(run.startAt);
  expect(campaign.status, `status of "${run.name}" before its start time`).to.equal('scheduled');
  expect(campaign.stats.pending, 'contacts still to be texted').to.equal(campaign.stats.contacts);
  for (const contact of contactsOf(world, run))
    expect(
      campaignTexts(world, run, contact),
      `campaign texts on ${contact.number} before the start`,
    ).to.deep.equal([]);
}

/** Then each contact whose phone can be reached receives exactly one text, filled in from their own row */
export async function expectEachReachableContactTextedOnce(world: Phase2World) {
  const run = onlyCampaign(world);
  const contacts = reachable(world, run);
  expect(contacts, 'contacts who should get the text').to.have.length.above(0);
  await Promise.all(contacts.map((c) => awaitCampaignText(world, run, c)));
  // Exactly once: counted after every report is in, so a second copy would have arrived by then.
  await campaignSettled(world, run);
  for (const contact of contacts) {
    const texts = world.mobileNetwork
      .handset(contact.number)
      .inbox.filter((sms) => sms.from === run.latest.from && !isOptOutNotice(sms));
    expect(
      texts.map((s) => s.text),
      `texts from "${run.customer}" on ${contact.person ?? contact.number}'s phone`,
    ).to.deep.equal([expectedText(world, run, contact)]);
  }
}

/** Then {person} receives nothing from the campaign, and a text to her/him through the API is refused because she/he opted out */
export async function expectOptedOutPersonNotTexted(world: Phase2World, name: string) {
  const run = onlyCampaign(world);
  const contact = contactsOf(world, run).find((c) => c.person === name);
  if (!contact) throw new Error(`${name} is not on the campaign's list.`);
  // The list is texted in order and the campaign has settled: a text to her would have come by now.
  await campaignSettled(world, run);
  const texts = world.mobileNetwork
    .handset(contact.number)
    .inbox.all()
    .filter((s) => !isOptOutNotice(s));
  expect(
    texts.map((s) => s.text),
    `texts on ${name}'s phone besides the STOP confirmation`,
  ).to.deep.equal([]);
  const send = await world.customer(run.customer).api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: run.latest.from, to: contact.number, text: 'One more offer' },
    refusal: { what: `a text to ${name}, who texted STOP,`, by: 'the platform' },
  });
  expect(send.status, `sending to ${name} after her STOP (see "${EVIDENCE.HTTP}")`).to.equal(422);
  const errors = (send.body as { errors?: Array<{ field: string; message: string }> }).errors ?? [];
  expect(
    errors.map((e) => e.field),
    'fields the refusal names',
  ).to.deep.equal(['to']);
  expect(errors[0]?.message, 'the explanation').to.include('opted out');
}

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
  attachJson(world, 'Campaign statistics vs ground truth', {
    campaign: run.latest,
    handsets: {
      received: onHandsets,
      unreachable,
      optedOut: contacts.filter((c) => optedOut(world, run, c)).length,
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
    expect(run.latest.stats.optedOut, 'opted out: contacts who replied STOP').to.equal(
      contacts.filter((c) => optedOut(world, run, c)).length,
    );
  });
  expect(run.latest.stats, `statistics of "${run.name}"`).to.deep.equal(expected);
}

/** How long the platform's SMSC may take to hand an accepted text on to the network, on loopback. */
const HAND_OVER_MS = 25;
/** How late a timer may fire on a loaded 2-core machine. */
const ON_TIME_SLACK_MS = 100;

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

/** Then the campaign's texts reached the mobile network no faster than {int} a second */
export async function expectCampaignPace(world: Phase2World, perSecond: number) {
  const run = onlyCampaign(world);
  expect(run.latest.ratePerSecond, `rate of "${run.name}"`).to.equal(perSecond);
  const { campaigns: pacing } = await world.platformSettings();
  if (!pacing)
    throw new Error("The target's GET /ops/v1/settings reports no campaign pacing (campaigns.tickMs).");
  const contacts = contactsOf(world, run);
  const times = world.mobileNetwork.submits
    .filter((s) => contacts.some((c) => c.number === s.to && s.text === expectedText(world, run, c)))
    .map((s) => s.at)
    .sort((a, b) => a - b);
  attachJson(world, `"${run.name}" at the network`, { submittedAt: times, perSecond, tickMs: pacing.tickMs });
  // Text k after text i is due (k−i) intervals later; the sender looks every tick, and the
  // SMSC hands a text on within moments, so it may come a tick and a few ms early, no more.
  const intervalMs = 1000 / perSecond;
  const earlyMs = pacing.tickMs + HAND_OVER_MS;
  for (let i = 0; i < times.length; i += 1)
    for (let j = i + 1; j < times.length; j += 1)
      expect(
        (times[j] ?? 0) - (times[i] ?? 0),
        `ms between texts ${i + 1} and ${j + 1} of "${run.name}" at the network: ${j - i} interval(s) of ` +
          `${intervalMs} ms are due (less one ${pacing.tickMs} ms tick and ${HAND_OVER_MS} ms hand-over)`,
      ).to.be.at.least((j - i) * intervalMs - earlyMs);
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

/** Given {string} has scheduled a campaign {string} with the template {string} for tomorrow */
export async function scheduleCampaignForTomorrow(
  world: Phase2World,
  customerName: string,
  name: string,
  templateName: string,
) {
  const template = world.customer(customerName).templates.get(templateName);
  if (!template) throw new Error(`No template "${templateName}" in this scenario.`);
  const number = world.newHandset('deliver');
  const header = ['number', ...template.variables];
  await uploadList(world, customerName, `${name} contacts`, [
    header,
    [number, ...template.variables.map((v) => `${v} value`)],
  ]);
  const startAt = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  await createCampaign(world, customerName, name, templateName, `${name} contacts`, { startAt });
}

/** When {string} cancels the campaign {string} */
export async function cancelCampaign(world: Phase2World, customerName: string, name: string) {
  const run = campaignNamed(world, name);
  run.latest = await world.customer(customerName).api.changeCampaign(run.latest.id, 'cancel');
  expect(run.latest.status, `status of "${name}"`).to.equal('cancelled');
}

/** Then deleting the template {string} is refused because the campaign {string} uses it, and the template stays */
export async function expectTemplateInUseCannotBeDeleted(
  world: Phase2World,
  templateName: string,
  campaignName: string,
) {
  const run = campaignNamed(world, campaignName);
  const template = world.customer(run.customer).templates.get(templateName);
  if (!template) throw new Error(`No template "${templateName}" in this scenario.`);
  const api = world.customer(run.customer).api;
  const response = await api.raw({
    method: 'DELETE',
    path: `/v1/templates/${template.id}`,
    refusal: { what: `deleting "${templateName}", which a campaign uses,`, by: 'the platform' },
  });
  expect(response.status, `deleting "${templateName}" (see "${EVIDENCE.HTTP}")`).to.equal(409);
  expect((response.body as { detail?: string }).detail, 'the explanation names the campaign').to.include(
    run.latest.id,
  );
  expect(await api.getTemplate(template.id), `"${templateName}" read back`).to.deep.equal(template);
}

/** When {string} runs a campaign {string} to each of them reading {string} */
export async function runCampaignToEachOfThem(
  world: Phase2World,
  customerName: string,
  name: string,
  text: string,
) {
  const template = await world.customer(customerName).api.createTemplate({
    name: `${name} wording`,
    body: text,
  });
  world.customer(customerName).templates.set(`${name} wording`, template);
  const people = [...world.people.values()].filter((p) => p.kind === 'mobile');
  await uploadList(world, customerName, `${name} contacts`, [
    ['number'],
    ...people.map((p) => [`${p.name}'s mobile`]),
  ]);
  const run = await createCampaign(world, customerName, name, `${name} wording`, `${name} contacts`, {});
  await startCampaign(world, run);
}

/** Then no contact received it before the scheduled start, and the first received it on time */
export async function expectNobodyTextedBeforeTheStart(world: Phase2World) {
  const run = onlyCampaign(world);
  const startAt = run.startAt;
  if (startAt === undefined)
    throw new Error(`The campaign "${run.name}" was not scheduled by this scenario.`);
  const start = new Date(startAt).toISOString();
  for (const contact of contactsOf(world, run)) {
    for (const sms of campaignTexts(world, run, contact))
      expect(
        sms.receivedAt,
        `when ${contact.person ?? contact.number}'s text arrived vs the scheduled start ${start}`,
      ).to.be.at.least(startAt);
  }
  // On time from the other side too: the sender looks every tick, so the first text reaches the
  // network within a tick (and the hand-over) of the start, not at some later boundary.
  const { campaigns: pacing } = await world.platformSettings();
  if (!pacing)
    throw new Error("The target's GET /ops/v1/settings reports no campaign pacing (campaigns.tickMs).");
  const contacts = contactsOf(world, run);
  const first = Math.min(
    ...world.mobileNetwork.submits
      .filter((s) => contacts.some((c) => c.number === s.to && s.text === expectedText(world, run, c)))
      .map((s) => s.at),
  );
  const latest = pacing.tickMs + HAND_OVER_MS + ON_TIME_SLACK_MS;
  expect(
    first - startAt,
    `ms from the scheduled start ${start} to the campaign's first text at the network (at most a ` +
      `${pacing.tickMs} ms tick, ${HAND_OVER_MS} ms hand-over and ${ON_TIME_SLACK_MS} ms for a loaded machine)`,
  ).to.be.within(0, latest);
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
