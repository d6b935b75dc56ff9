import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Phase2World, SuspectText } from '../world/world';
import type { SpamFilterSettings } from '../world/http/api-client';
import { SmppCommandError } from '../world/smpp/smpp-session';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber, sendText } from './messaging';
import { connectOverSmpp, session } from './smpp';
import { expectNothingElseArrived } from './texts';
import { runCampaignToEachOfThem } from './campaigns';
import { bound, PLATFORM_LOG } from './waiting';

/**
 * The spam filter as customers meet it (TEST-INT-052): texts that break one of its rules, sent
 * through the API or over SMPP, and what each channel, the webhook, the API's record and the
 * handsets then show. The rules' inputs (blocked domains, phrases, protected sender ids, the
 * velocity limit) are read from the platform's settings, never written into the suite.
 */

export type SuspectKind = 'blocked-link' | 'blocked-link-long' | 'phishing-phrase' | 'unregistered-sender';
export type Channel = 'api' | 'smpp';

const KIND_WORDS: Record<SuspectKind, string> = {
  'blocked-link': 'a text with a link to a blocked site',
  'blocked-link-long': 'a long text (several parts) with a link to a blocked site',
  'phishing-phrase': 'a text with a phishing phrase',
  'unregistered-sender': "a text from a brand's sender name the customer is not registered for",
};
const CHANNEL_WORDS: Record<SuspectText['channel'], string> = {
  api: 'through the API',
  smpp: 'over SMPP',
  campaign: 'in a campaign',
};
/** What the SMSC answers a submit_sm its spam filter refuses (as a Jasmin interceptor would). */
const SMPP_SPAM_STATUS = 'ESME_RSUBMITFAIL';

async function spamSettings(world: Phase2World): Promise<SpamFilterSettings> {
  const spam = (await world.platformSettings()).security?.spam;
  if (!spam)
    throw new Error(
      "The target's GET /ops/v1/settings publishes no security.spam (blocked link domains, phishing phrases, " +
        'protected sender ids, velocity limit): the scenario cannot know which texts the filter must refuse.',
    );
  return spam;
}

/** A text that breaks exactly one rule, varied from the setting as a spammer would (case, spacing, subdomains). */
function suspect(
  spam: SpamFilterSettings,
  kind: SuspectKind,
  customerId: string,
  ownNumber: string,
): { from: string; text: string } {
  const ref = randomBytes(3).toString('hex');
  switch (kind) {
    case 'blocked-link':
      return {
        from: ownNumber,
        text: `You have won! Claim your reward at https://rewards.${first(spam.blockedLinkDomains, 'blocked link domain')}/c/${ref}`,
      };
    case 'blocked-link-long': {
      const link = `https://rewards.${first(spam.blockedLinkDomains, 'blocked link domain')}/c/${ref}`;
      // Past one part (160 GSM characters): over SMPP it travels as a concatenated set.
      return {
        from: ownNumber,
        text: `You have won! ${'Thank you for being a loyal customer. '.repeat(5)}Claim your reward at ${link}`,
      };
    }
    case 'phishing-phrase': {
      const phrase = first(spam.phishingPhrases, 'phishing phrase');
      return {
        from: ownNumber,
        text: `Dear customer, ${phrase.toUpperCase().split(' ').join('  ')}! Ref ${ref}`,
      };
    }
    case 'unregistered-sender': {
      const brand = spam.protectedSenderIds.find((p) => !p.customerIds.includes(customerId));
      if (!brand)
        throw new Error('The spam settings list no protected sender id this customer is not registered for.');
      return { from: brand.senderId, text: `Your refund is being processed, ref ${ref}` };
    }
  }
}

function first(values: string[], what: string): string {
  const value = values[0];
  if (value === undefined)
    throw new Error(`The spam settings list no ${what}: nothing to try the filter with.`);
  return value;
}

