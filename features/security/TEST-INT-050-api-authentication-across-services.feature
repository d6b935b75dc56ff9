@security @week3 @TEST-INT-050
Feature: One customer identity across the API, SMS connections and phones
  A customer is one identity on every channel: its API keys, its SMPP connection and its phones'
  SIP accounts. When the operator suspends a customer, every channel refuses it within the time
  the platform states, and resuming restores every channel. A key can be rotated (the new one
  works at once, the old one never again) or handed out read-only; a webhook signing secret
  rotates with an overlap in which both secrets verify, so the customer's application can switch
  without refusing a genuine report. An API key is accepted only in the request header: a key in
  a URL ends up in proxies', browsers' and servers' logs, so the platform refuses it (Kong would
  accept it by default) and says where the key belongs.

  Background:
    Given "Brightline" is a standard customer
    And "Brightline" owns a local number for sending texts

  @severity:critical @lab
  Scenario: A suspended customer is refused on every channel, and resuming restores it
    Given Alice works at "Brightline" with a desk phone on a local number
    When the operator suspends "Brightline"
    Then within the stated time "Brightline" is refused on the API, at an SMPP bind and at a SIP registration
    When the operator resumes "Brightline"
    Then "Brightline" is served again on the API, over SMPP and at its phone's SIP registration
    And "Brightline"'s audit trail and the operator's record the suspension and the resumption once each, by the operator, with the status before and after
    And "Brightline"'s audit trail records its refusals while suspended, on the API, at the SMPP bind and at the SIP registration

  Scenario: A rotated API key lets the new key in and keeps the old one out
    When "Brightline" rotates its API key
    Then "Brightline"'s new key is served and its old key is refused as unknown
    And "Brightline"'s audit trail and the operator's record the rotation of its API key once, with neither the old nor the new one in it

  Scenario: A read-only key can read but not send
    Given "Brightline" gives its reporting tool a read-only API key
    And Carol has a mobile phone
    Then the reporting tool can read "Brightline"'s numbers but is refused when it tries to text Carol
    And Carol's phone receives no text from "Brightline"

  Scenario: A webhook signing secret rotates with an overlap in which both secrets verify
    Given "Brightline" receives delivery reports at their webhook
    And Carol has a mobile phone
    When "Brightline" rotates its webhook signing secret
    Then during the overlap "Brightline"'s reports to Carol's texts verify with the old secret and then with the new one
    And "Brightline"'s audit trail and the operator's record the rotation of its webhook signing secret once, with neither the old nor the new one in it

  Scenario: An API key in the URL is refused, and the answer names the header
    When "Brightline" sends its API key in the URL instead of the header
    Then the request is refused, telling the caller to send the key in the header
    And the operator's audit trail records the refused request without the key it carried

  Scenario: The operator's endpoints stay operator-only
    When "Brightline" tries each of the operator's endpoints with its own API key
    Then each of them is refused as reserved for the platform operator
