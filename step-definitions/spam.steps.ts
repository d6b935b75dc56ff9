import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectAcceptedOnesArrive,
  expectNothingMoreFor,
  expectRefusedAsOptedOut,
  runPhishingCampaign,
  sendPlainText,
  expectRecordedAsRejected,
  expectRefusedNeverArrive,
  expectRefusedOnItsChannel,
  sendLookalikeOfAPhishingPhrase,
  sendSuspectText,
  sprayTheSameText,
  type Channel,
  type SuspectKind,
} from '../tasks/spam';

When(
  '{string} sends {person} a text with {suspectText} {sendingChannel}',
  function (this: Phase2World, customerName: string, name: string, kind: SuspectKind, channel: Channel) {
    return sendSuspectText(this, customerName, name, kind, channel);
  },
);

When(
  '{string} sends {person} a text that shares words with a phishing phrase',
  function (this: Phase2World, customerName: string, name: string) {
    return sendLookalikeOfAPhishingPhrase(this, customerName, name);
  },
);

When(
  '{string} sends the same text to one more person than a new customer may reach with it in a short time',
  function (this: Phase2World, customerName: string) {
    return sprayTheSameText(this, customerName);
  },
);

Then(
  'the platform refuses it on the channel it came from, naming the rule it broke',
  function (this: Phase2World) {
    expectRefusedOnItsChannel(this);
  },
);

Then(
  "{string}'s webhook reports it rejected, and the API shows it rejected as spam under that rule",
  function (this: Phase2World, customerName: string) {
    return expectRecordedAsRejected(this, customerName);
  },
);

Then('no phone ever receives the refused text', function (this: Phase2World) {
  return expectRefusedNeverArrive(this);
});

Then('everyone up to the limit receives the text', function (this: Phase2World) {
  return expectAcceptedOnesArrive(this);
});

When(
  '{string} sends {person} a text {sendingChannel}',
  function (this: Phase2World, customerName: string, name: string, channel: Channel) {
    return sendPlainText(this, customerName, name, channel);
  },
);

Then('the platform refuses it because {person} opted out', function (this: Phase2World, name: string) {
  expectRefusedAsOptedOut(this, name);
});

Then(
  "{person}'s phone receives nothing more from {string}",
  function (this: Phase2World, name: string, customerName: string) {
    return expectNothingMoreFor(this, name, customerName);
  },
);

When(
  '{string} runs a campaign to everyone with a phishing phrase in its wording',
  function (this: Phase2World, customerName: string) {
    return runPhishingCampaign(this, customerName);
  },
);
