import { Given } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { PHONE_KINDS } from '../support/parameter-types';
import { createCustomer, giveDeskPhoneOnLocalNumber, provisionTrunk } from '../tasks/provisioning';

Given('{string} is a/an {tier} customer', function (this: Phase2World, name: string, tier: string) {
  return createCustomer(this, name, tier);
});

Given(
  '{person} works at {string} with a {phoneKind} on a local number',
  function (this: Phase2World, person: string, customerName: string, kind: keyof typeof PHONE_KINDS) {
    return giveDeskPhoneOnLocalNumber(this, person, customerName, kind);
  },
);

Given(
  '{string} has provisioned a SIP trunk to their carrier through the API',
  function (this: Phase2World, customerName: string) {
    return provisionTrunk(this, customerName);
  },
);