/** When {string} sends {person} {suspect} {channel} */
export async function sendSuspectText(
  world: Phase2World,
  customerName: string,
  personName: string,
  kind: SuspectKind,
  channel: Channel,
): Promise<void> {
  const customer = world.customer(customerName);
  const { from, text } = suspect(
    await spamSettings(world),
    kind,
    customer.id,
    customerNumber(world, customerName),
  );
  const to = world.person(personName).number;
  const sent: SuspectText = {
    customer: customerName,
    channel,
    from,
    to,
    text,
    breaks: kind === 'blocked-link-long' ? 'blocked-link' : kind,
    answer: { smppStatus: 'none' },
  };
  if (channel === 'api') {
    const response = await customer.api.raw({
      method: 'POST',
      path: '/v1/messages',
      json: { from, to, text },
      refusal: { what: KIND_WORDS[kind], by: 'the platform' },
    });
    sent.answer = { status: response.status, body: response.body, requestId: response.requestId };
  } else {
    if (!world.messaging.smpp) await connectOverSmpp(world, customerName);
    sent.answer = await session(world)
      .submit({ source: from, destination: to, text, registeredDelivery: true })
      .then(
        ({ messageId }) => ({ smppStatus: 'ESME_ROK', messageId }),
        (error: unknown) => {
          if (error instanceof SmppCommandError) return { smppStatus: error.statusName };
          throw error;
        },
      );
  }
  (world.messaging.suspects ??= []).push(sent);
}

/** When {string} sends the same text to one more person than a new customer may reach with it in a short time */
export async function sprayTheSameText(world: Phase2World, customerName: string): Promise<void> {
  const { velocity } = await spamSettings(world);
  const customer = world.customer(customerName);
  const from = customerNumber(world, customerName);
  const text = `Great offer just for you, today only (${randomBytes(3).toString('hex')})`;
  const suspects = (world.messaging.suspects ??= []);
  const started = Date.now();
  for (let n = 1; n <= velocity.maxRecipients + 1; n += 1) {
    const to = world.newHandset('deliver');
    const beyond = n > velocity.maxRecipients;
    const response = await customer.api.raw({
      method: 'POST',
      path: '/v1/messages',
      json: { from, to, text },
      ...(beyond
        ? {
            refusal: {
              what: `the same text to recipient ${n} of a new customer`,
              by: 'the platform' as const,
            },
          }
        : {}),
    });
    suspects.push({
      customer: customerName,
      channel: 'api',
      from,
      to,
      text,
      breaks: beyond ? 'velocity' : null,
      answer: response,
    });
  }
  const elapsedMs = Date.now() - started;
  expect(
    elapsedMs,
    `time the ${velocity.maxRecipients + 1} sends took: they must all fall in the velocity window`,
  ).to.be.below(velocity.windowMs);
}

/** When {string} sends {person} a text that shares words with a phishing phrase */
export async function sendLookalikeOfAPhishingPhrase(
  world: Phase2World,
  customerName: string,
  personName: string,
): Promise<void> {
  const words = first((await spamSettings(world)).phishingPhrases, 'phishing phrase').split(/\s+/);
  // Every word of the phrase, in its order, but never together: what an honest reminder says.
  const text = `Reminder: please ${words[0]} the delivery address in ${words.slice(1).join(' new ')} settings`;
  await sendText(world, customerName, customerNumber(world, customerName), personName, text);
}

function refused(world: Phase2World): SuspectText[] {
  const all = (world.messaging.suspects ?? []).filter((s) => s.breaks !== null);
  if (all.length === 0)
    throw new Error('No text of this scenario was meant to be refused: a When step must send one.');
  return all;
}

