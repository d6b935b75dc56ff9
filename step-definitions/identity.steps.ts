import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  changeSuspension,
  expectBothSecretsVerifyDuringOverlap,
  expectEveryChannel,
  expectNewKeyInOldKeyOut,
  expectReadOnlyReadsNotSends,
  expectRefusedNamingTheHeader,
  issueReadOnlyKey,
  rotateApiKey,
  rotateWebhookSecret,
  sendKeyInTheUrl,
} from '../tasks/identity';

When(
  /^the operator (suspends|resumes) "([^"]+)"$/,
  function (this: Phase2World, action: 'suspends' | 'resumes', customerName: string) {
    return changeSuspension(this, customerName, action);
  },
);

Then(
  'within the stated time {string} is refused on the API, at an SMPP bind and at a SIP registration',
  function (this: Phase2World, customerName: string) {
    return expectEveryChannel(this, customerName, 'refused');
  },
);

Then(
  "{string} is served again on the API, over SMPP and at its phone's SIP registration",
  function (this: Phase2World, customerName: string) {
    return expectEveryChannel(this, customerName, 'served');
  },
);

When('{string} rotates its API key', function (this: Phase2World, customerName: string) {
  return rotateApiKey(this, customerName);
});

Then(
  "{string}'s new key is served and its old key is refused as unknown",
  function (this: Phase2World, customerName: string) {
    return expectNewKeyInOldKeyOut(this, customerName);
  },
);

Given(
  '{string} gives its reporting tool a read-only API key',
  function (this: Phase2World, customerName: string) {
    return issueReadOnlyKey(this, customerName);
  },
);

Then(
  "the reporting tool can read {string}'s numbers but is refused when it tries to text {person}",
  function (this: Phase2World, customerName: string, name: string) {
    return expectReadOnlyReadsNotSends(this, customerName, name);
  },
);

When('{string} rotates its webhook signing secret', function (this: Phase2World, customerName: string) {
  return rotateWebhookSecret(this, customerName);
});

Then(
  "during the overlap {string}'s reports to {person}'s texts verify with the old secret and then with the new one",
  function (this: Phase2World, customerName: string, name: string) {
    return expectBothSecretsVerifyDuringOverlap(this, customerName, name);
  },
);

When(
  '{string} sends its API key in the URL instead of the header',
  function (this: Phase2World, customerName: string) {
    return sendKeyInTheUrl(this, customerName);
  },
);

Then(
  'the request is refused, telling the caller to send the key in the header',
  function (this: Phase2World) {
    expectRefusedNamingTheHeader(this);
  },
);
