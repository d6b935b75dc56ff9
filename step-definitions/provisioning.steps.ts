import { Given } from '@cucumber/cucumber';
import { expect } from 'chai';
import { PlatformApi } from '../world/http/api-client';
import { SipPhone } from '../world/sip/sip-phone';
import type { Phase2World } from '../world/world';
import { companyName, localDid, password, sipUsername } from '../world/factories';
import { PHONE_KINDS } from '../support/parameter-types';

Given('{string} is a/an {tier} customer', async function (this: Phase2World, name: string, tier: string) {
  // The display name is made unique so parallel scenarios and repeated remote runs never clash.
  const created = await this.env.operator.createCustomer({ name: `${name} (${companyName()})`, tier });
  expect(created.tier, `tier of the customer the operator created for "${name}"`).to.equal(tier);
  this.customers.set(name, {
    name,
    id: created.id,
    tier: created.tier,
    api: new PlatformApi({ baseUrl: this.env.endpoints.apiUrl, apiKey: created.apiKey, actor: name }),
    smpp: created.smpp,
    numbers: [],
  });
});

Given(
  '{person} works at {string} with a {phoneKind} on a local number',
  async function (this: Phase2World, person: string, customerName: string, kind: keyof typeof PHONE_KINDS) {
    const customer = this.customer(customerName);
    const number = localDid();
    await customer.api.addNumber({ number, kind: 'local' });
    customer.numbers.push({ number, kind: 'local' });
    const sip = { username: sipUsername(person), password: password() };
    const account = await customer.api.createSipAccount({ ...sip, number });
    expect(account.number, `number of ${person}'s SIP account`).to.equal(number);

    const transport = PHONE_KINDS[kind];
    const { endpoints } = this.env;
    const phone = new SipPhone({
      actor: `${person}'s ${kind}`,
      username: sip.username,
      password: sip.password,
      domain: endpoints.sip.domain,
      transport,
      server: transport === 'udp' ? endpoints.sip.udp : { url: endpoints.sip.ws },
    });
    await phone.start();
    this.onCleanup(() => phone.stop());
    this.people.set(person, { name: person, number, kind: 'sip phone', customer: customerName, phone, sip });
  },
);

Given(
  '{string} has provisioned a SIP trunk to their carrier through the API',
  async function (this: Phase2World, customerName: string) {
    const customer = this.customer(customerName);
    const carrier = (await this.telephoneNetwork()).address();
    const trunk = await customer.api.createTrunk({
      name: `${customerName} carrier trunk`,
      host: this.env.config.suiteHost,
      port: carrier.port,
      transport: 'udp',
    });
    // Read it back: what the API stored is what routing will use.
    const stored = await customer.api.getTrunk(trunk.id);
    expect(stored, `trunk ${trunk.id} as read back through the API`).to.deep.include({
      host: this.env.config.suiteHost,
      port: carrier.port,
      transport: 'udp',
    });
    customer.trunkId = trunk.id;
  },
);
