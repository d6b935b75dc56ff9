@TEST-INT-001 @voice-sms @week1 @lab
Feature: A missed call is reported to the subscriber by text message
  When someone calls a subscriber's business number and nobody picks up — the subscriber is away
  from the desk, or their phone is switched off — the subscriber gets a text on their mobile
  saying who called and when, so no customer call goes unnoticed. Calls that were answered
  produce no text.

  Background:
    Given "Brightdesk" is a standard customer
    And "Brightdesk" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Brightdesk" with a desk phone on a local number
    And Alice has asked for missed calls to be texted to her mobile

  @severity:critical
  Scenario: Nobody answers: the text names the caller and the time of the call
    Given Alice's phone is registered
    And Bob is on an outside line
    When Bob calls Alice's number and nobody answers
    Then Bob's call ends unanswered after the platform's no-answer time
    And Alice's mobile receives a text naming Bob's number and the time of his call

  Scenario: The subscriber's phone is switched off
    Given Bob is on an outside line
    When Bob calls Alice's number
    Then Bob hears that Alice is not available
    And Alice's mobile receives a text naming Bob's number and the time of his call

  Scenario: A caller who withholds their number is reported as withheld
    Given Alice's phone is registered
    And Bob is on an outside line that withholds his number
    When Bob calls Alice's number and nobody answers
    Then Alice's mobile receives a text about a call from a withheld number

  Scenario: An answered call sends no text
    Given Alice's phone is registered
    And Bob is on an outside line
    When Bob calls Alice's number and Alice answers
    And Bob hangs up
    Then Alice's mobile receives no text about Bob's call
