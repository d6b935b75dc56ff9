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
  callAsTheCarrier,
  expectSpoofedCarrierRefused,
  subscribeToFraudAlerts,
  subscribeToSecurityEvents,
  sweepWithScanner,
} from '../tasks/sip-security';
import {
  callBeyondTheCap,
  callHighRiskNumbers,
  expectCallBeyondCapRefused,
  expectFraudAlert,
  expectHighRiskCallsCutOff,
} from '../tasks/call-fraud';

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

Given('{string} is told of fraud alerts at their webhook', function (this: Phase2World, customer: string) {
  return subscribeToFraudAlerts(this, customer);
});

When(
  "{person}'s phone calls premium-rate and far international numbers one after another",
  function (this: Phase2World, name: string) {
    return callHighRiskNumbers(this, name);
  },
);

Then("the calls beyond the platform's limit are refused as suspected fraud", function (this: Phase2World) {
  return expectHighRiskCallsCutOff(this);
});

Then(
  "{string} gets a fraud alert naming {person}'s account",
  function (this: Phase2World, customer: string, name: string) {
    return expectFraudAlert(this, customer, name);
  },
);

When(
  "{person}'s phone calls as many outside numbers at once as a {tier} customer may, and one more",
  function (this: Phase2World, name: string, tier: string) {
    return callBeyondTheCap(this, name, tier);
  },
);

Then(
  "the call beyond the {tier} tier's limit is refused, saying the simultaneous-call limit was reached",
  function (this: Phase2World, tier: string) {
    return expectCallBeyondCapRefused(this, tier);
  },
);

When(
  "an attacker at another address calls {person}'s number as if from the carrier",
  function (this: Phase2World, name: string) {
    return callAsTheCarrier(this, name);
  },
);

Then(
  "the call is not put through: the caller is asked to authenticate and {person}'s phone does not ring",
  function (this: Phase2World, name: string) {
    expectSpoofedCarrierRefused(this, name);
  },
);
