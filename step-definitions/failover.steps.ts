import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import type { PlatformRole } from '../world/faults/fault-injector';
import { FAILOVER_STEP_TIMEOUT_MS, crashActiveNode } from '../tasks/failover';
import {
  callAndCrashWhileRinging,
  expectAnsweredOrRefusedClearly,
  expectAudioResumesUnasked,
  expectCallsAgainWithinTarget,
  expectLineHearsKeys,
  expectLineToldCallEnded,
  expectRegistersAgainWithinTarget,
  expectSilenceShorterThan,
  expectStillHearEachOther,
  pressKeys,
} from '../tasks/failover-voice';
import {
  crashSmscBeforeTheReceipt,
  crashSmscWhileTextsOnTheirWay,
  expectEveryAcknowledgedTextArrives,
  expectRebindWithinTarget,
  expectReportForEveryText,
  expectTextAfterCrashWithinTarget,
  giveMobilePhoneSlowToAccept,
  sendTextsToEach,
} from '../tasks/failover-messaging';
import {
  expectApiKeyWorksWithinTarget,
  expectOnlyRemainingRequests,
  expectReplayOfTheFirstAnswer,
  limitRequestsPerMinute,
  useRequestsUntilLeft,
  retryWithTheSameKey,
  sendWithIdempotencyKey,
  makeCalls,
  fetchFirstPageOfRecords,
  expectPagingContinuesOnTheSurvivor,
} from '../tasks/failover-api';
import { databaseBackAfter, expectFullServiceWithin, expectTryAgainLater } from '../tasks/failover-database';

/**
 * Failover (TEST-INT-040…044): a node of the platform crashes — a real SIGKILL through the fault
 * seam — and the customers' calls, texts and requests go on. Waits for service to come back are
 * bounded by the plan's failover target (30 s), so those steps get a longer timeout.
 */
const longStep = { timeout: FAILOVER_STEP_TIMEOUT_MS };

// With one active node per role, the node carrying a call or a text is the active one.
When('the {platformNode} carrying the call crashes', async function (this: Phase2World, role: PlatformRole) {
  await crashActiveNode(this, role);
});

When('the active {platformNode} crashes', async function (this: Phase2World, role: PlatformRole) {
  await crashActiveNode(this, role);
});

When('the active {platformNode} hangs', async function (this: Phase2World, role: PlatformRole) {
  await crashActiveNode(this, role, 'hang');
});

// ---- TEST-INT-040: the SIP node -----------------------------------------------------------

Then(
  '{person} and {person} still hear each other',
  function (this: Phase2World, aName: string, bName: string) {
    return expectStillHearEachOther(this, aName, bName);
  },
);

Then("{person}'s line is told that the call has ended", function (this: Phase2World, name: string) {
  expectLineToldCallEnded(this, name);
});

Then(
  "{person}'s phone registers again through the same address within 30 seconds",
  longStep,
  function (this: Phase2World, name: string) {
    return expectRegistersAgainWithinTarget(this, name);
  },
);

Then(
  '{person} can call {person} again through the same address within 30 seconds',
  longStep,
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectCallsAgainWithinTarget(this, callerName, calleeName);
  },
);

When(
  '{person} calls {person} and the active SIP node crashes before {person} answers',
  function (this: Phase2World, callerName: string, calleeName: string, answerer: string) {
    return callAndCrashWhileRinging(this, callerName, calleeName, answerer);
  },
);

Then(
  "{person}'s call is answered or refused with a clear answer within 30 seconds",
  longStep,
  function (this: Phase2World, name: string) {
    return expectAnsweredOrRefusedClearly(this, name);
  },
);

// ---- TEST-INT-041: the media relay --------------------------------------------------------

Then(
  '{person} and {person} hear each other again through the same relay address, without their phones being asked to change anything',
  longStep,
  function (this: Phase2World, aName: string, bName: string) {
    return expectAudioResumesUnasked(this, aName, bName);
  },
);

Then(
  'the silence each of them heard is reported, and was shorter than {int} seconds',
  function (this: Phase2World, seconds: number) {
    expectSilenceShorterThan(this, seconds);
  },
);

When(
  '{person} presses {string} on her/his keypad',
  function (this: Phase2World, name: string, digits: string) {
    return pressKeys(this, name, digits);
  },
);

Then("{person}'s line hears the keys {string}", function (this: Phase2World, name: string, digits: string) {
  return expectLineHearsKeys(this, name, digits);
});

