import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectTheCallAmongLiveCalls,
  holdThroughTheApi,
  resumeThroughTheApi,
  expectTheyNoLongerHearEachOther,
  expectTheyHearEachOtherAgain,
  transferThroughTheApi,
  expectPhoneReleased,
  answerTheTransferAndTalk,
  expectTransferInTheCallRecordOnceHungUp,
  hangUpThroughTheApi,
  expectBothHungUpByThePlatform,
  expectCallRecordEndedBy,
  expectTheCallNoLongerLive,
  liveCall,
  expectHoldOfTheEndedCallRefused,
  expectHangingUpAnUnknownCallRefused,
  expectCannotSeeNorControlTheCall,
} from '../tasks/call-control';

/**
 * Live call control through the API: a supervisor's application lists the calls in progress,
 * holds and resumes them, transfers them and hangs them up.
 */

Then(
  '{string} sees the call between {person} and {person} among its live calls, answered',
  function (this: Phase2World, customerName: string, callerName: string, calleeName: string) {
    return expectTheCallAmongLiveCalls(this, customerName, callerName, calleeName);
  },
);

When('{string} puts the call on hold through the API', function (this: Phase2World, customerName: string) {
  return holdThroughTheApi(this, customerName);
});

When('{string} resumes the call through the API', function (this: Phase2World, customerName: string) {
  return resumeThroughTheApi(this, customerName);
});

Then(
  '{person} and {person} no longer hear each other',
  function (this: Phase2World, aName: string, bName: string) {
    return expectTheyNoLongerHearEachOther(this, aName, bName);
  },
);

Then(
  '{person} and {person} hear each other again',
  function (this: Phase2World, aName: string, bName: string) {
    return expectTheyHearEachOtherAgain(this, aName, bName);
  },
);

When(
  '{string} transfers the call to {person} through the API',
  function (this: Phase2World, customerName: string, targetName: string) {
    return transferThroughTheApi(this, customerName, targetName);
  },
);

Then("{person}'s phone is released", function (this: Phase2World, name: string) {
  return expectPhoneReleased(this, name);
});

When(
  "{person}'s line answers and {person} and {person} hear each other",
  function (this: Phase2World, targetName: string, keptName: string, targetAgain: string) {
    return answerTheTransferAndTalk(this, targetName, keptName, targetAgain);
  },
);

Then(
  'once {person} hangs up, the call record shows the call transferred to {person}',
  function (this: Phase2World, keptName: string, targetName: string) {
    return expectTransferInTheCallRecordOnceHungUp(this, keptName, targetName);
  },
);

When('{string} hangs up the call through the API', function (this: Phase2World, customerName: string) {
  return hangUpThroughTheApi(this, customerName);
});

Then(
  'both {person} and {person} are hung up by the platform',
  function (this: Phase2World, aName: string, bName: string) {
    return expectBothHungUpByThePlatform(this, aName, bName);
  },
);

Then('the call record shows the call ended by the platform', function (this: Phase2World) {
  return expectCallRecordEndedBy(this);
});

Then("the call is no longer among {string}'s live calls", function (this: Phase2World, customerName: string) {
  return expectTheCallNoLongerLive(this, customerName);
});

When(
  '{string} looks the call up among its live calls',
  async function (this: Phase2World, customerName: string) {
    await liveCall(this, customerName);
  },
);

Then(
  '{string} cannot hold, resume or transfer that call any more: it is not found',
  function (this: Phase2World, customerName: string) {
    return expectHoldOfTheEndedCallRefused(this, customerName);
  },
);

Then(
  '{string} cannot hang up a call that never existed: it is not found',
  function (this: Phase2World, customerName: string) {
    return expectHangingUpAnUnknownCallRefused(this, customerName);
  },
);

Then(
  "{string} can neither see nor control {string}'s call",
  function (this: Phase2World, outsider: string, owner: string) {
    return expectCannotSeeNorControlTheCall(this, outsider, owner);
  },
);
