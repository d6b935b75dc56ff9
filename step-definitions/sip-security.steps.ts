import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectAnsweredAfterBan,
  expectBanReported,
  expectCutOffAfterAFewWrongPasswords,
  expectProbesAnsweredAlike,
  expectRealPhoneRegistersDuringBan,
  expectScannerIgnored,
  expectSilenceDuringBan,
  guessPassword,
  probeAccounts,
  subscribeToSecurityEvents,
  sweepWithScanner,
} from '../tasks/sip-security';

Given('{string} is told of security events at their webhook', function (this: Phase2World, customer: string) {
  return subscribeToSecurityEvents(this, customer);
});

When(
  "an attacker guesses {person}'s password from an address of their own",
  function (this: Phase2World, name: string) {
    return guessPassword(this, name);
  },
);

Then(
  'the attacker is cut off after a few wrong passwords, without finding the password',
  function (this: Phase2World) {
    return expectCutOffAfterAFewWrongPasswords(this);
  },
);

Then("the attacker's address gets no answer at all during the ban period", function (this: Phase2World) {
  return expectSilenceDuringBan(this);
});

Then(
  "{person}'s phone registers from her own address while the attacker is banned",
  function (this: Phase2World, name: string) {
    return expectRealPhoneRegistersDuringBan(this, name);
  },
);

Then(
  "{string} is told by webhook that the attacker's address was banned for trying {person}'s account",
  function (this: Phase2World, customer: string, name: string) {
    return expectBanReported(this, customer, name);
  },
);

Then("once the ban period is over, the attacker's address is answered again", function (this: Phase2World) {
  return expectAnsweredAfterBan(this);
});

When('a scanning tool sweeps the platform for SIP servers', function (this: Phase2World) {
  return sweepWithScanner(this);
});

Then(
  'the scanning tool gets no answer, while an ordinary phone at the same address is answered',
  function (this: Phase2World) {
    expectScannerIgnored(this);
  },
);

When(
  "an attacker probes {person}'s account and an account that does not exist",
  function (this: Phase2World, name: string) {
    return probeAccounts(this, name);
  },
);

Then(
  'the platform answers both probes alike, giving away nothing of which account exists',
  function (this: Phase2World) {
    expectProbesAnsweredAlike(this);
  },
);
