@TEST-INT-004 @voice-sms @week1 @lab
Feature: Subscribers forward their calls by text message
  A subscriber who is out of the office texts FORWARD and a number from their own mobile to their
  business number. The platform confirms by text, and from then on every call to the business
  number rings the forwarding number instead, with the original caller shown. FORWARD OFF brings
  the calls back to the desk phone. A forwarding number the platform cannot use is refused by
  text and changes nothing, and only the subscriber's own mobile can forward their calls.

  Background:
    Given "Brightdesk" is a standard customer
    And "Brightdesk" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Brightdesk" with a desk phone on a local number
    And Alice's phone is registered
    And Alice has her mobile on file
    And Bob is on an outside line
    And Carol is on an outside line that answers calls

  @severity:critical
  Scenario: Forwarding set by text: the next call rings the forwarding number, with audio
    When Alice texts FORWARD and Carol's number from her mobile to her business number
    Then Alice's mobile receives a confirmation that her calls now ring Carol's number
    When Bob calls Alice's number
    Then the call rings Carol's line instead of Alice's phone
    And Carol answers and Bob and Carol hear each other
    And once Bob hangs up, the call is on record as his call to Alice, forwarded to Carol's line

  Scenario: FORWARD OFF brings the calls back to the desk phone
    Given Alice has forwarded her calls to Carol by text
    When Alice texts "forward off" from her mobile to her business number
    Then Alice's mobile receives a confirmation that forwarding is off
    When Bob calls Alice's number
    Then the call rings Alice's phone

  Scenario: A forwarding number that is not a phone number is refused and changes nothing
    When Alice texts "FORWARD 12ab" from her mobile to her business number
    Then Alice's mobile receives an error text saying "12ab" is not a phone number
    And Alice's calls are still not forwarded
    When Bob calls Alice's number
    Then the call rings Alice's phone

  Scenario: A forwarding text from someone else's mobile is ignored
    Given Mallory has a mobile phone
    When Mallory texts FORWARD and her own number to Alice's business number
    Then Mallory gets no answer and Alice's calls are still not forwarded
    When Bob calls Alice's number
    Then the call rings Alice's phone
