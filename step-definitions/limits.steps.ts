import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectAcceptedUpToTheLimit,
  expectExactlyTheAcceptedTexts,
  expectUntouchedByTheFlood,
  floodWhileAnotherWorks,
  sendTextsAtOnce,
} from '../tasks/limits';

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
  "every request of {string} is served within {int} ms, its own allowance untouched by {string}'s flood",
  function (this: Phase2World, other: string, withinMs: number, flooder: string) {
    expectUntouchedByTheFlood(this, other, withinMs, flooder);
  },
);
