import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  runVerificationLine,
  expectCodesExpireAfter,
  callTheVerificationLine,
  expectAskedForTheCode,
  receiveTheOneTimeCode,
  keyInTheCode,
  keyInAWrongCode,
  expectAskedToTryAgain,
  keyInWrongCodesUntilNoTriesLeft,
  expectConfirmedVerified,
  expectRefusedAndHungUp,
  waitUntilTheCodeHasExpired,
  expectVerificationStatus,
  expectOneWrongAttempt,
} from '../tasks/verification';

/**
 * Two-factor verification during a call: the verification line texts a one-time code to the
 * caller's mobile, the caller keys it in (RFC 4733), and the line answers with a prompt.
 */

Given('{string} runs a verification line', function (this: Phase2World, customerName: string) {
  return runVerificationLine(this, customerName);
});

Given(
  "{string}'s verification codes expire {int} seconds after they are sent",
  function (this: Phase2World, customerName: string, seconds: number) {
    return expectCodesExpireAfter(this, customerName, seconds);
  },
);

When('{person} calls the verification line from her/his mobile', function (this: Phase2World, name: string) {
  return callTheVerificationLine(this, name);
});

Then('{person} hears the line ask for her/his code', function (this: Phase2World, name: string) {
  return expectAskedForTheCode(this, name);
});

When(
  "{person}'s mobile receives a one-time code from the verification line",
  function (this: Phase2World, name: string) {
    return receiveTheOneTimeCode(this, name);
  },
);

When('{person} keys in the code', function (this: Phase2World, name: string) {
  return keyInTheCode(this, name);
});

When('{person} keys in a wrong code', function (this: Phase2World, name: string) {
  return keyInAWrongCode(this, name);
});

Then('{person} hears the line ask her/him to try again', function (this: Phase2World, name: string) {
  return expectAskedToTryAgain(this, name);
});

When(
  '{person} keys in wrong codes until her/his {int} tries are used up',
  function (this: Phase2World, name: string, tries: number) {
    return keyInWrongCodesUntilNoTriesLeft(this, name, tries);
  },
);

Then(
  '{person} hears the line confirm she/he is verified, and the line hangs up',
  function (this: Phase2World, name: string) {
    return expectConfirmedVerified(this, name);
  },
);

Then('{person} hears the line refuse, and the line hangs up', function (this: Phase2World, name: string) {
  return expectRefusedAndHungUp(this, name);
});

When('{person} waits until the code has expired', function (this: Phase2World, name: string) {
  return waitUntilTheCodeHasExpired(this, name);
});

Then(
  "{string} sees {person}'s verification as {word} through the API",
  function (this: Phase2World, customerName: string, name: string, status: string) {
    return expectVerificationStatus(this, customerName, name, status);
  },
);

Then(
  "{string} sees one wrong attempt on {person}'s verification",
  function (this: Phase2World, customerName: string, name: string) {
    return expectOneWrongAttempt(this, customerName, name);
  },
);
