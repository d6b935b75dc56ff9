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

  Rule: Every kind of text reaches the handset exactly as written

    Scenario: A text in Arabic with an emoji arrives byte for byte
      Given Carol has a mobile phone
      When "Parcelly" texts Carol "طردك في الطريق إليك 📦" through the API
      Then the text travelled as 1 part in UCS-2, put back together in order on the handset

    # 310 characters: more than two parts of 153 (the room left by the concatenation header), less than two of 160.
    Scenario: A long text is split into parts and put back together in order
      Given Carol has a mobile phone
      When "Parcelly" texts Carol a long text of 310 characters through the API
      Then the text travelled as 3 parts in the GSM alphabet, put back together in order on the handset

    # 139 characters: more than two UCS-2 parts of 67, less than two of 70.
    Scenario: A long text in Arabic is split by the smaller UCS-2 limit
      Given Carol has a mobile phone
      When "Parcelly" texts Carol "موعد التسليم غدا بين الساعة العاشرة والثانية عشرة. يرجى التأكد من وجود شخص في المنزل لاستلام الطرد، أو ترك ملاحظة للسائق عند الباب الأمامي." through the API
      Then the text travelled as 3 parts in UCS-2, put back together in order on the handset

    Scenario: A text from the customer's short code shows the short code
      Given "Parcelly" owns a short code for sending texts
      And Carol has a mobile phone
      When "Parcelly" texts Carol "Reply STOP to stop parcel updates" from their short code through the API
      Then Carol's phone receives exactly that text from "Parcelly"'s short code

    Scenario: A text abroad goes over the connector configured for that country
      Given the platform sends texts to French mobiles over a connector of their own
      And Dominique has a French mobile phone
      When "Parcelly" texts Dominique "Votre colis arrive demain" through the API
      Then Dominique received it through the French carrier, and the home carrier never saw it

    @mms
    Scenario: A picture message is refused with a clear explanation
      Given Carol has a mobile phone
      When "Parcelly" sends Carol a picture message through the API
      Then the request is refused because picture messages are not supported
      And Carol's phone receives no text from "Parcelly"

  Rule: A text the platform accepted is never lost

    Scenario: A congested mobile network turns the first attempts away; the text still arrives once
      Given Carol has a mobile phone on a congested network that turns the first attempts away
      When "Parcelly" texts Carol "Your parcel arrives today" through the API
      Then Carol's phone receives exactly that text from "Parcelly"'s number
      And the platform had to offer it to the mobile network 3 times

    Scenario: A mobile network that acknowledges late still gets the text only once
      Given Carol has a mobile phone on a network that acknowledges texts later than the platform waits
      When "Parcelly" texts Carol "Your parcel is at the depot" through the API
      Then Carol's phone receives exactly that text from "Parcelly"'s number
      And the platform offered it to the mobile network only once
      And the API shows the message as delivered

    Scenario: A text accepted while the mobile network is unreachable is delivered once it is back
      Given the platform sends texts to French mobiles over a connector of their own
      And Dominique has a French mobile phone
      And the French mobile network is unreachable
      When "Parcelly" texts Dominique "Votre colis est retardé" through the API
      Then the API shows the message as accepted and waiting while the network is unreachable
      When the French mobile network is back
      Then Dominique received it through the French carrier, and the home carrier never saw it

  Rule: Customers with SMS software of their own send over SMPP

    Scenario: A text submitted over SMPP reaches the handset, and its receipt comes back on the connection
      Given "Parcelly" is connected to the platform over SMPP
      And Carol has a mobile phone
      When "Parcelly" submits "Your collection code is 4711" to Carol over SMPP, asking for a delivery receipt
      Then Carol's phone receives exactly that text from "Parcelly"'s number
      And "Parcelly" receives a delivery receipt for it on the SMPP connection, saying DELIVRD

    Scenario: A text the network cannot deliver comes back as undeliverable
      Given "Parcelly" is connected to the platform over SMPP
      And Carol has a mobile phone that the mobile network cannot reach
      When "Parcelly" submits "Your collection code is 4711" to Carol over SMPP, asking for a delivery receipt
      Then "Parcelly" receives a delivery receipt for it on the SMPP connection, saying UNDELIV

    Scenario: A customer over its rate is told to slow down, and nothing is lost when it retries
      Given "Parcelly" may submit 2 texts per second over SMPP
      And "Parcelly" is connected to the platform over SMPP
      And Carol has a mobile phone
      When "Parcelly" submits 6 texts to Carol at once over SMPP, retrying each one it is told to slow down
      Then 2 submissions a second were accepted and the others refused with ESME_RTHROTTLED
      And Carol's phone receives each of the texts exactly once

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

  Rule: The operator's endpoints are the operator's alone, and every request can be traced

    Scenario: A customer's API key opens none of the operator's endpoints
      When "Parcelly" tries each of the operator's endpoints with its own API key
      Then each of them is refused as reserved for the platform operator

    Scenario: A request quoting the customer's own reference can be traced by it
      Given Carol has a mobile phone
      When "Parcelly" texts Carol "Your parcel is at the depot" through the API, quoting a reference of its own
      Then the answer carries "Parcelly"'s reference
      And the platform's request log shows the request under that reference, from "Parcelly", with its outcome

    Scenario: A request with an API key the platform does not know is refused by the gateway
      Given Carol has a mobile phone
      When someone asks to send Carol a text with an API key the platform does not know
      Then the request is refused because its API key is unknown
      And Carol's phone receives no text from "Parcelly"
