import { DataTable, Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  startCampaign,
  createCampaign,
  startCampaignAtRate,
  scheduleCampaign,
  expectScheduledAndNobodyTextedYet,
  expectEachReachableContactTextedOnce,
  expectOptedOutPersonNotTexted,
  expectCampaignPace,
  scheduleCampaignForTomorrow,
  cancelCampaign,
  expectTemplateInUseCannotBeDeleted,
  runCampaignToEachOfThem,
  expectNobodyTextedBeforeTheStart,
} from '../tasks/campaigns';
import {
  pauseCampaignAfter,
  cancelCampaignAfter,
  expectNobodyElseTextedWhileHeld,
  resumeCampaign,
  expectTheRestTextedOnlyAfterResume,
  expectCancelledCampaignStaysCancelled,
} from '../tasks/campaign-pauses';
import {
  expectCampaignStatisticsAgreeWithin,
  expectUnreachedCountedAsCancelled,
} from '../tasks/campaign-figures';
import {
  expectListAcceptedWithSkippedRows,
  uploadContactListOrFail,
  uploadList,
} from '../tasks/contact-lists';
import { replyStop } from '../tasks/opt-outs';

/**
 * SMS campaigns: contact lists uploaded as CSV, campaigns started, scheduled, paused, resumed and
 * cancelled through the API, opt-outs by texting STOP. Every outcome is checked on the handsets
 * (the ground truth) and against the campaign's own statistics.
 */

Given(
  "{person} has replied STOP to {string}'s texts",
  async function (this: Phase2World, name: string, customerName: string) {
    await replyStop(this, name, customerName);
  },
);

When(
  "{person} replies STOP to {string}'s texts",
  async function (this: Phase2World, name: string, customerName: string) {
    await replyStop(this, name, customerName);
  },
);

Given(
  '{string} has uploaded the contact list {string}:',
  function (this: Phase2World, customerName: string, name: string, table: DataTable) {
    return uploadContactListOrFail(this, customerName, name, table);
  },
);

When(
  '{string} uploads the contact list {string}:',
  async function (this: Phase2World, customerName: string, name: string, table: DataTable) {
    await uploadList(this, customerName, name, table.raw());
  },
);

Then(
  'the list {string} is accepted with {int} contacts, and the upload report skips these rows:',
  function (this: Phase2World, name: string, contacts: number, table: DataTable) {
    return expectListAcceptedWithSkippedRows(this, name, contacts, table);
  },
);

When(
  '{string} starts the campaign {string} with the template {string} and the list {string}',
  async function (this: Phase2World, customerName: string, name: string, template: string, list: string) {
    await startCampaign(this, await createCampaign(this, customerName, name, template, list, {}));
  },
);

When(
  '{string} starts the campaign {string} with the template {string} and the list {string}, sending {int} texts a second',
  function (
    this: Phase2World,
    customerName: string,
    name: string,
    template: string,
    list: string,
    rate: number,
  ) {
    return startCampaignAtRate(this, customerName, name, template, list, rate);
  },
);

When(
  '{string} schedules the campaign {string} with the template {string} and the list {string} to start {int} second(s) from now',
  function (
    this: Phase2World,
    customerName: string,
    name: string,
    template: string,
    list: string,
    seconds: number,
  ) {
    return scheduleCampaign(this, customerName, name, template, list, seconds);
  },
);

Then(
  'the campaign is scheduled, and nobody has been texted before its start time',
  function (this: Phase2World) {
    return expectScheduledAndNobodyTextedYet(this);
  },
);

Then(
  'each contact whose phone can be reached receives exactly one text, filled in from their own row',
  function (this: Phase2World) {
    return expectEachReachableContactTextedOnce(this);
  },
);

Then(
  '{person} receives nothing from the campaign, and a text to her/him through the API is refused because she/he opted out',
  function (this: Phase2World, name: string) {
    return expectOptedOutPersonNotTexted(this, name);
  },
);

Then(
  "within {int} seconds the campaign's statistics agree with the handsets and the network:",
  function (this: Phase2World, seconds: number, table: DataTable) {
    return expectCampaignStatisticsAgreeWithin(this, seconds, table);
  },
);

When(
  '{string} pauses the campaign as soon as {int} contacts have received it',
  function (this: Phase2World, customerName: string, count: number) {
    return pauseCampaignAfter(this, customerName, count);
  },
);

When(
  '{string} cancels the campaign as soon as {int} contacts have received it',
  function (this: Phase2World, customerName: string, count: number) {
    return cancelCampaignAfter(this, customerName, count);
  },
);

Then(
  /^nobody else is texted while the campaign (?:stays paused|is cancelled)$/,
  function (this: Phase2World) {
    return expectNobodyElseTextedWhileHeld(this);
  },
);

Then(
  "the campaign's texts reached the mobile network no faster than {int} a second",
  function (this: Phase2World, perSecond: number) {
    return expectCampaignPace(this, perSecond);
  },
);

When('{string} resumes the campaign', function (this: Phase2World, customerName: string) {
  return resumeCampaign(this, customerName);
});

Then(
  'the contacts not texted before the pause receive it only after it was resumed',
  function (this: Phase2World) {
    return expectTheRestTextedOnlyAfterResume(this);
  },
);

Then(
  'the campaign can be neither resumed nor started again, as it is cancelled',
  function (this: Phase2World) {
    return expectCancelledCampaignStaysCancelled(this);
  },
);

// ---- campaigns in other features (templates, analytics) ----

Given(
  '{string} has scheduled a campaign {string} with the template {string} for tomorrow',
  function (this: Phase2World, customerName: string, name: string, templateName: string) {
    return scheduleCampaignForTomorrow(this, customerName, name, templateName);
  },
);

When(
  '{string} cancels the campaign {string}',
  function (this: Phase2World, customerName: string, name: string) {
    return cancelCampaign(this, customerName, name);
  },
);

Then(
  'deleting the template {string} is refused because the campaign {string} uses it, and the template stays',
  function (this: Phase2World, templateName: string, campaignName: string) {
    return expectTemplateInUseCannotBeDeleted(this, templateName, campaignName);
  },
);

When(
  '{string} runs a campaign {string} to each of them reading {string}',
  function (this: Phase2World, customerName: string, name: string, text: string) {
    return runCampaignToEachOfThem(this, customerName, name, text);
  },
);

Then(
  'no contact received it before the scheduled start, and the first received it on time',
  function (this: Phase2World) {
    return expectNobodyTextedBeforeTheStart(this);
  },
);

Then(
  "the campaign's statistics count the contacts it never reached as cancelled, and the others as delivered",
  function (this: Phase2World) {
    return expectUnreachedCountedAsCancelled(this);
  },
);
