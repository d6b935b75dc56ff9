import type { CampaignRun, ListedContact, Phase2World } from '../world/world';
import type { Campaign } from '../world/http/api-client';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE } from '../reporting/evidence';
import { bound, eventually, PLATFORM_LOG } from './waiting';
import { acceptedContacts, listNamed } from './contact-lists';
import { optedOut } from './opt-outs';

/** A campaign of this scenario, whom it must text and what each contact's handset got from it. */

export function onlyCampaign(world: Phase2World): CampaignRun {
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
export function campaignTexts(world: Phase2World, run: CampaignRun, contact: ListedContact): HandsetSms[] {
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

export async function awaitCampaignText(
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
export async function campaignSettled(world: Phase2World, run: CampaignRun): Promise<Campaign> {
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
