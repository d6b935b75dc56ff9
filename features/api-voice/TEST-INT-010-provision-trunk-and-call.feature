@TEST-INT-010 @api-voice @week2
Feature: Provision a SIP trunk through the API and make a call over it
  A business customer connects the platform to their carrier by provisioning a SIP trunk
  through the API. From then on their staff's phones can call any outside number: the call
  is carried over the trunk, both people hear each other, and the customer can fetch the
  call record through the API straight after the call.

  Every scenario here also runs in the lab, behind the real SIP proxy and media relay, but one: a
  request too broken to be answered at all is dropped by the real SIP proxy without a word, so
  the platform's own rejection of it can only be checked without that proxy in front.

  Background:
    Given "Acme Logistics" is a standard customer
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API

  @smoke @severity:critical @lab
  Scenario Outline: A <phone> calls an outside number over the newly provisioned trunk
    Given Alice works at "Acme Logistics" with a <phone> on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    When Alice calls Bob
    And Bob answers and they talk for a moment
    And Alice hangs up
    Then Bob's phone showed Alice's number as the caller
    And Alice and Bob heard each other, with the call audio carried by the platform
    And the call record shows Alice calling Bob over the trunk, answered, for as long as they talked

    Examples:
      | phone         |
      | desk phone    |
      | web softphone |

  @lab
  Scenario: The called person hangs up first, after doing most of the talking
    Given Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    When Alice calls Bob
    And Bob answers and they talk for a moment
    And Alice listens while Bob keeps talking
    And Bob hangs up
    Then Alice's phone is released
    And the call record shows Alice calling Bob over the trunk, answered, for as long as they talked
    And the call record says that Bob hung up

  @lab
  Scenario: A call to a busy outside number is recorded as busy
    Given Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that is busy
    When Alice calls Bob
    Then Alice hears that Bob is busy
    And the call record shows Alice calling Bob over the trunk, busy

  Rule: Only the customer's own phones, with the right password, can use the platform

    @lab
    Scenario: A phone with the wrong password cannot register
      Given Alice works at "Acme Logistics" with a desk phone on a local number
      And Bob is on an outside line that answers calls
      When Alice's phone tries to register with a wrong password
      Then the registration is refused as unauthorised
      And a call from Bob finds Alice unavailable

    Scenario: Malformed signalling is rejected and the platform keeps serving
      Given Alice works at "Acme Logistics" with a desk phone on a local number
      When a device sends the platform a malformed call request
      Then the platform rejects the malformed request
      And Alice's phone can still register

  Rule: A phone gets its calls for as long as its registration lasts
    The platform keeps a phone's registration for as long as the phone asked, within the limits
    the platform publishes, and forgets it when the phone does not renew it in time.

    @lab
    Scenario: A phone that keeps renewing its registration keeps getting its calls
      Given Alice works at "Acme Logistics" with a desk phone on a local number
      And Alice's phone registers for a short while and keeps renewing it
      And Bob is on an outside line that answers calls
      When Alice's phone has renewed its registration twice
      Then a call from Bob still rings Alice's phone

    @lab
    Scenario: A registration that is not renewed runs out when its time is up, not before
      Given Alice works at "Acme Logistics" with a desk phone on a local number
      And Alice's phone registers for a short while and then stops renewing it
      And Bob is on an outside line that answers calls
      Then a call from Bob halfway through Alice's registration rings her phone
      And once Alice's registration has run out, a call from Bob finds her unavailable
