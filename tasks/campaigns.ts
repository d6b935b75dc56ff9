import type { CampaignRun, ListedContact, Phase2World, UploadedContactList } from '../world/world';
import type { Campaign } from '../world/http/api-client';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE } from '../reporting/evidence';
import { eventually } from './waiting';

/** Campaigns and contact lists of a scenario, and what their contacts' handsets show. */

/** The rows the platform accepted, in list order: every row its report does not skip. */
export function acceptedContacts(uploaded: UploadedContactList): ListedContact[] {
  const skipped = new Set(uploaded.list.rejectedRows.map((r) => r.line));
  return uploaded.rows.filter((row) => !skipped.has(row.line));
}

export function listNamed(world: Phase2World, name: string): UploadedContactList {
  const found = world.contactLists.get(name);
  if (!found) throw new Error(`No contact list "${name}" in this scenario: a step must upload it.`);
  return found;
}

export function onlyCampaign(world: Phase2World): CampaignRun {
  const runs = [...world.campaigns.values()];
  if (runs.length !== 1 || !runs[0])
    throw new Error(`Expected one campaign in this scenario, found ${runs.length}.`);
  return runs[0];
}

export function campaignNamed(world: Phase2World, name: string): CampaignRun {
  const found = world.campaigns.get(name);
  if (!found) throw new Error(`No campaign "${name}" in this scenario: a step must create it.`);
  return found;
}

/** The text a contact should get: the template with their row's values. */
export function expectedText(world: Phase2World, run: CampaignRun, contact: ListedContact): string {
  const body = world.templates.get(run.templateName)?.body ?? '';
  return body.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => contact.values[name] ?? `{{${name}}}`);
}

export function contactsOf(world: Phase2World, run: CampaignRun): ListedContact[] {
  return acceptedContacts(listNamed(world, run.listName));
}

/** The campaign's texts on a contact's handset: from the campaign's sender, reading as the template made for them. */
export function campaignTexts(world: Phase2World, run: CampaignRun, contact: ListedContact): HandsetSms[] {
  return world.env.carrier
    .handset(contact.number)
    .inbox.filter((sms) => sms.from === run.latest.from && sms.text === expectedText(world, run, contact));
}

export function optedOut(world: Phase2World, contact: ListedContact): boolean {
  return world.optedOut.has(contact.number);
}

/** Contacts whose network delivers and who have not opted out: they must each get the text. */
export function reachable(world: Phase2World, run: CampaignRun): ListedContact[] {
  return contactsOf(world, run).filter(
    (c) => !optedOut(world, c) && world.env.carrier.behaviourOf(c.number) !== 'undeliverable',
  );
}

export async function awaitCampaignText(
  world: Phase2World,
  run: CampaignRun,
  contact: ListedContact,
): Promise<HandsetSms> {
  const text = expectedText(world, run, contact);
  return world.env.carrier
    .handset(contact.number)
    .inbox.waitFor((sms) => sms.from === run.latest.from && sms.text === text, {
      awaited: `the campaign "${run.name}" text "${text}" on ${contact.person ?? contact.number}'s phone`,
      timeoutMs: world.env.config.waitMs + Math.max(0, (run.startAt ?? 0) - Date.now()),
      lookAt: `the "${EVIDENCE.SMPP}" attachment and ${world.env.platformLog}`,
    });
}

export function isOptOutNotice(sms: HandsetSms): boolean {
  return /no more texts|texts from .* again/i.test(sms.text);
}

/** Waits until no contact is pending or awaiting a report: the campaign's figures are final. */
export async function campaignSettled(world: Phase2World, run: CampaignRun): Promise<Campaign> {
  run.latest = await eventually(
    () => world.customer(run.customer).api.getCampaign(run.latest.id),
    (c) =>
      (c.status === 'completed' || c.status === 'cancelled') && c.stats.sent === 0 && c.stats.pending === 0,
    {
      awaited: `campaign "${run.name}" to finish with every report in (no contact pending or sent)`,
      timeoutMs: world.env.config.waitMs,
      lookAt: `the "${EVIDENCE.HTTP}" attachment and ${world.env.platformLog}`,
    },
  );
  return run.latest;
}
