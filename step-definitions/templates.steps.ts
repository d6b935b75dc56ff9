import { DataTable, Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  hasATemplateReading,
  readsTheTemplateBackWithTheVariables,
  changesTheTemplateToRead,
  textsWithTheTemplateAndTheseValues,
  phoneReceivesExactlyFromNumber,
  theSendIsRefusedNamingTheVariableAs,
  deletesTheTemplate,
  theTemplateIsNoLongerAmongTemplatesAnd,
  cannotSeeOrUseTemplate,
} from '../tasks/templates';

/** Message templates through the API, and texts sent with them. */

Given(
  '{string} has a template {string} reading {string}',
  function (this: Phase2World, customerName: string, name: string, body: string) {
    return hasATemplateReading(this, customerName, name, body);
  },
);

Then(
  '{string} reads the template {string} back with the variables {string}',
  function (this: Phase2World, customerName: string, name: string, variables: string) {
    return readsTheTemplateBackWithTheVariables(this, customerName, name, variables);
  },
);

When(
  '{string} changes the template {string} to read {string}',
  function (this: Phase2World, customerName: string, name: string, body: string) {
    return changesTheTemplateToRead(this, customerName, name, body);
  },
);

When(
  '{string} texts {person} with the template {string} and these values:',
  function (this: Phase2World, customerName: string, name: string, template: string, table: DataTable) {
    return textsWithTheTemplateAndTheseValues(this, customerName, name, template, table);
  },
);

Then(
  "{person}'s phone receives exactly {string} from {string}'s number",
  function (this: Phase2World, name: string, expected: string, customerName: string) {
    return phoneReceivesExactlyFromNumber(this, name, expected, customerName);
  },
);

Then(
  'the send is refused, naming the variable {string} as missing',
  function (this: Phase2World, variable: string) {
    return theSendIsRefusedNamingTheVariableAs(this, variable);
  },
);

When(
  '{string} deletes the template {string}',
  function (this: Phase2World, customerName: string, name: string) {
    return deletesTheTemplate(this, customerName, name);
  },
);

Then(
  'the template {string} is no longer among {string}\'s templates, and reading it is "not found"',
  function (this: Phase2World, name: string, customerName: string) {
    return theTemplateIsNoLongerAmongTemplatesAnd(this, name, customerName);
  },
);

Then(
  "{string} cannot see or use {string}'s template {string}",
  function (this: Phase2World, outsider: string, owner: string, name: string) {
    return cannotSeeOrUseTemplate(this, outsider, owner, name);
  },
);
