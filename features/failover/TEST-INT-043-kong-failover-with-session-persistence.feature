@TEST-INT-043 @failover @week3
Feature: Kong failover with session persistence
  The API gateway runs on two nodes sharing one store. When the node serving a customer dies,
  the survivor takes over its address and knows everything the dead node knew: the customer's
  API key, how many requests it has made this minute, the requests it has already carried out —
  so a send retried after the crash never sends a second text — and where a customer paging
  through its records had got to. Webhooks keep coming.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And Carol has a mobile phone

  @severity:critical
  Scenario: The customer's key works on the surviving node, which still finds the requests the dead one served
    When "Parcelly" texts Carol "Your parcel is on its way" through the API, quoting a reference of its own
    And the active API gateway node crashes
    Then "Parcelly"'s requests with their API key succeed again through the same address within 30 seconds
    And the platform's request log shows the request under that reference, from "Parcelly", with its outcome

  Scenario: A send retried with the same idempotency key after the crash does not send a second text
    When "Parcelly" texts Carol "Your parcel is on its way" through the API with an idempotency key
    And the active API gateway node crashes
    And "Parcelly" retries that request with the same idempotency key
    Then the retry is answered with the first answer, marked as a replay
    And Carol's phone receives exactly that text from "Parcelly"'s number

  Scenario: The requests counted by the dead node still count on the survivor
    Given "Parcelly" may make 5 API requests a minute
    When "Parcelly" uses its API requests until 2 are left this minute
    And the active API gateway node crashes
    Then "Parcelly" may make only 2 more requests before being told to slow down

  Scenario: A paging cursor issued by the dead node still works on the survivor
    Given "Acme Logistics" is a standard customer
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    And Alice has called Bob 3 times
    When "Acme Logistics" fetches the first page of its call records, one record per page
    And the active API gateway node crashes
    Then "Acme Logistics" pages through the rest with the cursor the dead node issued, and sees every call once

  Scenario: A delivery report that comes after the crash still reaches the customer's webhook
    Given "Parcelly" receives delivery reports at their webhook
    And Dan has a mobile phone on a network that reports deliveries late
    When "Parcelly" texts Dan "Your parcel arrives today" through the API
    And the active API gateway node crashes
    Then "Parcelly"'s webhook receives a signed delivery report saying the message was delivered
