@TEST-INT-020 @api-sms @week2
Feature: Send an SMS through the API
  A customer sends a text message to a mobile phone with one API call. The text reaches the
  handset exactly as written, from the customer's number, well within half a second; the
  mobile network confirms delivery and the customer learns of it through a signed webhook.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And "Parcelly" receives delivery reports at their webhook

  @smoke @severity:critical
  Scenario: A text sent through the API reaches the handset and is reported delivered
    Given Carol has a mobile phone
    When "Parcelly" texts Carol "Your parcel arrives today between 10:00 and 12:00" through the API
    Then Carol's phone receives exactly that text from "Parcelly"'s number
    And it reached the handset within 500 ms of the API accepting it
    And "Parcelly"'s webhook receives a signed delivery report saying the message was delivered
    And the API shows the message as delivered

  Scenario: A text to a phone the mobile network cannot reach is reported undeliverable
    Given Carol has a mobile phone that the mobile network cannot reach
    When "Parcelly" texts Carol "Your parcel is delayed" through the API
    Then "Parcelly"'s webhook receives a signed delivery report saying the message was undeliverable
    And the API shows the message as undeliverable

  Rule: Only well-formed requests from known customers are accepted

    Scenario: A request without an API key is refused by the gateway
      When someone asks to send a text without an API key
      Then the request is refused because it carries no API key

    Scenario: A malformed request body gets a clear error and sends nothing
      Given Carol has a mobile phone
      When "Parcelly" sends Carol a message request whose body is not valid JSON
      Then the request is refused as malformed, with an explanation
      And Carol's phone receives no text from "Parcelly"

    Scenario: An SMS connection with the wrong password is refused
      When "Parcelly" opens an SMS connection with a wrong password
      Then the SMS connection is refused because the password is wrong
