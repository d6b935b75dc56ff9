import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectAcceptedUpToTheLimit,
  expectExactlyTheAcceptedTexts,
  expectOneCountAcrossNodes,
  expectUntouchedByTheFlood,
  floodWhileAnotherWorks,
  requestsOverTwoNodes,
  sendTextsAtOnce,
} from '../tasks/limits';
import {
  callBeyondTheRate,
  expectCallsAgainAfterRetryAfter,
  expectCallsBeyondTheRateRefused,
  expectQuotaSharedByChannels,
  expectQuotaTextsDelivered,
  limitCallAttempts,
  limitTexts,
  textOverBothChannels,
} from '../tasks/quotas';

When(
  '{string} sends {int} texts to {person} at once through the API',
  function (this: Phase2World, customerName: string, count: number, name: string) {
    return sendTextsAtOnce(this, customerName, count, name);
  },
);

Then(
  "as many as {string}'s limit had left are accepted, and the rest refused with the headers saying when to retry",
  function (this: Phase2World, customerName: string) {
    expectAcceptedUpToTheLimit(this, customerName);
  },
);

Then(
  "{person}'s phone receives exactly the texts {string} had accepted",
  function (this: Phase2World, name: string, customerName: string) {
    return expectExactlyTheAcceptedTexts(this, customerName, name);
  },
);

When(
  '{string} floods the API with {int} requests while {string} makes {int}',
  function (this: Phase2World, flooder: string, floodCount: number, other: string, otherCount: number) {
    return floodWhileAnotherWorks(this, flooder, floodCount, other, otherCount);
  },
);

Then(
  "every request of {string} is served, its own allowance untouched by {string}'s flood",
  function (this: Phase2World, other: string, flooder: string) {
    expectUntouchedByTheFlood(this, other, flooder);
  },
);

Given(
  '{string} may send {int} texts in a short while, whichever way it sends them',
  function (this: Phase2World, customerName: string, count: number) {
    return limitTexts(this, customerName, count);
  },
);

Given(
  '{string} may start {int} calls in a short while',
  function (this: Phase2World, customerName: string, count: number) {
    return limitCallAttempts(this, customerName, count);
  },
);

When(
  '{string} texts {person} over the API and over SMPP in turn, two more times than its quota has left',
  function (this: Phase2World, customerName: string, name: string) {
    return textOverBothChannels(this, customerName, name);
  },
);

Then(
  "the texts beyond {string}'s quota are refused on the channel they came by, each saying to come back later",
  function (this: Phase2World, customerName: string) {
    expectQuotaSharedByChannels(this, customerName);
  },
);

Then(
  "{person}'s phone receives exactly the texts {string} had accepted, whichever way they came",
  function (this: Phase2World, name: string, customerName: string) {
    return expectQuotaTextsDelivered(this, name, customerName);
  },
);

When(
  "{person}'s and {person}'s phones try two more calls than {string} may still start in that while",
  function (this: Phase2World, first: string, second: string, customerName: string) {
    return callBeyondTheRate(this, first, second, customerName);
  },
);

Then(
  "the calls beyond {string}'s rate are refused as Service Unavailable, saying when to try again",
  function (this: Phase2World, customerName: string) {
    return expectCallsBeyondTheRateRefused(this, customerName);
  },
);

Then(
  "once that time has passed, {person}'s phone reaches the network again",
  function (this: Phase2World, name: string) {
    return expectCallsAgainAfterRetryAfter(this, name);
  },
);

When(
  '{string} sends its requests to two gateway nodes in turn, two more than its limit has left',
  function (this: Phase2World, customerName: string) {
    return requestsOverTwoNodes(this, customerName);
  },
);

Then(
  "{string} is refused beyond its limit whichever node its requests landed on, each node counting the other's",
  function (this: Phase2World, customerName: string) {
    expectOneCountAcrossNodes(this, customerName);
  },
);
