@TEST-INT-005 @voice-sms @week1 @lab
Feature: Two-factor verification by text during a call
  A bank's customers prove who they are by calling the bank's verification line from their
  mobile. During the call the platform texts a one-time code to that mobile; the caller keys it
  in on the keypad and the line confirms it on the call. The bank's systems see the verification
  as verified through the API. Wrong codes are refused and a caller has three tries; a code that
  has expired is refused.

  Background:
    Given "Fidelity Bank" is a call-center customer
    And "Fidelity Bank" has provisioned a SIP trunk to their carrier through the API
    And "Fidelity Bank" runs a verification line
    And Dana has a mobile phone

  @severity:critical
  Scenario: The right code, keyed in during the call, verifies the caller
    When Dana calls the verification line from her mobile
    Then Dana hears the line ask for her code
    When Dana's mobile receives a one-time code from the verification line
    And Dana keys in the code
    Then Dana hears the line confirm she is verified, and the line hangs up
    And "Fidelity Bank" sees Dana's verification as verified through the API

  Scenario: A wrong code is refused, and after three wrong codes the verification fails
    When Dana calls the verification line from her mobile
    And Dana's mobile receives a one-time code from the verification line
    And Dana keys in a wrong code
    Then Dana hears the line ask her to try again
    And "Fidelity Bank" sees one wrong attempt on Dana's verification
    When Dana keys in wrong codes until her 3 tries are used up
    Then Dana hears the line refuse, and the line hangs up
    And "Fidelity Bank" sees Dana's verification as failed through the API

  Scenario: An expired code is refused
    Given "Fidelity Bank"'s verification codes expire 2 seconds after they are sent
    When Dana calls the verification line from her mobile
    And Dana's mobile receives a one-time code from the verification line
    And Dana waits until the code has expired
    And Dana keys in the code
    Then Dana hears the line refuse, and the line hangs up
    And "Fidelity Bank" sees Dana's verification as expired through the API
