@TEST-INT-041 @failover @week3
Feature: RTPEngine failover with media preservation
  The audio of every call flows through the platform's media relay, which runs on two nodes
  that share their call sessions. When the relay carrying a call dies, the standby takes over
  the same addresses and ports and the audio comes back without the phones being asked to do
  anything: the people on the call hear a short silence, measured on each side and reported
  (goal: under 2 seconds here), and everything they do on the call keeps working.

  Background:
    Given "Acme Logistics" is a standard customer
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    And Alice has called Bob and they are talking

  @severity:critical
  Scenario: The audio comes back through the standby relay on the same addresses after a short silence
    When the media relay carrying the call crashes
    Then Alice and Bob hear each other again through the same relay address, without their phones being asked to change anything
    And the silence each of them heard is reported, and was shorter than 2 seconds
    When Alice hangs up
    Then the call record shows Alice calling Bob over the trunk, answered, for as long as they talked, with the media of both relays

  Scenario: Key presses, hold and resume still work after the relay failed over
    When the media relay carrying the call crashes
    And Alice and Bob hear each other again through the same relay address, without their phones being asked to change anything
    And Alice presses "428" on her keypad
    Then Bob's line hears the keys "428"
    When "Acme Logistics" puts the call on hold through the API
    Then Alice and Bob no longer hear each other
    When "Acme Logistics" resumes the call through the API
    Then Alice and Bob hear each other again
