import { Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import { stubSpeechToText } from '../support/providers';
import {
  callWhileAway,
  expectVoicemailGreeting,
  leaveAMessage,
  expectProviderReceivedTheRecording,
  expectTranscriptOnMobile,
  expectVoicemailNoticeWithoutTranscript,
  expectVoicemailAndTranscriptFetchable,
} from '../tasks/voicemail';

/**
 * Voicemail: unanswered calls reach the subscriber's greeting, the caller's message is recorded,
 * transcribed by the speech-to-text provider and texted to the subscriber's mobile.
 */

Given('the speech-to-text provider hears {string}', function (this: Phase2World, transcript: string) {
  stubSpeechToText(this, { transcript });
});

Given('the speech-to-text provider is out of service', function (this: Phase2World) {
  stubSpeechToText(this, { failWith: 503 });
});

When(
  "{person} calls {person}'s number while she/he is away from her/his desk",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return callWhileAway(this, callerName, calleeName);
  },
);

Then(
  "{person} hears {person}'s voicemail greeting",
  function (this: Phase2World, callerName: string, calleeName: string) {
    return expectVoicemailGreeting(this, callerName, calleeName);
  },
);

When(
  '{person} leaves a message of {int} second(s) and hangs up',
  function (this: Phase2World, callerName: string, seconds: number) {
    return leaveAMessage(this, callerName, seconds);
  },
);

Then(
  "the speech-to-text provider received {person}'s message as telephone audio of about {int} second(s)",
  function (this: Phase2World, callerName: string, seconds: number) {
    return expectProviderReceivedTheRecording(this, callerName, seconds);
  },
);

Then(
  "{person}'s mobile receives the transcript of {person}'s message",
  function (this: Phase2World, name: string, callerName: string) {
    return expectTranscriptOnMobile(this, name, callerName);
  },
);

Then(
  "{person}'s mobile is told of the voicemail from {person}, without a transcript",
  function (this: Phase2World, name: string, callerName: string) {
    return expectVoicemailNoticeWithoutTranscript(this, name, callerName);
  },
);

Then('the voicemail and its transcript can be fetched through the API', function (this: Phase2World) {
  return expectVoicemailAndTranscriptFetchable(this);
});
