@TEST-INT-021 @api-sms @week2
Feature: SMS campaigns reach each contact once, and their statistics match the handsets
  A customer sends one template to a list of contacts uploaded as a CSV file. A campaign starts
  at once or at a scheduled time, and can be paused, resumed and cancelled. Every contact gets
  exactly one text, filled in from their own row; people who replied STOP get none; rows with
  malformed numbers are skipped and reported by line. The campaign's statistics (pending, sent,
  delivered, failed) equal what the handsets received and what the mobile network reported.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And "Parcelly" has a template "spring" reading "Hi {{name}}, {{offer}} off everything this weekend."

  @severity:critical
  Scenario: Every contact gets exactly one text with their own values, and the statistics agree
    Given these people have mobile phones:
      | person | network                |
      | Anna   | delivers               |
      | Ben    | delivers               |
      | Dev    | cannot reach the phone |
      | Erin   | delivers               |
      | Cleo   | delivers               |
    And Erin has replied STOP to "Parcelly"'s texts
    And "Parcelly" has uploaded the contact list "spring customers":
      | number        | name | offer |
      | Anna's mobile | Anna | 20%   |
      | Ben's mobile  | Ben  | 15%   |
      | Dev's mobile  | Dev  | 10%   |
      | Erin's mobile | Erin | 25%   |
      | Cleo's mobile | Cleo | 30%   |
    When "Parcelly" starts the campaign "Spring sale" with the template "spring" and the list "spring customers"
    Then each contact whose phone can be reached receives exactly one text, filled in from their own row
    And Erin receives nothing from the campaign, and a text to her through the API is refused because she opted out
    And within 2 seconds the campaign's statistics agree with the handsets and the network:
      | contacts | pending | sent | delivered | failed | opted out | cancelled |
      | 5        | 0       | 0    | 3         | 1      | 1         | 0         |

  Scenario: A contact list with malformed numbers is accepted; each bad row is reported by line and skipped
    Given these people have mobile phones:
      | person | network  |
      | Anna   | delivers |
      | Ben    | delivers |
    When "Parcelly" uploads the contact list "mixed":
      | number        | name | offer |
      | Anna's mobile | Anna | 20%   |
      | 07700 900123  | Xavi | 10%   |
      | +44           | Yann | 5%    |
      | Ben's mobile  | Ben  | 15%   |
      | Anna's mobile | Anna | 99%   |
    Then the list "mixed" is accepted with 2 contacts, and the upload report skips these rows:
      | line | number        | reason                                 |
      | 3    | 07700 900123  | not a mobile number in international format |
      | 4    | +44           | not a mobile number in international format |
      | 6    | Anna's mobile | already on the list (line 2)           |
    When "Parcelly" starts the campaign "Mixed" with the template "spring" and the list "mixed"
    Then each contact whose phone can be reached receives exactly one text, filled in from their own row
    And within 2 seconds the campaign's statistics agree with the handsets and the network:
      | contacts | pending | sent | delivered | failed | opted out | cancelled |
      | 2        | 0       | 0    | 2         | 0      | 0         | 0         |

  Scenario: A scheduled campaign sends nothing before its start time, then reaches everyone
    Given these people have mobile phones:
      | person | network  |
      | Anna   | delivers |
      | Ben    | delivers |
    And "Parcelly" has uploaded the contact list "weekend":
      | number        | name | offer |
      | Anna's mobile | Anna | 20%   |
      | Ben's mobile  | Ben  | 15%   |
    When "Parcelly" schedules the campaign "Weekend" with the template "spring" and the list "weekend" to start 2 seconds from now
    Then the campaign is scheduled, and nobody has been texted before its start time
    And each contact whose phone can be reached receives exactly one text, filled in from their own row
    And no contact received it before the scheduled start, and the first received it on time

  Scenario: A paused campaign sends nothing until resumed; then the rest get it once, except who replied STOP meanwhile
    Given these people have mobile phones:
      | person | network  |
      | Anna   | delivers |
      | Ben    | delivers |
      | Cleo   | delivers |
      | Dev    | delivers |
      | Erin   | delivers |
      | Fay    | delivers |
    And "Parcelly" has uploaded the contact list "spring customers":
      | number        | name | offer |
      | Anna's mobile | Anna | 20%   |
      | Ben's mobile  | Ben  | 15%   |
      | Cleo's mobile | Cleo | 30%   |
      | Dev's mobile  | Dev  | 10%   |
      | Erin's mobile | Erin | 25%   |
      | Fay's mobile  | Fay  | 5%    |
    When "Parcelly" starts the campaign "Spring sale" with the template "spring" and the list "spring customers", sending 5 texts a second
    And "Parcelly" pauses the campaign as soon as 2 contacts have received it
    Then nobody else is texted while the campaign stays paused
    When Fay replies STOP to "Parcelly"'s texts
    And "Parcelly" resumes the campaign
    Then the contacts not texted before the pause receive it only after it was resumed
    And the campaign's texts reached the mobile network no faster than 5 a second
    And each contact whose phone can be reached receives exactly one text, filled in from their own row
    And Fay receives nothing from the campaign, and a text to her through the API is refused because she opted out
    And within 2 seconds the campaign's statistics agree with the handsets and the network:
      | contacts | pending | sent | delivered | failed | opted out | cancelled |
      | 6        | 0       | 0    | 5         | 0      | 1         | 0         |

  Scenario: A cancelled campaign never texts the contacts it had not reached, and cannot be restarted
    Given these people have mobile phones:
      | person | network  |
      | Anna   | delivers |
      | Ben    | delivers |
      | Cleo   | delivers |
      | Dev    | delivers |
      | Erin   | delivers |
    And "Parcelly" has uploaded the contact list "spring customers":
      | number        | name | offer |
      | Anna's mobile | Anna | 20%   |
      | Ben's mobile  | Ben  | 15%   |
      | Cleo's mobile | Cleo | 30%   |
      | Dev's mobile  | Dev  | 10%   |
      | Erin's mobile | Erin | 25%   |
    When "Parcelly" starts the campaign "Spring sale" with the template "spring" and the list "spring customers", sending 5 texts a second
    And "Parcelly" cancels the campaign as soon as 2 contacts have received it
    Then nobody else is texted while the campaign is cancelled
    And the campaign's statistics count the contacts it never reached as cancelled, and the others as delivered
    And the campaign can be neither resumed nor started again, as it is cancelled
