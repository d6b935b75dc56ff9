import type { CampaignRun, ListedContact, Phase2World } from '../world/world';
import type { HandsetSms } from '../world/smpp/carrier-smsc';
import { EVIDENCE } from '../reporting/evidence';
import { expect } from 'chai';
import { customerNumber } from './messaging';
import { bound, PLATFORM_LOG } from './waiting';

/** Opt-outs: a person texts STOP to a customer's number and hears no more from it. */

/** The platform's confirmation that a STOP texted to `businessNumber` took effect. */
function isStopConfirmation(sms: HandsetSms, businessNumber: string): boolean {
  return sms.from === businessNumber && /no more texts/i.test(sms.text);
}

/**
 * Whether the contact opted out of the campaign's sender, as their handset saw it: the platform's
 * STOP confirmation from that number is on their phone (not what the suite meant to do).
 */
export function optedOut(world: Phase2World, run: CampaignRun, contact: ListedContact): boolean {
  return world.mobileNetwork
    .handset(contact.number)
    .inbox.all()
    .some((sms) => isStopConfirmation(sms, run.latest.from));
}

export function isOptOutNotice(sms: HandsetSms): boolean {
  return /no more texts|texts from .* again/i.test(sms.text);
}

export async function replyStop(world: Phase2World, name: string, customerName: string): Promise<void> {
  const person = world.person(name);
  const businessNumber = customerNumber(world, customerName);
  await world.mobileNetwork.textFrom(person.number, businessNumber, 'STOP');
  const confirmation = await world.mobileNetwork.handset(person.number).inbox.waitFor(
    (sms) => isStopConfirmation(sms, businessNumber),
    bound(world, `the confirmation of ${name}'s STOP from ${businessNumber}`, {
      lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
    }),
  );
  expect(confirmation.text, `confirmation on ${name}'s phone`).to.include('START');
  // Confirmed on the phone must mean recorded, for this customer and for the number that texted.
  const optOuts = (await world.customer(customerName).api.listOptOuts()).items;
  const recorded = optOuts.map(({ number, source }) => ({ number, source }));
  expect(
    recorded,
    `the platform confirmed ${name}'s STOP (${person.number}) on her/his phone, but "${customerName}"'s ` +
      `opt-outs do not list that number as texted in: ${JSON.stringify(recorded)} (see "${EVIDENCE.HTTP}")`,
  ).to.deep.include({ number: person.number, source: 'sms' });
}
