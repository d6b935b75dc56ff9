import { expect } from 'chai';
import { PlatformApi } from '../world/http/api-client';
import { SipPhone } from '../world/sip/sip-phone';
import type { Phase2World, Person } from '../world/world';
import { companyName, localDid, password, sipUsername } from '../world/factories';
import { PHONE_KINDS } from '../support/parameter-types';

/** Given {string} is a/an {tier} customer */
export async function createCustomer(world: Phase2World, name: string, tier: string) {
  // The display name is made unique so parallel scenarios and repeated remote runs never clash.
  const created = await world.operator.createCustomer({ name: `${name} (${companyName()})`, tier });
  expect(created.tier, `tier of the customer the operator created for "${name}"`).to.equal(tier);
  world.customers.set(name, {
    name,
    id: created.id,
    tier: created.tier,
    api: new PlatformApi({ baseUrl: world.env.endpoints.apiUrl, apiKey: created.apiKey, actor: name }),
    smpp: created.smpp,
    numbers: [],
    templates: new Map(),
    contactLists: new Map(),
    campaigns: new Map(),
  });
}

/** Given {person} works at {string} with a {phoneKind} on a local number */
export async function giveDeskPhoneOnLocalNumber(
  world: Phase2World,
  person: string,
  customerName: string,
  kind: keyof typeof PHONE_KINDS,
) {
  const customer = world.customer(customerName);
  const number = localDid();
  await customer.api.addNumber({ number, kind: 'local' });
  customer.numbers.push({ number, kind: 'local' });
  const sip = { username: sipUsername(person), password: password() };
  const account = await customer.api.createSipAccount({ ...sip, number });
  expect(account.number, `number of ${person}'s SIP account`).to.equal(number);

  const transport = PHONE_KINDS[kind];
  const { endpoints } = world.env;
  const someone: Person = { name: person, number, kind: 'sip phone', customer: customerName, sip };
  const phone = new SipPhone({
    // Speaks with a voice of its own, so whoever hears it can tell it from the other party.
    toneHz: world.voiceOf(someone),
    actor: `${person}'s ${kind}`,
    username: sip.username,
    password: sip.password,
    domain: endpoints.sip.domain,
    transport,
    server: transport === 'udp' ? endpoints.sip.udp : { url: endpoints.sip.ws },
  });
  await phone.start();
  world.onCleanup(() => phone.stop());
  world.people.set(person, { ...someone, phone });
}

/** Given {string} has provisioned a SIP trunk to their carrier through the API */
export async function provisionTrunk(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const carrier = (await world.telephoneNetwork()).address();
  const trunk = await customer.api.createTrunk({
    name: `${customerName} carrier trunk`,
    host: world.env.config.suiteHost,
    port: carrier.port,
    transport: 'udp',
  });
  // Read it back: what the API stored is what routing will use.
  const stored = await customer.api.getTrunk(trunk.id);
  expect(stored, `trunk ${trunk.id} as read back through the API`).to.deep.include({
    host: world.env.config.suiteHost,
    port: carrier.port,
    transport: 'udp',
  });
  customer.trunkId = trunk.id;
}
