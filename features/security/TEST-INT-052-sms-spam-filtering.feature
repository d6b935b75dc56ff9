@security @week3 @TEST-INT-052
Feature: SMS spam filtering
  The platform keeps spam and phishing off the mobile networks. Every text a customer sends,
  through the API or over SMPP, is screened before it is accepted: links to blocked sites,
  phishing phrases, brands' sender names the customer is not registered for, and the same text
  sprayed at many people by a customer who has only just signed up. A refused text is refused on
  the channel it came from with the rule it broke, recorded as rejected, reported to the
  customer's webhook, and never reaches a phone. An honest text that happens to share words with
  a blocked one goes through. Someone who opted out gets nothing, whichever channel a text comes
  through. The rules and the limit are the platform's settings.

  Background:
    Given "Quickloans" is an API-only customer
    And "Quickloans" owns a local number for sending texts
    And "Quickloans" receives delivery reports at their webhook
    And Carol has a mobile phone

  Rule: A text that breaks a rule is refused on its channel, recorded, reported, and never delivered

    Scenario Outline: A text with <suspect> sent <channel> is refused
      When "Quickloans" sends Carol a text with <suspect> <channel>
      Then the platform refuses it on the channel it came from, naming the rule it broke
      And "Quickloans"'s webhook reports it rejected, and the API shows it rejected as spam under that rule
      And the refusal is in "Quickloans"'s audit trail and the operator's, with the rule, the channel and the address it came from
      And no phone ever receives the refused text

      Examples:
        | suspect                                         | channel         |
        | a link to a blocked site                        | through the API |
        | a phishing phrase                               | through the API |
        | a brand's sender name it is not registered for  | through the API |
        | a link to a blocked site                        | over SMPP       |
        | a phishing phrase                               | over SMPP       |
        | a link to a blocked site in a long message      | over SMPP       |

    Scenario: A campaign whose wording has a phishing phrase texts nobody
      Given Dave has a mobile phone
      When "Quickloans" runs a campaign to everyone with a phishing phrase in its wording
      Then "Quickloans"'s webhook reports it rejected, and the API shows it rejected as spam under that rule
      And each refusal is in "Quickloans"'s audit trail and the operator's, naming the campaign and the rule
      And no phone ever receives the refused text

  Rule: A customer who has only just signed up may not spray one text at many people

    Scenario: The same text to one person too many is refused, the others are delivered
      When "Quickloans" sends the same text to one more person than a new customer may reach with it in a short time
      Then everyone up to the limit receives the text
      And the platform refuses it on the channel it came from, naming the rule it broke
      And "Quickloans"'s webhook reports it rejected, and the API shows it rejected as spam under that rule
      And the refusal is in "Quickloans"'s audit trail and the operator's, with the rule, the channel and the address it came from
      And no phone ever receives the refused text

  Rule: Honest texts are not caught

    Scenario: A text that shares every word of a phishing phrase, but not the phrase, is delivered
      When "Quickloans" sends Carol a text that shares words with a phishing phrase
      Then Carol's phone receives exactly that text from "Quickloans"'s number
      And "Quickloans"'s webhook receives a signed delivery report saying the message was delivered

  Rule: Someone who opted out is left alone, whatever the channel

    Scenario Outline: A text <channel> to someone who replied STOP is refused
      Given Dave has a mobile phone
      And Dave has replied STOP to "Quickloans"'s texts
      When "Quickloans" sends Dave a text <channel>
      Then the platform refuses it because Dave opted out
      And Dave's phone receives nothing more from "Quickloans"

      Examples:
        | channel         |
        | through the API |
        | over SMPP       |
