@TEST-INT-044 @failover @week3
Feature: Database failover impact
  The platform's database stops accepting writes for a while — the primary is lost and a
  replica serves reads until the primary is back or the replica is promoted. Calls in progress
  must not notice; what the platform owes the database (call records, delivery outcomes) is
  written once it is back, none lost and none doubled; the API tells customers to try again
  later instead of failing; texts accepted before the outage are delivered; and the time until
  the service is whole again is measured.

  Background:
    Given "Acme Logistics" is a standard customer
    And "Acme Logistics" owns a local number for sending texts
    And "Acme Logistics" receives delivery reports at their webhook
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls

  @severity:critical
  Scenario: A call that ends while the database is away keeps its audio and is recorded once it is back
    Given Alice has called Bob and they are talking
    When the database stops accepting writes
    Then Alice and Bob still hear each other
    When Alice hangs up
    And the database is back after 2 seconds
    Then the call record shows Alice calling Bob over the trunk, answered, for as long as they talked
    And "Acme Logistics"'s service is back in full within 30 seconds of the database's return
    And after a later call of Alice's is recorded, her call during the outage still has exactly one record

  Scenario: While the database is away the API asks customers to try again later
    When the database stops accepting writes
    Then "Acme Logistics" is told to try again later while the database is away
    When the database is back after 2 seconds
    Then "Acme Logistics"'s service is back in full within 30 seconds of the database's return

  Scenario: Texts accepted just before the outage are all delivered, once, and reported
    Given Carol has a mobile phone on a network that is slow to accept texts
    And Dan has a mobile phone on a network that stays congested for the next 3 seconds, turning texts away
    When "Acme Logistics" texts Carol and Dan 3 times each through the API
    And the database stops accepting writes
    And the database is back after 2 seconds
    Then every text the platform acknowledged reaches its handset, duplicates counted and reported
    And "Acme Logistics"'s webhook receives a delivery report for every one of them
