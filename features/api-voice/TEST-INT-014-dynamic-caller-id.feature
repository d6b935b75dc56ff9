@TEST-INT-014 @api-voice @week2
Feature: The caller ID on outside calls is set through the API
  A customer chooses through the API which of their numbers the people they call see: one
  number for a whole trunk (their toll-free line), a number of its own for one member of staff,
  or no number at all. The carrier always learns the real caller, marked private when the
  number is withheld. A number the customer does not own can never be presented.

  Background:
    Given "Acme Logistics" is a premium customer
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API
    And "Acme Logistics" owns a toll-free number
    And Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls

  @severity:critical
  Scenario: The trunk presents the customer's toll-free number
    When "Acme Logistics" sets the trunk's caller ID to their toll-free number through the API
    And Alice calls Bob
    Then Bob's phone shows "Acme Logistics"'s toll-free number as the caller

  Scenario: One member of staff presents a number of their own
    When "Acme Logistics" sets Alice's caller ID to their toll-free number through the API
    And Alice calls Bob
    Then Bob's phone shows "Acme Logistics"'s toll-free number as the caller

  Scenario: A withheld caller ID presents the call as anonymous
    When "Acme Logistics" withholds the trunk's caller ID through the API
    And Alice calls Bob
    Then Bob's phone shows the call as anonymous
    And only the carrier learns Alice's number, marked as private

  Scenario: A number the customer does not own is refused
    When "Acme Logistics" tries to set the trunk's caller ID to a number they do not own
    Then the change is refused, naming the caller ID as the problem
    When Alice calls Bob
    Then Bob's phone showed Alice's number as the caller
