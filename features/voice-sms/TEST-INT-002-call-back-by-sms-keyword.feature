@TEST-INT-002 @voice-sms @week1 @lab
Feature: Texting a keyword gets the sender a call back from an agent
  A contact centre advertises a short code and a local callback number. Texting CALL ME to
  either — in any mix of capitals — gets the sender called back on their mobile and connected to
  one of the centre's agents, and they hear each other. Any other text gets a short reply
  explaining the keyword, and nobody is called.

  Background:
    Given "Northwind Care" is a call-center customer
    And "Northwind Care" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Northwind Care" with a web softphone on a local number
    And Alice's phone is registered
    And Alice takes the call-backs asked for on "Northwind Care"'s short code and callback number

  @severity:critical
  Scenario Outline: Texting "<keyword>" to the <line> gets a call back connected to the agent
    Given Erin has a mobile phone that answers calls
    When Erin texts "<keyword>" to "Northwind Care"'s <line>
    Then Erin's mobile rings with a call from "Northwind Care"
    And Erin is told by text that "Northwind Care" is calling her back, and from which number
    And Alice's phone rings with Erin's call back and Alice answers
    And Erin and Alice hear each other
    And once Erin hangs up, the call back is on record as "Northwind Care"'s answered call to her

    Examples:
      | line            | keyword |
      | short code      | CALL ME |
      | callback number | call me |

  Scenario: Any other text gets a reply explaining the keyword
    Given Erin has a mobile phone that answers calls
    When Erin texts "Please ring me" to "Northwind Care"'s short code
    Then Erin's mobile receives a reply explaining to text CALL ME
    And nobody is called back
