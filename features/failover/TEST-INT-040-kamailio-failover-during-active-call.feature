@TEST-INT-040 @failover @week3 @lab
Feature: Kamailio failover during an active call
  The platform's SIP service runs on two nodes: one carries the calls, the other is ready to
  carry them. When the active node dies in the busy hour, the calls in progress go on — their
  audio never passed through the SIP node — and the other node takes over behind the same
  address the phones use, so they register and call again well within the plan's 30 seconds.
  The time it took is measured and reported with the run's success metrics.
  On the reference platform the second node takes over the first one's address; in the lab lane
  Kamailio's own dispatcher turns to the second node, which serves at an address of its own.

  Background:
    Given "Acme Logistics" is a standard customer
    And "Acme Logistics" has provisioned a SIP trunk to their carrier through the API
    And Alice works at "Acme Logistics" with a desk phone on a local number
    And Alice's phone is registered
    And Bob is on an outside line that answers calls

  @severity:critical
  Scenario: A call in progress survives the crash of the SIP node carrying it
    Given Alice has called Bob and they are talking
    When the SIP node carrying the call crashes
    Then Alice and Bob still hear each other
    When Alice hangs up
    Then Bob's line is told that the call has ended
    And the call record shows Alice calling Bob over the trunk, answered, for as long as they talked

  Scenario: Phones register and call again through the same address within the failover time
    When the active SIP node crashes
    Then Alice's phone registers again through the same address within 30 seconds
    And Alice can call Bob again through the same address within 30 seconds

  Scenario: A phone registered before the crash still gets its calls through the standby
    When the active SIP node crashes
    Then a call from Bob still rings Alice's phone

  Scenario: A SIP node that hangs without dying is replaced within the failover time
    When the active SIP node hangs
    Then Alice's phone registers again through the same address within 30 seconds

  Scenario: A call being set up at the moment of the crash is answered or refused, never left hanging
    When Alice calls Bob and the active SIP node crashes before Bob answers
    Then Alice's call is answered or refused with a clear answer within 30 seconds

  Scenario: A call to a line that is out of service is refused once, not tried again on the other node
    Given Carol is on an outside line that is out of service
    When Alice calls Carol
    Then Alice's call is refused once, and Carol's line was offered it only once
