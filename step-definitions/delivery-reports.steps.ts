import { Given, Then } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { subscribeWebhook } from '../tasks/webhooks';
import {
  expectJasminAcknowledgementThenOutcome,
  failFirstWebhookAttempts,
  expectWebhookHearsSentThenDelivered,
  expectReportRetriedWithGrowingPauses,
  expectSignedUndeliverableReport,
  expectAcknowledgementSentAndProcessedOnce,
} from '../tasks/delivery-reports';

/**
 * Delivery reports at the customer's webhook: signed, in the order the network reported them,
 * retried with growing pauses while the customer's endpoint fails, and processed exactly once.
 */

Given(
  "{string} receives delivery reports in Jasmin's DLR callback dialect",
  async function (this: Phase2World, customerName: string) {
    await subscribeWebhook(this, customerName, ['message.*'], 'jasmin');
  },
);

Then(
  "{string}'s Jasmin endpoint hears the SMSC's acknowledgement and then {word}, acknowledging each with ACK\\/Jasmin",
  function (this: Phase2World, customerName: string, state: string) {
    return expectJasminAcknowledgementThenOutcome(this, customerName, state);
  },
);

Given(
  "{string}'s webhook endpoint {string} to the first {int} attempts",
  function (this: Phase2World, customerName: string, how: string, count: number) {
    return failFirstWebhookAttempts(this, customerName, how, count);
  },
);

Then(
  "{string}'s webhook hears that the message was sent and then that it was delivered, in that order",
  function (this: Phase2World, customerName: string) {
    return expectWebhookHearsSentThenDelivered(this, customerName);
  },
);

Then(
  'the {word} report took {int} attempts, each pause longer than the one before, and each report was processed once',
  function (this: Phase2World, status: string, attempts: number) {
    return expectReportRetriedWithGrowingPauses(this, status, attempts);
  },
);

Then(
  "{string}'s webhook receives a signed report that the message was undeliverable, with the network's error code",
  function (this: Phase2World, customerName: string) {
    return expectSignedUndeliverableReport(this, customerName);
  },
);

Then(
  'the acknowledgement callback was sent {int} times and processed once',
  function (this: Phase2World, times: number) {
    return expectAcknowledgementSentAndProcessedOnce(this, times);
  },
);
