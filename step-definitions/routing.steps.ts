import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  giveTwoCarrierTrunks,
  routeUkCallsOver,
  giveAUkLineThatAnswers,
  expectCallCarriedBy,
  moveUkCallsTo,
  moveUkCallsToAMissingTrunk,
  expectCarriedByNotBy,
  expectChangeRefusedNaming,
  giveTollFreeNumber,
  setTrunkCallerIdToTollFree,
  setCallerIdToTollFree,
  withholdTrunkCallerId,
  setCallerIdToSomeoneElsesNumber,
  giveSalesLine,
  setCallerIdToSalesLine,
  expectSalesLineShownAsCaller,
  expectTollFreeShownAsCaller,
  expectShownAsAnonymous,
  expectOnlyCarrierLearnsPrivateNumber,
  routeLondonCallsOver,
  remakeUkRule,
} from '../tasks/routing';

/**
 * How the customer steers outside calls through the API: which carrier carries which
 * destinations (routing rules), and which number the called party sees (caller ID).
 */

Given(
  '{string} has two carriers, {string} and {string}, each on its own SIP trunk',
  function (this: Phase2World, customerName: string, first: string, second: string) {
    return giveTwoCarrierTrunks(this, customerName, first, second);
  },
);

Given(
  '{string} routes calls to UK numbers over {string}',
  function (this: Phase2World, customerName: string, carrier: string) {
    return routeUkCallsOver(this, customerName, carrier);
  },
);

Given('{person} is on a UK line that answers calls', function (this: Phase2World, name: string) {
  return giveAUkLineThatAnswers(this, name);
});

Given('{person} is on a London line that answers calls', function (this: Phase2World, name: string) {
  return giveAUkLineThatAnswers(this, name, true);
});

When(
  '{string} routes calls to London numbers over {string} through the API',
  function (this: Phase2World, customerName: string, carrier: string) {
    return routeLondonCallsOver(this, customerName, carrier);
  },
);

When(
  '{string} makes its UK rule anew, still over {string}',
  function (this: Phase2World, customerName: string, carrier: string) {
    return remakeUkRule(this, customerName, carrier);
  },
);

When(
  "{string} tries to move UK calls to {string}'s trunk",
  function (this: Phase2World, customerName: string, owner: string) {
    return moveUkCallsToAMissingTrunk(this, customerName, owner);
  },
);

Given(
  "{person}'s call to {person} is carried by {string}",
  async function (this: Phase2World, callerName: string, calleeName: string, carrier: string) {
    await expectCallCarriedBy(this, this.person(callerName), this.person(calleeName), carrier);
  },
);

When(
  '{string} moves UK calls to {string} through the API',
  function (this: Phase2World, customerName: string, carrier: string) {
    return moveUkCallsTo(this, customerName, carrier);
  },
);

When(
  '{string} tries to move UK calls to a trunk that does not exist',
  function (this: Phase2World, customerName: string) {
    return moveUkCallsToAMissingTrunk(this, customerName);
  },
);

Then(
  'the call from {person} to {person} is carried by {string} and not by {string}',
  function (this: Phase2World, callerName: string, calleeName: string, carrier: string, old: string) {
    return expectCarriedByNotBy(this, callerName, calleeName, carrier, old);
  },
);

Then(
  "{person}'s next call to {person} is still carried by {string}",
  async function (this: Phase2World, callerName: string, calleeName: string, carrier: string) {
    await expectCallCarriedBy(this, this.person(callerName), this.person(calleeName), carrier);
  },
);

Then(
  'the change is refused, naming the {setting} as the problem',
  function (this: Phase2World, field: string) {
    return expectChangeRefusedNaming(this, field);
  },
);

Given('{string} owns a toll-free number', function (this: Phase2World, customerName: string) {
  return giveTollFreeNumber(this, customerName);
});

When(
  "{string} sets the trunk's caller ID to their toll-free number through the API",
  function (this: Phase2World, customerName: string) {
    return setTrunkCallerIdToTollFree(this, customerName);
  },
);

When(
  "{string} sets {person}'s caller ID to their toll-free number through the API",
  function (this: Phase2World, customerName: string, name: string) {
    return setCallerIdToTollFree(this, customerName, name);
  },
);

When(
  "{string} withholds the trunk's caller ID through the API",
  function (this: Phase2World, customerName: string) {
    return withholdTrunkCallerId(this, customerName);
  },
);

When(
  "{string} tries to set the trunk's caller ID to {string}'s toll-free number",
  function (this: Phase2World, customerName: string, owner: string) {
    return setCallerIdToSomeoneElsesNumber(this, customerName, owner);
  },
);

When(
  "{string} tries to set {person}'s caller ID to {string}'s toll-free number",
  function (this: Phase2World, customerName: string, staff: string, owner: string) {
    return setCallerIdToSomeoneElsesNumber(this, customerName, owner, staff);
  },
);

Given('{string} also owns a local sales line', function (this: Phase2World, customerName: string) {
  return giveSalesLine(this, customerName);
});

When(
  "{string} sets {person}'s caller ID to their sales line through the API",
  function (this: Phase2World, customerName: string, name: string) {
    return setCallerIdToSalesLine(this, customerName, name);
  },
);

Then(
  "{person}'s phone shows {string}'s sales line as the caller",
  function (this: Phase2World, name: string, customerName: string) {
    return expectSalesLineShownAsCaller(this, name, customerName);
  },
);

Then(
  "{person}'s phone shows {string}'s toll-free number as the caller",
  function (this: Phase2World, name: string, customerName: string) {
    return expectTollFreeShownAsCaller(this, name, customerName);
  },
);

Then("{person}'s phone shows the call as anonymous", function (this: Phase2World, name: string) {
  return expectShownAsAnonymous(this, name);
});

Then(
  "only the carrier learns {person}'s number, marked as private",
  function (this: Phase2World, name: string) {
    return expectOnlyCarrierLearnsPrivateNumber(this, name);
  },
);
