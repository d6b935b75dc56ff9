import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  setUpCallBackLines,
  giveAMobileThatAnswersCalls,
  textKeywordToCallBackLine,
  expectCallBackOnTheMobile,
  answerTheCallBackAtTheAgentsPhone,
  expectCallBackPartiesHearEachOther,
  expectReplyExplainingTheKeyword,
  expectNobodyCalledBack,
  expectToldOfTheCallBack,
  expectCallBackRecordOnceHungUp,
  type CallbackLine,
} from '../tasks/callback';

/**
 * Call-backs by SMS keyword: a handset texts CALL ME to a customer's short code or callback
 * number; the platform calls the handset back over the trunk and connects the customer's agent.
 */

Given(
  "{person} takes the call-backs asked for on {string}'s short code and callback number",
  function (this: Phase2World, agentName: string, customerName: string) {
    return setUpCallBackLines(this, agentName, customerName);
  },
);

Given('{person} has a mobile phone that answers calls', function (this: Phase2World, name: string) {
  return giveAMobileThatAnswersCalls(this, name);
});

When(
  "{person} texts {string} to {string}'s {callbackLine}",
  function (this: Phase2World, name: string, text: string, customerName: string, line: CallbackLine) {
    return textKeywordToCallBackLine(this, name, text, customerName, line);
  },
);

Then(
  "{person}'s mobile rings with a call from {string}",
  function (this: Phase2World, name: string, customerName: string) {
    return expectCallBackOnTheMobile(this, name, customerName);
  },
);

Then(
  "{person}'s phone rings with {person}'s call back and {person} answers",
  function (this: Phase2World, agentName: string, callerName: string, answerer: string) {
    return answerTheCallBackAtTheAgentsPhone(this, agentName, callerName, answerer);
  },
);

Then('{person} and {person} hear each other', function (this: Phase2World, aName: string, bName: string) {
  return expectCallBackPartiesHearEachOther(this, aName, bName);
});

Then(
  "{person}'s mobile receives a reply explaining to text CALL ME",
  function (this: Phase2World, name: string) {
    return expectReplyExplainingTheKeyword(this, name);
  },
);

Then('nobody is called back', function (this: Phase2World) {
  return expectNobodyCalledBack(this);
});

Then(
  '{person} is told by text that {string} is calling her/him back, and from which number',
  function (this: Phase2World, name: string, customerName: string) {
    return expectToldOfTheCallBack(this, name, customerName);
  },
);

Then(
  "once {person} hangs up, the call back is on record as {string}'s answered call to her/him",
  function (this: Phase2World, name: string, customerName: string) {
    return expectCallBackRecordOnceHungUp(this, name, customerName);
  },
);
