import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { subscribeWebhook } from '../tasks/webhooks';
import {
  customerNumber,
  sendText,
  giveLocalSendingNumber,
  giveMobilePhone,
  thePlatformHadToOfferItToThe,
  giveMobilePhoneOnALateNetwork,
  giveMobilePhoneOnANetworkCongestedFor,
  expectSentNotYetDeliveredOnceOnPhone,
  expectExactlyThatTextFromTheNumber,
  expectHandsetReachedWithin,
  expectSignedDeliveryReport,
  expectMessageStatus,
  sendWithoutAnApiKey,
  expectRefusedForMissingApiKey,
  sendInvalidJson,
  expectRefusedAsMalformed,
  expectNoTextFrom,
  bindWithAWrongPassword,
  expectBindRefusedForThePassword,
} from '../tasks/messaging';

/** The plan's cross-service latency target (seed: Success Metrics). */

Given('{string} owns a local number for sending texts', function (this: Phase2World, customerName: string) {
  return giveLocalSendingNumber(this, customerName);
});

Given(
  '{string} receives delivery reports at their webhook',
  async function (this: Phase2World, customerName: string) {
    await subscribeWebhook(this, customerName, ['message.*']);
  },
);

Given('{person} has a mobile phone', function (this: Phase2World, name: string) {
  giveMobilePhone(this, name, 'deliver');
});

Given(
  '{person} has a mobile phone that the mobile network cannot reach',
  function (this: Phase2World, name: string) {
    giveMobilePhone(this, name, 'undeliverable');
  },
);

Given(
  '{person} has a mobile phone on a congested network that turns the first attempts away',
  function (this: Phase2World, name: string) {
    giveMobilePhone(this, name, 'throttled');
  },
);

Given(
  '{person} has a mobile phone on a network that stays congested for the next {int} seconds, turning texts away',
  function (this: Phase2World, name: string, seconds: number) {
    giveMobilePhoneOnANetworkCongestedFor(this, name, seconds);
  },
);

Given(
  '{person} has a mobile phone on a network that reports deliveries late',
  function (this: Phase2World, name: string) {
    giveMobilePhone(this, name, 'slow-dlr');
  },
);

Given(
  '{person} has a mobile phone on a network that acknowledges texts later than the platform waits',
  function (this: Phase2World, name: string) {
    return giveMobilePhoneOnALateNetwork(this, name);
  },
);

Then('the platform offered it to the mobile network only once', function (this: Phase2World) {
  return thePlatformHadToOfferItToThe(this, 1);
});

Then(
  'the platform had to offer it to the mobile network {int} times',
  function (this: Phase2World, times: number) {
    return thePlatformHadToOfferItToThe(this, times);
  },
);

Then(
  "the API shows the message as sent, not yet delivered, once the text is on {person}'s phone",
  function (this: Phase2World, name: string) {
    return expectSentNotYetDeliveredOnceOnPhone(this, name);
  },
);

When(
  '{string} texts {person} {string} through the API',
  async function (this: Phase2World, customerName: string, name: string, text: string) {
    await sendText(this, customerName, customerNumber(this, customerName), name, text);
  },
);

Then(
  "{person}'s phone receives exactly that text from {string}'s number",
  function (this: Phase2World, name: string, customerName: string) {
    return expectExactlyThatTextFromTheNumber(this, name, customerName);
  },
);

Then(
  'it reached the handset within {int} ms of the API accepting it',
  function (this: Phase2World, boundMs: number) {
    return expectHandsetReachedWithin(this, boundMs);
  },
);

Then(
  "{string}'s webhook receives a signed delivery report saying the message was {messageOutcome}",
  function (this: Phase2World, customerName: string, outcome: string) {
    return expectSignedDeliveryReport(this, customerName, outcome);
  },
);

Then('the API shows the message as {messageOutcome}', function (this: Phase2World, outcome: string) {
  return expectMessageStatus(this, outcome);
});

When('someone asks to send a text without an API key', function (this: Phase2World) {
  return sendWithoutAnApiKey(this);
});

Then('the request is refused because it carries no API key', function (this: Phase2World) {
  return expectRefusedForMissingApiKey(this);
});

When(
  '{string} sends {person} a message request whose body is not valid JSON',
  function (this: Phase2World, customerName: string, name: string) {
    return sendInvalidJson(this, customerName, name);
  },
);

Then('the request is refused as malformed, with an explanation', function (this: Phase2World) {
  return expectRefusedAsMalformed(this);
});

Then(
  "{person}'s phone receives no text from {string}",
  function (this: Phase2World, name: string, customerName: string) {
    return expectNoTextFrom(this, name, customerName);
  },
);

When(
  '{string} opens an SMS connection with a wrong password',
  function (this: Phase2World, customerName: string) {
    return bindWithAWrongPassword(this, customerName);
  },
);

Then('the SMS connection is refused because the password is wrong', function (this: Phase2World) {
  return expectBindRefusedForThePassword(this);
});
