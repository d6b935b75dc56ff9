import type { CampaignRun, Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { expect } from 'chai';
import { customerNumber } from './messaging';
import { listNamed, uploadList } from './contact-lists';
import { isOptOutNotice } from './opt-outs';
import {
  awaitCampaignText,
  campaignNamed,
  campaignSettled,
  campaignTexts,
  contactsOf,
  expectedText,
  onlyCampaign,
  reachable,
} from './campaign-runs';
import { stats } from './campaign-figures';

/** Creates a campaign and checks it starts out with every contact pending. */
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

/** How long the platform's SMSC may take to hand an accepted text on to the network, on loopback. */
const HAND_OVER_MS = 25;
/** How late a timer may fire on a loaded 2-core machine. */
const ON_TIME_SLACK_MS = 100;

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
