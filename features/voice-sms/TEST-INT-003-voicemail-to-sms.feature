@TEST-INT-003 @voice-sms @week1 @stubbed-provider @lab
Feature: Voicemail is transcribed and texted to the subscriber
  When a call to a subscriber goes unanswered, the caller hears the subscriber's voicemail
  greeting and leaves a message. The platform sends the recording to its speech-to-text provider
  and texts the transcript to the subscriber's mobile; the voicemail and its transcript can also
  be fetched through the API. If the provider fails, the subscriber still learns of the message.

  Background:
    Given "Brightdesk" is a standard customer
    And "Brightdesk" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Brightdesk" with a desk phone on a local number
    And Alice has voicemail, with messages texted to her mobile
    And Bob is on an outside line

  @severity:critical
  Scenario: An unanswered call leaves a voicemail whose transcript reaches the subscriber
    Given the speech-to-text provider hears "Hi Alice, please call me back about the invoice"
    And Alice's phone is registered
    When Bob calls Alice's number while she is away from her desk
    Then Bob hears Alice's voicemail greeting
    When Bob leaves a message of 2 seconds and hangs up
    Then the speech-to-text provider received Bob's message as telephone audio of about 2 seconds
    And Alice's mobile receives the transcript of Bob's message
    And the voicemail and its transcript can be fetched through the API

  Scenario: The subscriber's phone is switched off: voicemail answers at once
    Given the speech-to-text provider hears "It's Bob, ring me when you can"
    When Bob calls Alice's number
    Then Bob hears Alice's voicemail greeting
    When Bob leaves a message of 1 second and hangs up
    Then Alice's mobile receives the transcript of Bob's message

  Scenario: The speech-to-text provider is out of service: the subscriber still hears of the message
    Given the speech-to-text provider is out of service
    When Bob calls Alice's number
    Then Bob hears Alice's voicemail greeting
    When Bob leaves a message of 1 second and hangs up
    Then Alice's mobile is told of the voicemail from Bob, without a transcript
