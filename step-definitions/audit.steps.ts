import { Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  expectChangesInOwnTrail,
  expectDeniedUsesInOwnTrail,
  expectOperatorSeesChanges,
  expectOtherTrailHidden,
  expectRefusedKeyInOperatorTrail,
  expectRenameBeforeAfter,
  expectSecretsNeverInTrail,
  expectTrailBrokenAtTamperedEntry,
  expectTrailIntact,
  makeAuditedChanges,
  tamperWithLatestEntry,
} from '../tasks/audit';

When(
  '{string} provisions a trunk to their carrier, renames it and adds a message template through the API',
  function (this: Phase2World, customerName: string) {
    return makeAuditedChanges(this, customerName);
  },
);

Then(
  "{string}'s audit trail shows each of those changes exactly once, by the customer, from the address it came from, under the request that made it",
  function (this: Phase2World, customerName: string) {
    return expectChangesInOwnTrail(this, customerName);
  },
);

Then("the trunk's renaming shows its name before and after", function (this: Phase2World) {
  return expectRenameBeforeAfter(this);
});

Then(
  "{string}'s audit trail shows its creation, {person}'s SIP account and the webhook without their secrets",
  function (this: Phase2World, customerName: string, name: string) {
    return expectSecretsNeverInTrail(this, customerName, name);
  },
);

Then(
  "the operator's audit trail shows the refused key with the address and request it came from, but not the key",
  function (this: Phase2World) {
    return expectRefusedKeyInOperatorTrail(this);
  },
);

Then(
  "{string}'s audit trail shows each refused use of an operator endpoint",
  function (this: Phase2World, customerName: string) {
    return expectDeniedUsesInOwnTrail(this, customerName);
  },
);

Then(
  "{string} finds none of {string}'s changes in its audit trail and may not ask for another customer's",
  function (this: Phase2World, readerName: string, ownerName: string) {
    return expectOtherTrailHidden(this, readerName, ownerName);
  },
);

Then(
  "the operator's audit trail shows {string}'s changes",
  function (this: Phase2World, customerName: string) {
    return expectOperatorSeesChanges(this, customerName);
  },
);

Then('the platform verifies its audit trail intact', function (this: Phase2World) {
  return expectTrailIntact(this);
});

When(
  "someone with direct access to the database edits {string}'s latest audit entry",
  function (this: Phase2World, customerName: string) {
    return tamperWithLatestEntry(this, customerName);
  },
);

Then(
  "the platform's verification finds the audit trail broken at exactly that entry",
  function (this: Phase2World) {
    return expectTrailBrokenAtTamperedEntry(this);
  },
);
