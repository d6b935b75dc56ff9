@TEST-INT-012 @api-voice @week2 @lab
Feature: Live calls are controlled through the API
  A contact centre's own application sees the calls in progress and acts on them: it puts a
  call on hold and back, hands the caller over to someone else, or ends the call. What the API
  does is what the people on the call experience: silence while held, the new person's voice
  after a transfer, a hang-up for both.

  Background:
    Given "Northwind Care" is a call-center customer
    And "Northwind Care" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Northwind Care" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls
    And Alice has called Bob and they are talking

  @severity:critical
  Scenario: The call in progress is listed with its parties
    Then "Northwind Care" sees the call between Alice and Bob among its live calls, answered

  @severity:critical
  Scenario: Hold silences the call both ways, and resume brings the voices back
    When "Northwind Care" puts the call on hold through the API
    Then Alice and Bob no longer hear each other
    When "Northwind Care" resumes the call through the API
    Then Alice and Bob hear each other again

  Scenario: A blind transfer hands the caller over to another number
    Given Carol is on an outside line that answers calls
    When "Northwind Care" transfers the call to Carol through the API
    Then Alice's phone is released
    And Carol's line answers and Bob and Carol hear each other
    And once Bob hangs up, the call record shows the call transferred to Carol

  Scenario: Hanging up through the API ends the call for both people
    When "Northwind Care" hangs up the call through the API
    Then both Alice and Bob are hung up by the platform
    And the call record shows the call ended by the platform
    And the call is no longer among "Northwind Care"'s live calls

  Rule: Only a customer's own calls in progress can be controlled

    Scenario: A finished or unknown call cannot be controlled
      When "Northwind Care" looks the call up among its live calls
      And Alice hangs up
      Then "Northwind Care" cannot hold, resume or transfer that call any more: it is not found
      And "Northwind Care" cannot hang up a call that never existed: it is not found

    Scenario: Another customer can neither see nor control the call
      Given "Hooli" is a standard customer
      Then "Hooli" can neither see nor control "Northwind Care"'s call
