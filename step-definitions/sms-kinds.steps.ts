import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { gsmText } from '../world/factories';
import { customerNumber, sendText } from '../tasks/messaging';
import {
  giveShortCode,
  expectExactlyThatTextFromTheShortCode,
  expectTravelledInParts,
  connectFrenchCarrier,
  giveAFrenchMobile,
  expectReceivedThroughTheFrenchCarrierOnly,
  takeFrenchNetworkDown,
  bringFrenchNetworkBack,
  expectAcceptedAndWaiting,
  sendPictureMessage,
  expectPictureMessageRefused,
} from '../tasks/sms-kinds';

/**
 * The plan's message kinds through the API: unicode, long (concatenated), from a short code,
 * abroad over the connector configured for that country, and MMS where it is not supported.
 */

When(
  '{string} texts {person} a long text of {int} characters through the API',
  async function (this: Phase2World, customerName: string, name: string, length: number) {
    await sendText(this, customerName, customerNumber(this, customerName, 'local'), name, gsmText(length));
  },
);

Given('{string} owns a short code for sending texts', function (this: Phase2World, customerName: string) {
  return giveShortCode(this, customerName);
});

When(
  '{string} texts {person} {string} from their short code through the API',
  async function (this: Phase2World, customerName: string, name: string, text: string) {
    await sendText(this, customerName, customerNumber(this, customerName, 'short-code'), name, text);
  },
);

Then(
  "{person}'s phone receives exactly that text from {string}'s short code",
  function (this: Phase2World, name: string, customerName: string) {
    return expectExactlyThatTextFromTheShortCode(this, name, customerName);
  },
);

Then(
  'the text travelled as {int} part(s) in {alphabet}, put back together in order on the handset',
  function (this: Phase2World, parts: number, encoding: string) {
    return expectTravelledInParts(this, parts, encoding);
  },
);

// ---- abroad ---------------------------------------------------------------------------------

Given(
  'the platform sends texts to French mobiles over a connector of their own',
  function (this: Phase2World) {
    return connectFrenchCarrier(this);
  },
);

Given('{person} has a French mobile phone', function (this: Phase2World, name: string) {
  return giveAFrenchMobile(this, name);
});

Then(
  '{person} received it through the French carrier, and the home carrier never saw it',
  function (this: Phase2World, name: string) {
    return expectReceivedThroughTheFrenchCarrierOnly(this, name);
  },
);

Given('the French mobile network is unreachable', function (this: Phase2World) {
  return takeFrenchNetworkDown(this);
});

When('the French mobile network is back', function (this: Phase2World) {
  return bringFrenchNetworkBack(this);
});

Then(
  'the API shows the message as accepted and waiting while the network is unreachable',
  function (this: Phase2World) {
    return expectAcceptedAndWaiting(this);
  },
);

// ---- MMS ------------------------------------------------------------------------------------

When(
  '{string} sends {person} a picture message through the API',
  function (this: Phase2World, customerName: string, name: string) {
    return sendPictureMessage(this, customerName, name);
  },
);

Then('the request is refused because picture messages are not supported', function (this: Phase2World) {
  return expectPictureMessageRefused(this);
});
