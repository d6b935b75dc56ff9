import { DataTable, Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import type { Cdr } from '../world/http/api-client';
import { subscribeWebhook } from '../tasks/webhooks';
import {
  makeTheseCallsOneAfterTheOther,
  expectTheCallRecordsShow,
  expectFilterReturns,
  expectWholeNumberFilter,
  expectCallsStartedAfterTheCallTo,
  expectCallsFromStartUpToStart,
  expectOneRecordPerPageInOrder,
  expectOneCompletedCallEventPerCall,
  expectNoneOfTheirCallRecordsVisible,
  callAndGiveUp,
  expectCancelledRecord,
} from '../tasks/call-records';

/**
 * Call records (CDRs) through the API: one per call attempt, with the outcome the callee's line
 * produced, filterable, paged, pushed to the customer's webhook, and private to the customer.
 */

Given(
  '{string} receives call records at their webhook',
  async function (this: Phase2World, customerName: string) {
    await subscribeWebhook(this, customerName, ['call.completed']);
  },
);

Given(
  '{person} has made these calls, one after the other:',
  function (this: Phase2World, callerName: string, table: DataTable) {
    return makeTheseCallsOneAfterTheOther(this, callerName, table);
  },
);

Then('the call records show:', function (this: Phase2World, table: DataTable) {
  return expectTheCallRecordsShow(this, table);
});

Then(
  'asking for {word} calls returns only the call to {person}',
  async function (this: Phase2World, disposition: string, name: string) {
    await expectFilterReturns(this, { disposition: disposition as Cdr['disposition'] }, [name]);
  },
);

Then(
  "asking for calls to {person}'s number returns only the call to {person}, not the call to {person} whose number begins with hers",
  function (this: Phase2World, numberOf: string, name: string, longerName: string) {
    return expectWholeNumberFilter(this, numberOf, name, longerName);
  },
);

Then(
  'asking for calls started after the call to {person} and before the call to {person} returns only the call to {person}',
  function (this: Phase2World, after: string, before: string, name: string) {
    return expectCallsStartedAfterTheCallTo(this, after, before, name);
  },
);

Then(
  'asking for calls from the start of the call to {person} up to the start of the call to {person} returns only the call to {person}',
  function (this: Phase2World, from: string, upTo: string, name: string) {
    return expectCallsFromStartUpToStart(this, from, upTo, name);
  },
);

Then(
  'reading the records one per page returns the calls to {person}, {person}, {person} and {person}, then no more pages',
  function (this: Phase2World, first: string, second: string, third: string, fourth: string) {
    return expectOneRecordPerPageInOrder(this, first, second, third, fourth);
  },
);

Then(
  "{string}'s webhook receives one completed-call event per call, carrying the same record as the API",
  function (this: Phase2World, customerName: string) {
    return expectOneCompletedCallEventPerCall(this, customerName);
  },
);

Then(
  "{string} finds none of {person}'s call records, neither in lists nor by id",
  function (this: Phase2World, outsider: string, callerName: string) {
    return expectNoneOfTheirCallRecordsVisible(this, outsider, callerName);
  },
);

When(
  '{person} calls {person}, whose line rings, and gives up before anyone answers',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return callAndGiveUp(this, callerName, calleeName);
  },
);

Then(
  'the record of the call to {person} shows it cancelled by {person}, with no talk time',
  function (this: Phase2World, calleeName: string, callerName: string) {
    return expectCancelledRecord(this, calleeName, callerName);
  },
);
