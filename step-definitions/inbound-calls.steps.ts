import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  outsideLine,
  giveAnOutsideLine,
  callAndNobodyAnswers,
  callAndAnswer,
  expectCallEndsUnansweredAfterNoAnswerTime,
  expectHearsNotAvailable,
} from '../tasks/inbound-calls';

/**
 * Calls from the outside telephone network into the platform: the scenario's PSTN double
 * places them over the customer's trunk, to a subscriber's number.
 */

Given('{person} is on an outside line', function (this: Phase2World, name: string) {
  outsideLine(this, name);
});

Given(
  '{person} is on an outside line that withholds his/her number',
  function (this: Phase2World, name: string) {
    outsideLine(this, name, true);
  },
);

When("{person} calls {person}'s number", async function (this: Phase2World, caller: string, callee: string) {
  await giveAnOutsideLine(this, caller, callee);
});

When(
  "{person} calls {person}'s number and nobody answers",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return callAndNobodyAnswers(this, callerName, calleeName);
  },
);

When(
  "{person} calls {person}'s number and {person} answers",
  function (this: Phase2World, callerName: string, calleeName: string, answerer: string) {
    return callAndAnswer(this, callerName, calleeName, answerer);
  },
);

Then(
  "{person}'s call ends unanswered after the platform's no-answer time",
  function (this: Phase2World, callerName: string) {
    return expectCallEndsUnansweredAfterNoAnswerTime(this, callerName);
  },
);

Then(
  '{person} hears that {person} is not available',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectHearsNotAvailable(this, callerName, calleeName);
  },
);
