import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectAnswerCarriesReference,
  expectEachRefusedAsOperatorOnly,
  expectRefusedForUnknownApiKey,
  expectRequestLogShows,
  sendWithAnUnknownApiKey,
  textQuotingAReference,
  tryEveryOperatorEndpoint,
} from '../tasks/api-access';

When(
  "{string} tries each of the operator's endpoints with its own API key",
  function (this: Phase2World, customerName: string) {
    return tryEveryOperatorEndpoint(this, customerName);
  },
);

Then('each of them is refused as reserved for the platform operator', function (this: Phase2World) {
  expectEachRefusedAsOperatorOnly(this);
});

When(
  '{string} texts {person} {string} through the API, quoting a reference of its own',
  function (this: Phase2World, customerName: string, name: string, text: string) {
    return textQuotingAReference(this, customerName, name, text);
  },
);

Then("the answer carries {string}'s reference", function (this: Phase2World, customerName: string) {
  expectAnswerCarriesReference(this, customerName);
});

Then(
  "the platform's request log shows the request under that reference, from {string}, with its outcome",
  function (this: Phase2World, customerName: string) {
    return expectRequestLogShows(this, customerName);
  },
);

When(
  'someone asks to send {person} a text with an API key the platform does not know',
  function (this: Phase2World, name: string) {
    return sendWithAnUnknownApiKey(this, name);
  },
);

Then('the request is refused because its API key is unknown', function (this: Phase2World) {
  expectRefusedForUnknownApiKey(this);
});
