import { expect } from 'chai';
import { PlatformApi, type RawResponse } from '../world/http/api-client';
import { SmppCustomerSession } from '../world/smpp/smpp-session';
import type { CustomerActor, IdentityNotes, Person, Phase2World } from '../world/world';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber } from './messaging';
import { bound, eventually, PLATFORM_LOG } from './waiting';

/**
 * One identity across channels (TEST-INT-050): the operator suspends and resumes a customer and
 * every channel follows within the platform's stated time; API keys rotate and come read-only;
 * webhook signing secrets rotate with an overlap. Bounds come from GET /ops/v1/settings.
 */

type Channel = 'the API' | 'an SMPP bind' | 'a SIP registration';
const CHANNELS: Channel[] = ['the API', 'an SMPP bind', 'a SIP registration'];
/** What a channel answered: "refused: …" or "served". */
type Verdict = string;

function notesOf(customer: CustomerActor): IdentityNotes {
  customer.identity ??= { keys: new Map() };
  return customer.identity;
}

async function identitySettings(world: Phase2World) {
  const identity = (await world.operator.settings()).security?.identity;
  if (!identity)
    throw new Error(
      'GET /ops/v1/settings has no security.identity: the platform states no time for identity changes.',
    );
  return identity;
}

/** The person of the scenario who has a phone on the customer's SIP account. */
function phoneHolderOf(world: Phase2World, customerName: string): Person {
  const holder = [...world.people.values()].find((p) => p.customer === customerName && p.phone);
  if (!holder?.phone)
    throw new Error(`Nobody in this scenario has a phone at "${customerName}": a Given step must give one.`);
  return holder;
}

/** One try on a channel with the customer's own credentials; the answer in words. */
async function tryChannel(world: Phase2World, customerName: string, channel: Channel): Promise<Verdict> {
  const customer = world.customer(customerName);
  if (channel === 'the API') {
    const answer = await customer.api.raw({ method: 'GET', path: '/v1/numbers' });
    return answer.status === 200 ? 'served' : `refused: ${answer.status} ${JSON.stringify(answer.body)}`;
  }
  if (channel === 'an SMPP bind') {
    const session = new SmppCustomerSession();
    try {
      await session.connect({ ...world.env.endpoints.smpp, actor: `${customerName} SMPP client` });
      await session.bind({ ...customer.smpp, mode: 'transceiver' });
      return 'served';
    } catch (error) {
      return `refused: ${(error as Error & { statusName?: string }).statusName ?? (error as Error).message}`;
    } finally {
      await session.close();
    }
  }
  const phone = phoneHolderOf(world, customerName).phone;
  try {
    await phone?.register();
    return 'served';
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  }
}

/** What each channel must answer a suspended customer: the protocol's own refusal. */
const SUSPENDED_ANSWER: Record<Channel, RegExp> = {
  'the API': /^refused: 403 .*suspended/,
  'an SMPP bind': /^refused: ESME_RBINDFAIL$/,
  'a SIP registration': /^refused: .*refused with 403 /,
};

/** When the operator suspends|resumes {string} */
export async function changeSuspension(
  world: Phase2World,
  customerName: string,
  action: 'suspends' | 'resumes',
) {
  const customer = world.customer(customerName);
  const changed =
    action === 'suspends'
      ? await world.operator.suspendCustomer(customer.id)
      : await world.operator.resumeCustomer(customer.id);
  expect(changed.status, `"${customerName}"'s status after the operator ${action} it`).to.equal(
    action === 'suspends' ? 'suspended' : 'active',
  );
  // A suspension the scenario leaves behind must not outlive it (the customer is its own anyway).
  if (action === 'suspends')
    world.onCleanup(async () => {
      if ((await world.operator.getCustomer(customer.id)).status === 'suspended')
        await world.operator.resumeCustomer(customer.id);
    });
}

/**
 * Then within the stated time {string} is refused on the API, at an SMPP bind and at a SIP registration
 * Then {string} is served again on the API, over SMPP and at its phone's SIP registration
 */
export async function expectEveryChannel(
  world: Phase2World,
  customerName: string,
  expected: 'refused' | 'served',
) {
  const { identityChangeEffectiveMs } = await identitySettings(world);
  const answers: string[] = [];
  for (const channel of CHANNELS) {
    const accept = (verdict: Verdict): boolean =>
      expected === 'served' ? verdict === 'served' : SUSPENDED_ANSWER[channel].test(verdict);
    const awaited = `${channel} to have ${expected} "${customerName}" (the platform states ${identityChangeEffectiveMs} ms for identity changes)`;
    const verdict = await eventually(world, awaited, () => tryChannel(world, customerName, channel), accept, {
      within: identityChangeEffectiveMs,
      lookAt: [EVIDENCE.HTTP, EVIDENCE.SMPP, EVIDENCE.SIP, PLATFORM_LOG],
      intervalMs: 100,
    });
    answers.push(`${channel}: ${verdict}`);
  }
  world.attach(answers.join('\n'), { mediaType: 'text/plain', fileName: `every channel ${expected}` });
}

/** When {string} rotates its API key */
export async function rotateApiKey(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const notes = notesOf(customer);
  const rotated = await customer.api.rotateApiKey();
  expect(rotated.access, 'access of the rotated key').to.equal('full');
  notes.keys.set('old', customer.api.apiKey);
  notes.keys.set('new', rotated.apiKey);
  // From now on the customer works with its new key, as its software would after rotating.
  customer.api = new PlatformApi({
    baseUrl: world.env.endpoints.apiUrl,
    apiKey: rotated.apiKey,
    actor: customerName,
  });
}

