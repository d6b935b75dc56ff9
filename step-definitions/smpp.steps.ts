import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectSmppRateLimit,
  connectOverSmpp,
  submitAskingForReceipt,
  expectDeliveryReceiptOnTheSession,
  submitAtOnceRetryingThrottled,
  expectThrottledAtExactly,
  expectEachTextExactlyOnce,
} from '../tasks/smpp';

/**
 * The customer's own SMS software on SMPP: submit_sm to the platform's SMSC, delivery receipts
 * back as deliver_sm, and Jasmin-style throttling (ESME_RTHROTTLED) that loses nothing.
 */

Given(
  '{string} may submit {int} texts per second over SMPP',
  function (this: Phase2World, customerName: string, perSecond: number) {
    return expectSmppRateLimit(this, customerName, perSecond);
  },
);

Given('{string} is connected to the platform over SMPP', function (this: Phase2World, customerName: string) {
  return connectOverSmpp(this, customerName);
});

When(
  '{string} submits {string} to {person} over SMPP, asking for a delivery receipt',
  function (this: Phase2World, customerName: string, text: string, name: string) {
    return submitAskingForReceipt(this, customerName, text, name);
  },
);

Then(
  '{string} receives a delivery receipt for it on the SMPP connection, saying {word}',
  function (this: Phase2World, customerName: string, stat: string) {
    return expectDeliveryReceiptOnTheSession(this, customerName, stat);
  },
);

When(
  '{string} submits {int} texts to {person} at once over SMPP, retrying each one it is told to slow down',
  function (this: Phase2World, customerName: string, count: number, name: string) {
    return submitAtOnceRetryingThrottled(this, customerName, count, name);
  },
);

Then(
  '{int} submissions a second were accepted and the others refused with ESME_RTHROTTLED',
  function (this: Phase2World, perSecond: number) {
    return expectThrottledAtExactly(this, perSecond);
  },
);

Then("{person}'s phone receives each of the texts exactly once", function (this: Phase2World, name: string) {
  return expectEachTextExactlyOnce(this, name);
});
