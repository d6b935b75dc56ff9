@TEST-INT-023 @api-sms @week2
Feature: Delivery reports reach the customer's webhook reliably, in order and exactly once
  The customer learns what happened to each text through signed webhook calls: first that the
  mobile network accepted it, then whether it was delivered. When the customer's endpoint is
  down or slow, the platform keeps trying with growing pauses until the report is taken, and the
  customer's application processes each report exactly once, however often it arrived.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And "Parcelly" receives delivery reports at their webhook
    And Carol has a mobile phone

  @severity:critical
  Scenario: The customer hears "sent" and then "delivered", in that order
    When "Parcelly" texts Carol "Your parcel is out for delivery" through the API
    Then "Parcelly"'s webhook hears that the message was sent and then that it was delivered, in that order

  Scenario Outline: An endpoint that <fails> is retried with growing pauses until it takes the report
    Given "Parcelly"'s webhook endpoint "<fails>" to the first 2 attempts
    When "Parcelly" texts Carol "Your parcel is out for delivery" through the API
    Then "Parcelly"'s webhook hears that the message was sent and then that it was delivered, in that order
    And the sent report took 3 attempts, each pause longer than the one before, and each report was processed once

    Examples:
      | fails                            |
      | answers 500 Internal Server Error |
      | does not answer at all           |

  Scenario: A network that reports late: "delivered" comes when the network says so, not before
    Given Dominique has a mobile phone on a network that reports deliveries late
    When "Parcelly" texts Dominique "Your parcel is out for delivery" through the API
    Then the API shows the message as sent, not yet delivered, once the text is on Dominique's phone
    And "Parcelly"'s webhook hears that the message was sent and then that it was delivered, in that order

  Scenario: An undeliverable text is reported with the network's error code
    Given Dominique has a mobile phone that the mobile network cannot reach
    When "Parcelly" texts Dominique "Your parcel is delayed" through the API
    Then "Parcelly"'s webhook receives a signed report that the message was undeliverable, with the network's error code

  Rule: Customers whose systems were built for Jasmin get Jasmin's DLR callbacks

    Scenario: Reports come as Jasmin's form callbacks and are acknowledged with ACK/Jasmin
      Given "Parcelly" receives delivery reports in Jasmin's DLR callback dialect
      When "Parcelly" texts Carol "Your parcel is out for delivery" through the API
      Then "Parcelly"'s Jasmin endpoint hears the SMSC's acknowledgement and then DELIVRD, acknowledging each with ACK/Jasmin

    Scenario: A callback answered without ACK/Jasmin is sent again
      Given "Parcelly" receives delivery reports in Jasmin's DLR callback dialect
      And "Parcelly"'s webhook endpoint "answers without ACK/Jasmin" to the first 1 attempts
      When "Parcelly" texts Carol "Your parcel is out for delivery" through the API
      Then "Parcelly"'s Jasmin endpoint hears the SMSC's acknowledgement and then DELIVRD, acknowledging each with ACK/Jasmin
      And the acknowledgement callback was sent 2 times and processed once
