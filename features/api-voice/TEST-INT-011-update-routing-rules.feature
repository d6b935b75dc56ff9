@TEST-INT-011 @api-voice @week2 @lab
Feature: Routing rules changed through the API steer the very next call
  A customer with two carriers decides through the API which carrier carries which
  destinations. When they move a destination to the other carrier, the very next call takes
  the new route; the time from the change to the first call on the new route is measured and
  attached to the report. A rule the platform cannot apply is refused with a clear explanation,
  and calls keep taking the old route.

  Background:
    Given "Globex Freight" is a premium customer
    And "Globex Freight" has two carriers, "Carrier A" and "Carrier B", each on its own SIP trunk
    And "Globex Freight" routes calls to UK numbers over "Carrier A"
    And Alice works at "Globex Freight" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on a UK line that answers calls

  @severity:critical
  Scenario: UK calls move from one carrier to the other
    Given Alice's call to Bob is carried by "Carrier A"
    When "Globex Freight" moves UK calls to "Carrier B" through the API
    Then the call from Alice to Bob is carried by "Carrier B" and not by "Carrier A"

  Scenario: A rule naming a trunk the customer does not have is refused, and the old route stays
    When "Globex Freight" tries to move UK calls to a trunk that does not exist
    Then the change is refused, naming the trunk as the problem
    And Alice's next call to Bob is still carried by "Carrier A"

  Scenario: A rule naming another customer's trunk is refused, and the old route stays
    Given "Hooli" is a standard customer
    And "Hooli" has provisioned a SIP trunk to their carrier through the API
    When "Globex Freight" tries to move UK calls to "Hooli"'s trunk
    Then the change is refused, naming the trunk as the problem
    And Alice's next call to Bob is still carried by "Carrier A"

  Rule: When rules overlap, the most specific one wins, whichever was made first
    A rule's prefix counts only at the start of a number: Bob's UK line outside London has
    London's digits inside its number, and is still no London number.

    Scenario: London calls take the London rule, the rest of the UK the UK rule
      Given Carol is on a London line that answers calls
      When "Globex Freight" routes calls to London numbers over "Carrier B" through the API
      Then the call from Alice to Carol is carried by "Carrier B" and not by "Carrier A"
      And Alice's next call to Bob is still carried by "Carrier A"
      When "Globex Freight" makes its UK rule anew, still over "Carrier A"
      Then the call from Alice to Carol is carried by "Carrier B" and not by "Carrier A"
      And Alice's next call to Bob is still carried by "Carrier A"
