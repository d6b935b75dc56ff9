@security @week3 @TEST-INT-053
Feature: Rate limits per customer, on every channel
  Each customer has limits of its own. Over the API, requests beyond the limit are refused the way
  Kong's rate-limiting plugin refuses them: 429 with RateLimit headers and Retry-After saying
  when to try again, and a refused text is never sent. Over SMPP the platform answers
  ESME_RTHROTTLED and loses nothing the customer resubmits. One customer's flood never touches
  another customer's allowance or slows its answers.

  Background:
    Given "Brightline" is a standard customer
    And "Brightline" owns a local number for sending texts

  @severity:critical
  Scenario: Texts beyond the API limit are refused with when to retry, and only accepted texts are sent
    Given "Brightline" may make 5 API requests a minute
    And Carol has a mobile phone
    When "Brightline" sends 8 texts to Carol at once through the API
    Then as many as "Brightline"'s limit had left are accepted, and the rest refused with the headers saying when to retry
    And Carol's phone receives exactly the texts "Brightline" had accepted

  Scenario: Submissions beyond the SMPP limit are throttled, and nothing resubmitted is lost
    Given "Brightline" may submit 2 texts per second over SMPP
    And "Brightline" is connected to the platform over SMPP
    And Carol has a mobile phone
    When "Brightline" submits 6 texts to Carol at once over SMPP, retrying each one it is told to slow down
    Then 2 submissions a second were accepted and the others refused with ESME_RTHROTTLED
    And Carol's phone receives each of the texts exactly once

  Scenario: One customer's flood never touches another customer's allowance or answers
    Given "Harbor Freight" is a standard customer
    And "Brightline" may make 5 API requests a minute
    When "Brightline" floods the API with 30 requests while "Harbor Freight" makes 10
    Then every request of "Harbor Freight" is served within 1000 ms, its own allowance untouched by "Brightline"'s flood
