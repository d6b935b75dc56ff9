import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  runsAVerificationLine,
  verificationCodesExpireSecondsAfterTheyAreSent,
  callsTheVerificationLineFromHerHisMobile,
  hearsTheLineAskForHerHisCode,
  mobileReceivesAOneTimeCodeFromThe,
  keysInTheCode,
  keysInAWrongCode,
  hearsTheLineAskHerHimToTry,
  keysInWrongCodesUntilNoTriesAre,
  hearsTheLineConfirmSheHeIsVerified,
  hearsTheLineRefuseAndTheLineHangs,
  waitsUntilTheCodeHasExpired,
  seesVerificationAsThroughTheApi,
  seesOneWrongAttemptOnVerification,
} from '../tasks/verification';

/**
 * Two-factor verification during a call: the verification line texts a one-time code to the
 * caller's mobile, the caller keys it in (RFC 4733), and the line answers with a prompt.
 */

Given('{string} runs a verification line', function (this: Phase2World, customerName: string) {
  return runsAVerificationLine(this, customerName);
});

Given(
  "{string}'s verification codes expire {int} seconds after they are sent",
  function (this: Phase2World, customerName: string, seconds: number) {
    return verificationCodesExpireSecondsAfterTheyAreSent(this, customerName, seconds);
  },
);

When('{person} calls the verification line from her/his mobile', function (this: Phase2World, name: string) {
  return callsTheVerificationLineFromHerHisMobile(this, name);
});

Then('{person} hears the line ask for her/his code', function (this: Phase2World, name: string) {
  return hearsTheLineAskForHerHisCode(this, name);
});

When(
  "{person}'s mobile receives a one-time code from the verification line",
  function (this: Phase2World, name: string) {
    return mobileReceivesAOneTimeCodeFromThe(this, name);
  },
);

When('{person} keys in the code', function (this: Phase2World, name: string) {
  return keysInTheCode(this, name);
});

When('{person} keys in a wrong code', function (this: Phase2World, name: string) {
  return keysInAWrongCode(this, name);
});

Then('{person} hears the line ask her/him to try again', function (this: Phase2World, name: string) {
  return hearsTheLineAskHerHimToTry(this, name);
});

When('{person} keys in wrong codes until no tries are left', function (this: Phase2World, name: string) {
  return keysInWrongCodesUntilNoTriesAre(this, name);
});

Then(
  '{person} hears the line confirm she/he is verified, and the line hangs up',
  function (this: Phase2World, name: string) {
    return hearsTheLineConfirmSheHeIsVerified(this, name);
  },
);

Then('{person} hears the line refuse, and the line hangs up', function (this: Phase2World, name: string) {
  return hearsTheLineRefuseAndTheLineHangs(this, name);
});

When('{person} waits until the code has expired', function (this: Phase2World, name: string) {
  return waitsUntilTheCodeHasExpired(this, name);
});

Then(
  "{string} sees {person}'s verification as {word} through the API",
  function (this: Phase2World, customerName: string, name: string, status: string) {
    return seesVerificationAsThroughTheApi(this, customerName, name, status);
  },
);

Then(
  "{string} sees one wrong attempt on {person}'s verification",
  function (this: Phase2World, customerName: string, name: string) {
    return seesOneWrongAttemptOnVerification(this, customerName, name);
  },
);