/** Then the platform refuses it on the channel it came from, naming the rule it broke */
export function expectRefusedOnItsChannel(world: Phase2World): void {
  for (const s of refused(world)) {
    const what = `${s.breaks} text to ${s.to} ${CHANNEL_WORDS[s.channel]}`;
    if ('status' in s.answer) {
      expect(s.answer.status, `HTTP status for the ${what} (see "${EVIDENCE.HTTP}")`).to.equal(422);
      expect(
        s.answer.body,
        `problem for the ${what}: the rule it broke and the rejected message's id`,
      ).to.include({ rule: s.breaks });
      expect(
        (s.answer.body as { messageId?: unknown }).messageId,
        `messageId in the problem for the ${what}`,
      ).to.be.a('string');
    } else if ('smppStatus' in s.answer) {
      expect(s.answer.smppStatus, `submit_sm_resp status for the ${what} (see "${EVIDENCE.SMPP}")`).to.equal(
        SMPP_SPAM_STATUS,
      );
    } else {
      throw new Error(`The ${what} had no channel to answer on: check the campaign's report instead.`);
    }
  }
}

/** Then {string}'s webhook reports it rejected, and the API shows it rejected as spam with its rule */
export async function expectRecordedAsRejected(world: Phase2World, customerName: string): Promise<void> {
  const customer = world.customer(customerName);
  const webhook = customer.webhook;
  if (!webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  for (const s of refused(world)) {
    const event = await world.env.webhooks.waitForEvent(
      webhook.path,
      (e) =>
        e.type === 'message.rejected' &&
        (e.data as { to?: string; text?: string }).to === s.to &&
        (e.data as { text?: string }).text === s.text,
      bound(
        world,
        `a message.rejected report for the ${s.breaks} text to ${s.to} at "${customerName}"'s webhook`,
        {
          lookAt: [EVIDENCE.WEBHOOK, PLATFORM_LOG],
        },
      ),
    );
    const id = (event.data as { id: string }).id;
    if ('status' in s.answer)
      expect(id, 'the rejected message the webhook reports vs the one the API named').to.equal(
        (s.answer.body as { messageId?: string }).messageId,
      );
    const stored = await customer.api.getMessage(id);
    expect(stored, `message ${id} as the API shows it`).to.deep.include({
      from: s.from,
      to: s.to,
      text: s.text,
      status: 'rejected',
      errorCode: `spam:${s.breaks}`,
    });
  }
}

/** Then no phone ever receives a refused text */
export async function expectRefusedNeverArrive(world: Phase2World): Promise<void> {
  for (const s of refused(world))
    await expectNothingElseArrived(
      world,
      { api: world.customer(s.customer).api, number: customerNumber(world, s.customer) },
      s.to,
      [],
      `the refused ${s.breaks} text`,
    );
}

/** Then everyone up to the limit receives the text */
export async function expectAcceptedOnesArrive(world: Phase2World): Promise<void> {
  const accepted = (world.messaging.suspects ?? []).filter((s) => s.breaks === null);
  expect(accepted.length, 'texts of this scenario that had to go through').to.be.above(0);
  for (const s of accepted) {
    expect(
      'status' in s.answer ? s.answer.status : 'smppStatus' in s.answer ? s.answer.smppStatus : s.answer,
      `answer to the text to ${s.to}, within the limit`,
    ).to.equal(202);
    await world.mobileNetwork.handset(s.to).inbox.waitFor(
      (sms) => sms.text === s.text,
      bound(world, `the text "${s.text}" on ${s.to}, sent within the limit`, {
        lookAt: [EVIDENCE.SMPP, PLATFORM_LOG],
      }),
    );
  }
}

/** When {string} sends {person} a text {sendingChannel} (a plain text, no rule broken) */
export async function sendPlainText(
  world: Phase2World,
  customerName: string,
  personName: string,
  channel: Channel,
): Promise<void> {
  const person = world.person(personName);
  person.mobileTextsSeen = world.mobileNetwork.handset(person.number).inbox.all().length;
  const from = customerNumber(world, customerName);
  const text = `Your statement is ready (${randomBytes(3).toString('hex')})`;
  const sent: SuspectText = {
    customer: customerName,
    channel,
    from,
    to: person.number,
    text,
    breaks: 'opted-out',
    answer: { smppStatus: 'none' },
  };
  if (channel === 'api') {
    const response = await world.customer(customerName).api.raw({
      method: 'POST',
      path: '/v1/messages',
      json: { from, to: person.number, text },
      refusal: { what: `a text to ${personName}, who opted out`, by: 'the platform' },
    });
    sent.answer = { status: response.status, body: response.body };
  } else {
    if (!world.messaging.smpp) await connectOverSmpp(world, customerName);
    sent.answer = await session(world)
      .submit({ source: from, destination: person.number, text, registeredDelivery: true })
      .then(
        ({ messageId }) => ({ smppStatus: 'ESME_ROK', messageId }),
        (error: unknown) => {
          if (error instanceof SmppCommandError) return { smppStatus: error.statusName };
          throw error;
        },
      );
  }
  (world.messaging.suspects ??= []).push(sent);
}

function theOptedOutText(world: Phase2World, personName: string): SuspectText {
  const number = world.person(personName).number;
  const sent = (world.messaging.suspects ?? []).find((s) => s.breaks === 'opted-out' && s.to === number);
  if (!sent)
    throw new Error(`No text to ${personName} was sent in this scenario: a When step must send one.`);
  return sent;
}

/** Then the platform refuses it because {person} opted out */
export function expectRefusedAsOptedOut(world: Phase2World, personName: string): void {
  const sent = theOptedOutText(world, personName);
  const what = `text to ${personName} (${sent.to}), who opted out, ${CHANNEL_WORDS[sent.channel]}`;
  if ('status' in sent.answer) {
    expect(sent.answer.status, `HTTP status for the ${what} (see "${EVIDENCE.HTTP}")`).to.equal(422);
    const errors = (sent.answer.body as { errors?: Array<{ field: string; message: string }> }).errors ?? [];
    expect(
      errors.find((e) => e.field === 'to')?.message,
      `the problem's explanation for "to" of the ${what}`,
    ).to.match(/opted out/);
  } else {
    // SMPP has no "opted out" status: the destination is refused, as carriers refuse a barred one.
    expect(
      'smppStatus' in sent.answer ? sent.answer.smppStatus : sent.answer,
      `submit_sm_resp status for the ${what} (see "${EVIDENCE.SMPP}")`,
    ).to.equal('ESME_RINVDSTADR');
  }
}

/** Then {person}'s phone receives nothing more from {string} */
export async function expectNothingMoreFor(
  world: Phase2World,
  personName: string,
  customerName: string,
): Promise<void> {
  const person = world.person(personName);
  // A later text from the same number to another phone: once it has arrived, anything the
  // platform had accepted before it has been offered to the network too.
  const control = world.newHandset('deliver');
  await expectNothingElseArrived(
    world,
    { api: world.customer(customerName).api, number: customerNumber(world, customerName) },
    control,
    [],
    `the refused text to ${personName}`,
  );
  const inbox = world.mobileNetwork.handset(person.number).inbox.all();
  expect(
    inbox.slice(person.mobileTextsSeen ?? 0).map((sms) => sms.text),
    `texts on ${personName}'s phone after the refused one was sent (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
}

/** When {string} runs a campaign to everyone with a phishing phrase in its wording */
export async function runPhishingCampaign(world: Phase2World, customerName: string): Promise<void> {
  const customer = world.customer(customerName);
  const { from, text } = suspect(
    await spamSettings(world),
    'phishing-phrase',
    customer.id,
    customerNumber(world, customerName),
  );
  const name = 'Account check';
  await runCampaignToEachOfThem(world, customerName, name, text);
  for (const person of [...world.people.values()].filter((p) => p.kind === 'mobile'))
    (world.messaging.suspects ??= []).push({
      customer: customerName,
      channel: 'campaign',
      from,
      to: person.number,
      text,
      breaks: 'phishing-phrase',
      answer: { campaign: name },
    });
}