// ---- TEST-INT-042: the SMSC ---------------------------------------------------------------

Given(
  '{person} has a mobile phone on a network that is slow to accept texts',
  function (this: Phase2World, name: string) {
    return giveMobilePhoneSlowToAccept(this, name);
  },
);

When(
  '{string} texts {person} and {person} {int} times each through the API',
  function (this: Phase2World, customerName: string, aName: string, bName: string, count: number) {
    return sendTextsToEach(this, customerName, [aName, bName], count);
  },
);

When(
  'the active SMSC node crashes while those texts are on their way, and {string} sends another text',
  function (this: Phase2World, customerName: string) {
    return crashSmscWhileTextsOnTheirWay(this, customerName);
  },
);

Then(
  'the text sent after the crash reaches its handset within 30 seconds',
  longStep,
  function (this: Phase2World) {
    return expectTextAfterCrashWithinTarget(this);
  },
);

Then(
  'every text the platform acknowledged reaches its handset, duplicates counted and reported',
  longStep,
  function (this: Phase2World) {
    return expectEveryAcknowledgedTextArrives(this, this.onlyCustomerName());
  },
);

Then(
  "{string}'s webhook receives a delivery report for every one of them",
  longStep,
  function (this: Phase2World, customerName: string) {
    return expectReportForEveryText(this, customerName);
  },
);

When('the active SMSC node crashes before the network reported the delivery', function (this: Phase2World) {
  return crashSmscBeforeTheReceipt(this);
});

Then(
  '{string} binds again to the same address within 30 seconds',
  longStep,
  function (this: Phase2World, customerName: string) {
    return expectRebindWithinTarget(this, customerName);
  },
);

// ---- TEST-INT-043: the API gateway --------------------------------------------------------

Then(
  "{string}'s requests with their API key succeed again through the same address within 30 seconds",
  longStep,
  function (this: Phase2World, customerName: string) {
    return expectApiKeyWorksWithinTarget(this, customerName);
  },
);

When(
  '{string} texts {person} {string} through the API with an idempotency key',
  function (this: Phase2World, customerName: string, name: string, text: string) {
    return sendWithIdempotencyKey(this, customerName, name, text);
  },
);

When(
  '{string} retries that request with the same idempotency key',
  longStep,
  function (this: Phase2World, customerName: string) {
    return retryWithTheSameKey(this, customerName);
  },
);

Then('the retry is answered with the first answer, marked as a replay', function (this: Phase2World) {
  expectReplayOfTheFirstAnswer(this);
});

Given(
  '{string} may make {int} API requests a minute',
  longStep,
  function (this: Phase2World, customerName: string, perMinute: number) {
    return limitRequestsPerMinute(this, customerName, perMinute);
  },
);

When(
  '{string} uses its API requests until {int} are left this minute',
  longStep,
  function (this: Phase2World, customerName: string, left: number) {
    return useRequestsUntilLeft(this, customerName, left);
  },
);

Then(
  '{string} may make only {int} more requests before being told to slow down',
  longStep,
  function (this: Phase2World, customerName: string, remaining: number) {
    return expectOnlyRemainingRequests(this, customerName, remaining);
  },
);

Given(
  '{person} has called {person} {int} times',
  longStep,
  function (this: Phase2World, callerName: string, calleeName: string, times: number) {
    return makeCalls(this, callerName, calleeName, times);
  },
);

When(
  '{string} fetches the first page of its call records, one record per page',
  function (this: Phase2World, customerName: string) {
    return fetchFirstPageOfRecords(this, customerName);
  },
);

Then(
  '{string} pages through the rest with the cursor the dead node issued, and sees every call once',
  longStep,
  function (this: Phase2World, customerName: string) {
    return expectPagingContinuesOnTheSurvivor(this, customerName);
  },
);

// ---- TEST-INT-044: the database -----------------------------------------------------------

When('the database stops accepting writes', async function (this: Phase2World) {
  await crashActiveNode(this, 'database', 'hang');
});

When('the database is back after {int} seconds', longStep, function (this: Phase2World, seconds: number) {
  return databaseBackAfter(this, seconds);
});

Then(
  '{string} is told to try again later while the database is away',
  function (this: Phase2World, customerName: string) {
    return expectTryAgainLater(this, customerName);
  },
);

Then(
  "{string}'s service is back in full within {int} seconds of the database's return",
  longStep,
  function (this: Phase2World, customerName: string, seconds: number) {
    return expectFullServiceWithin(this, customerName, seconds);
  },
);
