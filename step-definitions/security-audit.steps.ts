import { Then } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectBanAudited,
  expectCampaignSpamBlocksAudited,
  expectRefusedCallsAudited,
  expectRotationAudited,
  expectSpamBlocksAudited,
  expectSuspendedRefusalsAudited,
  expectSuspensionAudited,
  expectUrlKeyRefusalAudited,
  expectWrongPasswordsAudited,
  type Rotated,
} from '../tasks/security-audit';

// The audit trail as TEST-INT-050, 051 and 052 see it: the customer's own and the operator's.

Then(
  "{string}'s audit trail and the operator's record the suspension and the resumption once each, by the operator, with the status before and after",
  function (this: Phase2World, customerName: string) {
    return expectSuspensionAudited(this, customerName);
  },
);

Then(
  "{string}'s audit trail records its refusals while suspended, on the API, at the SMPP bind and at the SIP registration",
  function (this: Phase2World, customerName: string) {
    return expectSuspendedRefusalsAudited(this, customerName);
  },
);

Then(
  /^"([^"]+)"'s audit trail and the operator's record the rotation of its (API key|webhook signing secret) once, with neither the old nor the new one in it$/,
  function (this: Phase2World, customerName: string, what: Rotated) {
    return expectRotationAudited(this, customerName, what);
  },
);

Then(
  "the operator's audit trail records the refused request without the key it carried",
  function (this: Phase2World) {
    return expectUrlKeyRefusalAudited(this);
  },
);

Then(
  "the operator's audit trail records the ban of the attacker's address for trying {person}'s account, and so does {string}'s",
  function (this: Phase2World, name: string, customerName: string) {
    return expectBanAudited(this, name, customerName);
  },
);

Then(
  "each wrong password is in {string}'s audit trail as a failed sign-in to {person}'s account from the attacker's address, without the password",
  function (this: Phase2World, customerName: string, name: string) {
    return expectWrongPasswordsAudited(this, customerName, name);
  },
);

Then(
  /^"([^"]+)"'s audit trail and the operator's record each refused call on (\w+)'s account (as suspected fraud|at the simultaneous-call limit), with the number called$/,
  function (this: Phase2World, customerName: string, name: string, why: string) {
    return expectRefusedCallsAudited(
      this,
      customerName,
      name,
      why === 'as suspected fraud' ? 'fraud' : 'call-limit',
    );
  },
);

Then(
  "the refusal is in {string}'s audit trail and the operator's, with the rule, the channel and the address it came from",
  function (this: Phase2World, customerName: string) {
    return expectSpamBlocksAudited(this, customerName);
  },
);

Then(
  "each refusal is in {string}'s audit trail and the operator's, naming the campaign and the rule",
  function (this: Phase2World, customerName: string) {
    return expectCampaignSpamBlocksAudited(this, customerName);
  },
);
