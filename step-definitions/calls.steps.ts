import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  registerPhone,
  giveAnOutsideLineThatAnswers,
  giveAnOutsideLineThatIsBusy,
  giveAnOutsideLineThatIsOutOfService,
  placeCall,
  answerAndTalk,
  callAndTalk,
  hangUp,
  expectCallerShownOnPhone,
  expectHeardEachOtherThroughThePlatform,
  expectAnsweredTrunkCallRecord,
  expectHearsBusy,
  expectBusyTrunkCallRecord,
  registerWithAWrongPassword,
  expectRegistrationRefusedAsUnauthorised,
  sendAMalformedCallRequest,
  expectMalformedRequestRejected,
  expectPhoneCanStillRegister,
  listenWhileTheOtherTalks,
  expectRecordSaysWhoHungUp,
} from '../tasks/voice';
import {
  registerForAShortWhile,
  waitForRenewals,
  expectCallStillRings,
  expectRingsHalfwayThrough,
  expectUnavailableOnceLapsed,
  expectCallFindsUnavailable,
} from '../tasks/registration';

Given("{person}'s phone is registered", function (this: Phase2World, name: string) {
  return registerPhone(this, name);
});

Given('{person} is on an outside line that answers calls', function (this: Phase2World, name: string) {
  return giveAnOutsideLineThatAnswers(this, name);
});

Given('{person} is on an outside line that is busy', function (this: Phase2World, name: string) {
  return giveAnOutsideLineThatIsBusy(this, name);
});

Given('{person} is on an outside line that is out of service', function (this: Phase2World, name: string) {
  return giveAnOutsideLineThatIsOutOfService(this, name);
});

When('{person} calls {person}', async function (this: Phase2World, callerName: string, calleeName: string) {
  await placeCall(this, callerName, calleeName);
});

When('{person} answers and they talk for a moment', async function (this: Phase2World, calleeName: string) {
  await answerAndTalk(this, calleeName);
});

Given(
  '{person} has called {person} and they are talking',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return callAndTalk(this, callerName, calleeName);
  },
);

When('{person} hangs up', function (this: Phase2World, name: string) {
  return hangUp(this, name);
});

Then(
  "{person}'s phone showed {person}'s number as the caller",
  function (this: Phase2World, calleeName: string, callerName: string) {
    return expectCallerShownOnPhone(this, calleeName, callerName);
  },
);

Then(
  '{person} and {person} heard each other, with the call audio carried by the platform',
  function (this: Phase2World, aName: string, bName: string) {
    return expectHeardEachOtherThroughThePlatform(this, aName, bName);
  },
);

Then(
  'the call record shows {person} calling {person} over the trunk, answered, for as long as they talked',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectAnsweredTrunkCallRecord(this, callerName, calleeName);
  },
);

Then(
  '{person} hears that {person} is busy',
  function (this: Phase2World, _callerName: string, calleeName: string) {
    return expectHearsBusy(this, _callerName, calleeName);
  },
);

Then(
  'the call record shows {person} calling {person} over the trunk, busy',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectBusyTrunkCallRecord(this, callerName, calleeName);
  },
);

When("{person}'s phone tries to register with a wrong password", function (this: Phase2World, name: string) {
  return registerWithAWrongPassword(this, name);
});

Then('the registration is refused as unauthorised', function (this: Phase2World) {
  return expectRegistrationRefusedAsUnauthorised(this);
});

When('a device sends the platform a malformed call request', function (this: Phase2World) {
  return sendAMalformedCallRequest(this);
});

Then('the platform rejects the malformed request', function (this: Phase2World) {
  return expectMalformedRequestRejected(this);
});

Then("{person}'s phone can still register", function (this: Phase2World, name: string) {
  return expectPhoneCanStillRegister(this, name);
});

When(
  '{person} listens while {person} keeps talking',
  function (this: Phase2World, listener: string, talker: string) {
    return listenWhileTheOtherTalks(this, listener, talker);
  },
);

Then('the call record says that {person} hung up', function (this: Phase2World, name: string) {
  return expectRecordSaysWhoHungUp(this, name);
});

Given(
  "{person}'s phone registers for a short while and keeps renewing it",
  function (this: Phase2World, name: string) {
    return registerForAShortWhile(this, name, true);
  },
);

Given(
  "{person}'s phone registers for a short while and then stops renewing it",
  function (this: Phase2World, name: string) {
    return registerForAShortWhile(this, name, false);
  },
);

When("{person}'s phone has renewed its registration twice", function (this: Phase2World, name: string) {
  return waitForRenewals(this, name, 2);
});

Then(
  "a call from {person} still rings {person}'s phone",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectCallStillRings(this, callerName, calleeName);
  },
);

Then(
  "a call from {person} halfway through {person}'s registration rings her phone",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectRingsHalfwayThrough(this, callerName, calleeName);
  },
);

Then(
  "once {person}'s registration has run out, a call from {person} finds her unavailable",
  function (this: Phase2World, calleeName: string, callerName: string) {
    return expectUnavailableOnceLapsed(this, callerName, calleeName);
  },
);

Then(
  'a call from {person} finds {person} unavailable',
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectCallFindsUnavailable(this, callerName, calleeName);
  },
);