/** Then {string}'s new key is served and its old key is refused as unknown */
export async function expectNewKeyInOldKeyOut(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const keys = notesOf(customer).keys;
  const withNew = await customer.api.raw({ method: 'GET', path: '/v1/numbers', apiKey: keys.get('new') });
  expect(withNew.status, `HTTP status for "${customerName}"'s new key (see "${EVIDENCE.HTTP}")`).to.equal(
    200,
  );
  const withOld = await customer.api.raw({
    method: 'GET',
    path: '/v1/numbers',
    apiKey: keys.get('old'),
    refusal: { what: 'a request with a rotated-out API key', by: 'the gateway' },
  });
  expectKongRefusal(withOld, 401, 'Invalid authentication credentials', 'the rotated-out key');
}

function expectKongRefusal(response: RawResponse, status: number, message: string, what: string) {
  expect(response.status, `HTTP status for ${what} (see "${EVIDENCE.HTTP}")`).to.equal(status);
  expect(response.body, `gateway answer for ${what}`).to.deep.equal({ message });
}

/** Given {string} gives its reporting tool a read-only API key */
export async function issueReadOnlyKey(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const issued = await customer.api.issueApiKey('read-only');
  expect(issued.access, 'access of the key issued for the reporting tool').to.equal('read-only');
  notesOf(customer).keys.set('reporting tool', issued.apiKey);
}

/** Then the reporting tool can read {string}'s numbers but is refused when it tries to text {person} */
export async function expectReadOnlyReadsNotSends(world: Phase2World, customerName: string, name: string) {
  const customer = world.customer(customerName);
  const apiKey = notesOf(customer).keys.get('reporting tool');
  if (!apiKey) throw new Error(`"${customerName}" has issued no read-only key in this scenario.`);
  const read = await customer.api.raw({ method: 'GET', path: '/v1/numbers', apiKey });
  expect(read.status, `HTTP status of a read with the read-only key (see "${EVIDENCE.HTTP}")`).to.equal(200);
  const own = customerNumber(world, customerName);
  expect(
    (read.body as { items: Array<{ number: string }> }).items.map((n) => n.number),
    `"${customerName}"'s numbers as the reporting tool reads them`,
  ).to.include(own);
  const send = await customer.api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: own, to: world.person(name).number, text: 'sent by the reporting tool' },
    apiKey,
    refusal: { what: 'a text sent with a read-only API key', by: 'the gateway' },
  });
  expect(send.status, `HTTP status of a text sent with the read-only key (see "${EVIDENCE.HTTP}")`).to.equal(
    403,
  );
  expect((send.body as { detail?: string }).detail ?? '', 'why the text was refused').to.match(/read-only/);
}

/** When {string} rotates its webhook signing secret */
export async function rotateWebhookSecret(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  if (!customer.webhook) throw new Error(`"${customerName}" has no webhook in this scenario.`);
  const rotated = await customer.api.rotateWebhookSecret(customer.webhook.id);
  notesOf(customer).rotatedSecret = rotated;
}

/**
 * Then during the overlap a report signed for {string} verifies with the old secret, and the next one with the new secret
 * (texts to {person}). The receiver keeps the old secret for the first text's report, then
 * switches, as a customer's application would, for the second's.
 */
export async function expectBothSecretsVerifyDuringOverlap(
  world: Phase2World,
  customerName: string,
  name: string,
) {
  const customer = world.customer(customerName);
  const rotated = notesOf(customer).rotatedSecret;
  const webhook = customer.webhook;
  if (!rotated || !webhook)
    throw new Error(`"${customerName}" has rotated no webhook secret in this scenario.`);
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  for (const holding of ['the old secret', 'the new secret']) {
    if (holding === 'the new secret') webhook.setSecret(rotated.secret);
    const message = await customer.api.sendMessage({ from, to, text: `report checked with ${holding}` });
    const report = await world.env.webhooks.waitForEvent(
      webhook.path,
      (e) => (e.data as { id?: string }).id === message.id,
      bound(world, `a report on message ${message.id} that verifies with ${holding}`, {
        lookAt: [EVIDENCE.WEBHOOK],
      }),
    );
    // Verified after the overlap would prove nothing about it: the premise is stated, not assumed.
    expect(
      Date.parse(report.receivedAt),
      `the report verified with ${holding} arrived before the overlap ended at ${rotated.previousSecretValidUntil}`,
    ).to.be.below(Date.parse(rotated.previousSecretValidUntil));
  }
  const refused = world.env.webhooks.rejected.filter((r) => r.path === webhook.path);
  expect(refused, `webhook requests that did not verify (see "${EVIDENCE.WEBHOOK}")`).to.deep.equal([]);
}

/** When {string} sends its API key in the URL instead of the header */
export async function sendKeyInTheUrl(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const key = customer.api.apiKey;
  world.refusals.lastResponse = await customer.api.raw({
    method: 'GET',
    path: `/v1/numbers?apikey=${encodeURIComponent(key)}`,
    apiKey: null,
    refusal: { what: 'an API key sent in the URL', by: 'the gateway' },
  });
}

/** Then the request is refused, telling the customer to send the key in the header */
export function expectRefusedNamingTheHeader(world: Phase2World) {
  const response = world.refusals.lastResponse;
  expect(response?.status, `HTTP status for a key in the URL (see "${EVIDENCE.HTTP}")`).to.equal(401);
  expect(
    (response?.body as { message?: string }).message ?? '',
    'the gateway says where the key goes',
  ).to.match(/query string.*apikey header/);
}
