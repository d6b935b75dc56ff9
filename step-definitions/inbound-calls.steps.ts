import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  outsideLine,
  callFromOutside,
  callsNumberAndNobodyAnswers,
  callsNumberAndAnswers,
  callEndsUnansweredAfterThePlatformNoAnswer,
  hearsThatIsNotAvailable,
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
  await callFromOutside(this, caller, callee);
});

When(
  "{person} calls {person}'s number and nobody answers",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return callsNumberAndNobodyAnswers(this, callerName, calleeName);
  },
);

When(
  "{person} calls {person}'s number and {person} answers",
  function (this: Phase2World, callerName: string, calleeName: string, answerer: string) {
    return callsNumberAndAnswers(this, callerName, calleeName, answerer);
  },
);

Then(
  "{person}'s call ends unanswered after the platform's no-answer time",
  function (this: Phase2World, callerName: string) {
    return callEndsUnansweredAfterThePlatformNoAnswer(this, callerName);
  },
);

Then(
  '{person} hears that {person} is not available',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return hearsThatIsNotAvailable(this, callerName, calleeName);
  },
);
