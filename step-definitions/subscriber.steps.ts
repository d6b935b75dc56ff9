import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  fileMobile,
  expectMissedCallText,
  expectWithheldMissedCallText,
  expectNoMissedCallText,
  textBusinessNumber,
  expectForwardingConfirmed,
  forwardCallsByText,
  expectForwardingOffConfirmed,
  expectNotAPhoneNumberError,
  expectCallsNotForwarded,
  textForwardFromAStranger,
  expectStrangerIgnored,
  expectCallRingsForwardedLine,
  expectCallRingsPhone,
  answerAndHearEachOther,
  expectForwardedCallRecordOnceHungUp,
} from '../tasks/subscriber';

/**
 * A subscriber's voice services that meet SMS: missed-call texts to their mobile, and call
 * forwarding they set by texting their own business number from that mobile.
 */

Given(
  '{person} has asked for missed calls to be texted to her/his mobile',
  async function (this: Phase2World, name: string) {
    await fileMobile(this, name, { missedCallSms: true });
  },
);

Given('{person} has her/his mobile on file', async function (this: Phase2World, name: string) {
  await fileMobile(this, name, {});
});

Given(
  '{person} has voicemail, with messages texted to her/his mobile',
  async function (this: Phase2World, name: string) {
    await fileMobile(this, name, { voicemail: true });
  },
);

Then(
  "{person}'s mobile receives a text naming {person}'s number and the time of his/her call",
  function (this: Phase2World, name: string, callerName: string) {
    return expectMissedCallText(this, name, callerName);
  },
);

Then(
  "{person}'s mobile receives a text about a call from a withheld number",
  function (this: Phase2World, name: string) {
    return expectWithheldMissedCallText(this, name);
  },
);

Then(
  "{person}'s mobile receives no text about {person}'s call",
  function (this: Phase2World, name: string, callerName: string) {
    return expectNoMissedCallText(this, name, callerName);
  },
);

When(
  '{person} texts {string} from her/his mobile to her/his business number',
  async function (this: Phase2World, name: string, text: string) {
    await textBusinessNumber(this, name, text);
  },
);

When(
  "{person} texts FORWARD and {person}'s number from her/his mobile to her/his business number",
  async function (this: Phase2World, name: string, target: string) {
    await textBusinessNumber(this, name, `FORWARD ${this.person(target).number}`);
  },
);

Then(
  "{person}'s mobile receives a confirmation that her/his calls now ring {person}'s number",
  async function (this: Phase2World, name: string, target: string) {
    await expectForwardingConfirmed(this, name, target);
  },
);

Given(
  '{person} has forwarded her/his calls to {person} by text',
  function (this: Phase2World, name: string, target: string) {
    return forwardCallsByText(this, name, target);
  },
);

Then(
  "{person}'s mobile receives a confirmation that forwarding is off",
  function (this: Phase2World, name: string) {
    return expectForwardingOffConfirmed(this, name);
  },
);

Then(
  "{person}'s mobile receives an error text saying {string} is not a phone number",
  function (this: Phase2World, name: string, argument: string) {
    return expectNotAPhoneNumberError(this, name, argument);
  },
);

Then("{person}'s calls are still not forwarded", function (this: Phase2World, name: string) {
  return expectCallsNotForwarded(this, name);
});

Then(
  "the call rings {person}'s line instead of {person}'s phone",
  function (this: Phase2World, targetName: string, subscriberName: string) {
    return expectCallRingsForwardedLine(this, targetName, subscriberName);
  },
);

Then("the call rings {person}'s phone", function (this: Phase2World, name: string) {
  return expectCallRingsPhone(this, name);
});

When(
  '{person} answers and {person} and {person} hear each other',
  function (this: Phase2World, answerer: string, aName: string, bName: string) {
    return answerAndHearEachOther(this, answerer, aName, bName);
  },
);

Then(
  "once {person} hangs up, the call is on record as his/her call to {person}, forwarded to {person}'s line",
  function (this: Phase2World, callerName: string, subscriberName: string, targetName: string) {
    return expectForwardedCallRecordOnceHungUp(this, callerName, subscriberName, targetName);
  },
);

When(
  "{person} texts FORWARD and her/his own number to {person}'s business number",
  function (this: Phase2World, stranger: string, name: string) {
    return textForwardFromAStranger(this, stranger, name);
  },
);

Then(
  "{person} gets no answer and {person}'s calls are still not forwarded",
  function (this: Phase2World, stranger: string, name: string) {
    return expectStrangerIgnored(this, stranger, name);
  },
);
