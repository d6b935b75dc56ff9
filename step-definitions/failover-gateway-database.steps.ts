import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { FAILOVER_STEP_TIMEOUT_MS, crashActiveNode } from '../tasks/failover';
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
import {
  databaseBackAfter,
  expectFullServiceWithin,
  expectStillOneRecordAfterALaterCall,
  expectTryAgainLater,
} from '../tasks/failover-database';

/**
 * Failover of the API gateway and the database (TEST-INT-043, 044): what the surviving gateway
 * node knows of the dead one's work, and what the platform does while its store refuses writes.
 * The crash itself is the shared step in failover.steps.ts.
 */
const longStep = { timeout: FAILOVER_STEP_TIMEOUT_MS };

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

Then(
  "after a later call of {person}'s is recorded, her call during the outage still has exactly one record",
  longStep,
  function (this: Phase2World, name: string) {
    return expectStillOneRecordAfterALaterCall(this, name);
  },
);
