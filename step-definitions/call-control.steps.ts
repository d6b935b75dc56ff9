import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  seesTheCallBetweenAndAmongItsLive,
  putsTheCallOnHoldThroughTheApi,
  resumesTheCallThroughTheApi,
  andNoLongerHearEachOther,
  andHearEachOtherAgain,
  transfersTheCallToThroughTheApi,
  phoneIsReleased,
  lineAnswersAndAndHearEachOther,
  onceHangsUpTheCallRecordShowsThe,
  hangsUpTheCallThroughTheApi,
  bothAndAreHungUpByThePlatform,
  theCallRecordShowsTheCallEndedBy,
  theCallIsNoLongerAmongLiveCalls,
  liveCall,
  cannotPutThatCallOnHoldAnyMore,
  cannotHangUpACallThatNeverExisted,
  canNeitherSeeNorControlCall,
} from '../tasks/call-control';

/**
 * Live call control through the API: a supervisor's application lists the calls in progress,
 * holds and resumes them, transfers them and hangs them up.
 */

Then(
  '{string} sees the call between {person} and {person} among its live calls, answered',
  function (this: Phase2World, customerName: string, callerName: string, calleeName: string) {
    return seesTheCallBetweenAndAmongItsLive(this, customerName, callerName, calleeName);
  },
);

When('{string} puts the call on hold through the API', function (this: Phase2World, customerName: string) {
  return putsTheCallOnHoldThroughTheApi(this, customerName);
});

When('{string} resumes the call through the API', function (this: Phase2World, customerName: string) {
  return resumesTheCallThroughTheApi(this, customerName);
});

Then(
  '{person} and {person} no longer hear each other',
  function (this: Phase2World, aName: string, bName: string) {
    return andNoLongerHearEachOther(this, aName, bName);
  },
);

Then(
  '{person} and {person} hear each other again',
  function (this: Phase2World, aName: string, bName: string) {
    return andHearEachOtherAgain(this, aName, bName);
  },
);

When(
  '{string} transfers the call to {person} through the API',
  function (this: Phase2World, customerName: string, targetName: string) {
    return transfersTheCallToThroughTheApi(this, customerName, targetName);
  },
);

Then("{person}'s phone is released", function (this: Phase2World, name: string) {
  return phoneIsReleased(this, name);
});

When(
  "{person}'s line answers and {person} and {person} hear each other",
  function (this: Phase2World, targetName: string, keptName: string, targetAgain: string) {
    return lineAnswersAndAndHearEachOther(this, targetName, keptName, targetAgain);
  },
);

Then(
  'once {person} hangs up, the call record shows the call transferred to {person}',
  function (this: Phase2World, keptName: string, targetName: string) {
    return onceHangsUpTheCallRecordShowsThe(this, keptName, targetName);
  },
);

When('{string} hangs up the call through the API', function (this: Phase2World, customerName: string) {
  return hangsUpTheCallThroughTheApi(this, customerName);
});

Then(
  'both {person} and {person} are hung up by the platform',
  function (this: Phase2World, aName: string, bName: string) {
    return bothAndAreHungUpByThePlatform(this, aName, bName);
  },
);

Then('the call record shows the call ended by the platform', function (this: Phase2World) {
  return theCallRecordShowsTheCallEndedBy(this);
});

Then("the call is no longer among {string}'s live calls", function (this: Phase2World, customerName: string) {
  return theCallIsNoLongerAmongLiveCalls(this, customerName);
});

When(
  '{string} looks the call up among its live calls',
  async function (this: Phase2World, customerName: string) {
    await liveCall(this, customerName);
  },
);

Then(
  '{string} cannot put that call on hold any more: it is not found',
  function (this: Phase2World, customerName: string) {
    return cannotPutThatCallOnHoldAnyMore(this, customerName);
  },
);

Then(
  '{string} cannot hang up a call that never existed: it is not found',
  function (this: Phase2World, customerName: string) {
    return cannotHangUpACallThatNeverExisted(this, customerName);
  },
);

Then(
  "{string} can neither see nor control {string}'s call",
  function (this: Phase2World, outsider: string, owner: string) {
    return canNeitherSeeNorControlCall(this, outsider, owner);
  },
);
