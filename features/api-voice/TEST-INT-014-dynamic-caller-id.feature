@TEST-INT-014 @api-voice @week2 @lab
Feature: The caller ID on outside calls is set through the API
  A customer chooses through the API which of their numbers the people they call see: one
  number for a whole trunk (their toll-free line), a number of its own for one member of staff,
  or no number at all. When both the trunk and a member of staff have one, the member of
  staff's own wins. The carrier always learns the real caller, marked private when the
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

  Scenario: One member of staff presents a number of their own, and only they do
    Given Dave works at "Acme Logistics" with a desk phone on a local number
    And Dave's phone is registered
    When "Acme Logistics" sets Alice's caller ID to their toll-free number through the API
    And Alice calls Bob
    Then Bob's phone shows "Acme Logistics"'s toll-free number as the caller
    When Dave calls Bob
    Then Bob's phone showed Dave's number as the caller

  Scenario: A member of staff's own caller ID wins over the trunk's
    Given "Acme Logistics" also owns a local sales line
    When "Acme Logistics" sets the trunk's caller ID to their toll-free number through the API
    And "Acme Logistics" sets Alice's caller ID to their sales line through the API
    And Alice calls Bob
    Then Bob's phone shows "Acme Logistics"'s sales line as the caller

  Scenario: A withheld caller ID presents the call as anonymous
    When "Acme Logistics" withholds the trunk's caller ID through the API
    And Alice calls Bob
    Then Bob's phone shows the call as anonymous
    And only the carrier learns Alice's number, marked as private

  Scenario: A number another customer owns is refused, for the trunk and for a member of staff
    Given "Hooli" is a standard customer
    And "Hooli" owns a toll-free number
    When "Acme Logistics" tries to set the trunk's caller ID to "Hooli"'s toll-free number
    Then the change is refused, naming the caller ID as the problem
    When "Acme Logistics" tries to set Alice's caller ID to "Hooli"'s toll-free number
    Then the change is refused, naming the caller ID as the problem
    When Alice calls Bob
    Then Bob's phone showed Alice's number as the caller
