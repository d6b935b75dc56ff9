@security @week3 @TEST-INT-053
Feature: Rate limits per customer, on every channel
  Each customer has limits of its own. Over the API, requests beyond the limit are refused the way
  Kong's rate-limiting plugin refuses them: 429 with RateLimit headers and Retry-After saying
  when to try again, and a refused text is never sent. Over SMPP the platform answers
  ESME_RTHROTTLED and loses nothing the customer resubmits. A customer's texts draw on one quota
  whichever way they are sent, and all its phones together may start only so many calls in a short
  while: beyond that a call is refused as Service Unavailable with when to try again, as Kamailio's
  rate limiting answers; a call already in progress is never cut off. One customer's flood never
  touches another customer's allowance or answers (how fast the others are answered meanwhile is
  measured by `npm run bench`, not here). The API runs on several gateway nodes
  at once; a customer's requests count against one limit whichever node takes them (Kong's
  cluster policy, not its per-node local one).

  The call-rate scenario also runs behind real Kamailio (@lab). Its dispatcher takes a 503 from a
  platform node for that node failing and tries the next one; the platform's rate-limit 503 says
  in its Reason header that it is a limit, so Kamailio's failure route answers it to the phone as
  it is, Retry-After included, and neither retries the call elsewhere nor marks the node down.

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
    Then every request of "Harbor Freight" is served, its own allowance untouched by "Brightline"'s flood

  Scenario: Texts over the API and over SMPP draw on one quota, and only accepted texts are sent
    Given "Brightline" may send 6 texts in a short while, whichever way it sends them
    And "Brightline" is connected to the platform over SMPP
    And Carol has a mobile phone
    When "Brightline" texts Carol over the API and over SMPP in turn, two more times than its quota has left
    Then the texts beyond "Brightline"'s quota are refused on the channel they came by, each saying to come back later
    And Carol's phone receives exactly the texts "Brightline" had accepted, whichever way they came

  @lab
  Scenario: Calls started faster than the customer's rate are refused with when to try again, and a call in progress carries on
    Given "Brightline" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Brightline" with a desk phone on a local number
    And Dave works at "Brightline" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    And "Brightline" may start 4 calls in a short while
    And Alice has called Bob and they are talking
    When Dave's and Alice's phones try two more calls than "Brightline" may still start in that while
    Then the calls beyond "Brightline"'s rate are refused as Service Unavailable, saying when to try again
    And Alice and Bob still hear each other
    And once that time has passed, Dave's phone reaches the network again

  @gateway-nodes
  Scenario: A customer's requests count once against its limit, whichever gateway node takes them
    Given "Brightline" may make 6 API requests a minute
    When "Brightline" sends its requests to two gateway nodes in turn, two more than its limit has left
    Then "Brightline" is refused beyond its limit whichever node its requests landed on, each node counting the other's
