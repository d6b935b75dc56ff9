import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import type { PlatformRole } from '../world/faults/fault-injector';
import { FAILOVER_STEP_TIMEOUT_MS, crashActiveNode } from '../tasks/failover';
import {
  callAndCrashWhileRinging,
  expectCallRecordAcrossRelayCrash,
  expectAnsweredOrRefusedClearly,
  expectRefusedOnceNotRetried,
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
  disconnectBeforeTheReceipt,
  expectDeliveryLearntWhileAway,
  expectRecordedTextNotResent,
} from '../tasks/failover-messaging';

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
  "{person}'s call is refused once, and {person}'s line was offered it only once",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectRefusedOnceNotRetried(this, callerName, calleeName);
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

When(
  'the active SMSC node crashes once the network took the text, before it reported the delivery',
  function (this: Phase2World) {
    return crashSmscBeforeTheReceipt(this);
  },
);

When(
  '{string} disconnects before the network reported the delivery',
  function (this: Phase2World, customerName: string) {
    return disconnectBeforeTheReceipt(this, customerName);
  },
);

When(
  'the platform has learnt of the delivery while {string} was away',
  function (this: Phase2World, _customerName: string) {
    return expectDeliveryLearntWhileAway(this);
  },
);

Then(
  '{string} binds again to the same address within 30 seconds',
  longStep,
  function (this: Phase2World, customerName: string) {
    return expectRebindWithinTarget(this, customerName);
  },
);

Then(
  'the call record shows {person} calling {person} over the trunk, answered, for as long as they talked, with the media of both relays',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectCallRecordAcrossRelayCrash(this, callerName, calleeName);
  },
);

Then(
  'the text the platform had recorded as taken by the network was not sent to it again',
  function (this: Phase2World) {
    return expectRecordedTextNotResent(this);
  },
);
