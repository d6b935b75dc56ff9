import { DataTable, Given, Then, When } from '@cucumber/cucumber';
import type { Phase2World } from '../world/world';
import {
  giveThemMobilePhones,
  giveThemMobilePhonesAtSpeeds,
  textEachOfThemThroughTheApi,
  expectAnalyticsAgreeWithHandsetsWithin,
  expectWindowedAnalyticsCountOnlyTheSecondBatch,
  expectCampaignAnalyticsAgreeWithHandsets,
} from '../tasks/analytics';

/**
 * SMS analytics through the API, checked against the ground truth the suite saw itself: what
 * reached each handset and what the mobile network reported.
 */

Given('these people have mobile phones:', function (this: Phase2World, table: DataTable) {
  return giveThemMobilePhones(this, table);
});

Given(
  'these people have mobile phones on networks that deliver at different speeds:',
  function (this: Phase2World, table: DataTable) {
    return giveThemMobilePhonesAtSpeeds(this, table);
  },
);

When(
  '{string} texts each of them {string} through the API',
  function (this: Phase2World, customerName: string, text: string) {
    return textEachOfThemThroughTheApi(this, customerName, text);
  },
);

Then(
  "within {int} seconds the API's analytics agree with what the handsets received and the network reported",
  function (this: Phase2World, seconds: number) {
    return expectAnalyticsAgreeWithHandsetsWithin(this, seconds);
  },
);

Then(
  "the analytics for the window of the second batch count only the second batch's texts",
  function (this: Phase2World) {
    return expectWindowedAnalyticsCountOnlyTheSecondBatch(this);
  },
);

Then(
  "the analytics of the campaign {string} agree with what its contacts' handsets received and the network reported",
  function (this: Phase2World, name: string) {
    return expectCampaignAnalyticsAgreeWithHandsets(this, name);
  },
);
