@security @week3 @TEST-INT-054
Feature: Every change and every refused key leaves a tamper-evident audit trail
  Whatever a customer or the operator changes through the API or the operations endpoints is
  recorded once: who did it, what they did to what, when, from which address, under which
  request, and the resource before and after — never a password, key or signing secret. Every
  refused API key and every use of an endpoint the key may not use is recorded too (fraud and spam
  blocks are recorded the same way: TEST-INT-051 and 052). Customers read their own trail through
  the API, the operator all of it. The trail is append-only and each entry is chained to the one
  before it, so an edit behind the platform's back is found by the platform's own verification.

  Background:
    Given "Initech Telecom" is a standard customer

  @severity:critical
  Scenario: Each change is recorded once, with who, what, from where, under which request, before and after
    When "Initech Telecom" provisions a trunk to their carrier, renames it and adds a message template through the API
    Then "Initech Telecom"'s audit trail shows each of those changes exactly once, by the customer, from the address it came from, under the request that made it
    And the trunk's renaming shows its name before and after

  Scenario: Passwords, keys and signing secrets never reach the trail
    Given Alice works at "Initech Telecom" with a desk phone on a local number
    And "Initech Telecom" receives call records at their webhook
    Then "Initech Telecom"'s audit trail shows its creation, Alice's SIP account and the webhook without their secrets

  Scenario: A refused key and an endpoint the key may not use are recorded
    Given Alice works at "Initech Telecom" with a desk phone on a local number
    When someone asks to send Alice a text with an API key the platform does not know
    And "Initech Telecom" tries each of the operator's endpoints with its own API key
    Then the operator's audit trail shows the refused key with the address and request it came from, but not the key
    And "Initech Telecom"'s audit trail shows each refused use of an operator endpoint

  Scenario: A customer reads only its own trail; the operator reads everyone's
    Given "Hooli" is a standard customer
    When "Initech Telecom" provisions a trunk to their carrier, renames it and adds a message template through the API
    Then "Hooli" finds none of "Initech Telecom"'s changes in its audit trail and may not ask for another customer's
    And the operator's audit trail shows "Initech Telecom"'s changes

  @severity:critical
  Scenario: Editing the trail behind the platform's back is detected
    When "Initech Telecom" provisions a trunk to their carrier, renames it and adds a message template through the API
    Then the platform verifies its audit trail intact
    When someone with direct access to the database edits "Initech Telecom"'s latest audit entry
    Then the platform's verification finds the audit trail broken at exactly that entry
