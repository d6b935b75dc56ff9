import { DataTable, Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  createTemplate,
  expectTemplateReadsBackWithVariables,
  changeTemplate,
  textWithTemplate,
  expectTemplatedTextFromTheNumber,
  expectRefusedNamingMissingVariable,
  deleteTemplate,
  expectTemplateGone,
  expectCannotSeeOrUseTemplate,
} from '../tasks/templates';

/** Message templates through the API, and texts sent with them. */

Given(
  '{string} has a template {string} reading {string}',
  function (this: Phase2World, customerName: string, name: string, body: string) {
    return createTemplate(this, customerName, name, body);
  },
);

Then(
  '{string} reads the template {string} back with the variables {string}',
  function (this: Phase2World, customerName: string, name: string, variables: string) {
    return expectTemplateReadsBackWithVariables(this, customerName, name, variables);
  },
);

When(
  '{string} changes the template {string} to read {string}',
  function (this: Phase2World, customerName: string, name: string, body: string) {
    return changeTemplate(this, customerName, name, body);
  },
);

When(
  '{string} texts {person} with the template {string} and these values:',
  function (this: Phase2World, customerName: string, name: string, template: string, table: DataTable) {
    return textWithTemplate(this, customerName, name, template, table);
  },
);

Then(
  "{person}'s phone receives exactly {string} from {string}'s number",
  function (this: Phase2World, name: string, expected: string, customerName: string) {
    return expectTemplatedTextFromTheNumber(this, name, expected, customerName);
  },
);

Then(
  'the send is refused, naming the variable {string} as missing',
  function (this: Phase2World, variable: string) {
    return expectRefusedNamingMissingVariable(this, variable);
  },
);

When(
  '{string} deletes the template {string}',
  function (this: Phase2World, customerName: string, name: string) {
    return deleteTemplate(this, customerName, name);
  },
);

Then(
  'the template {string} is no longer among {string}\'s templates, and reading it is "not found"',
  function (this: Phase2World, name: string, customerName: string) {
    return expectTemplateGone(this, name, customerName);
  },
);

Then(
  "{string} cannot see or use {string}'s template {string}",
  function (this: Phase2World, outsider: string, owner: string, name: string) {
    return expectCannotSeeOrUseTemplate(this, outsider, owner, name);
  },
);
