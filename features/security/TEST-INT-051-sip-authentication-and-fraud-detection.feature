@TEST-INT-051 @security @week3 @lab
Feature: SIP authentication and fraud detection
  Attackers on the internet guess the passwords of SIP phones, sweep address ranges for SIP
  servers and probe which accounts exist, with tools such as SIPVicious. The platform notices an
  address guessing passwords after a few wrong ones and ignores it for the ban period, while the
  account's real phone, at its own address, goes on working; the customer is told by webhook.
  Known scanning tools get no answer at all, and a probe cannot tell an existing account from a
  missing one. How many wrong passwords and how long a ban lasts are the platform's settings.
  Where phones reach the platform through its SIP proxy (Kamailio, the lab), the proxy keeps a
  banned address and scanning tools out at its door with those same settings, and the platform
  still knows, and reports, each attacker by their own address, not the proxy's.

  Background:
    Given "Acme Logistics" is a standard customer
    And Alice works at "Acme Logistics" with a desk phone on a local number

  @severity:critical
  Scenario: An address guessing a password is banned for a while, and the account's own phone is not
    Given "Acme Logistics" is told of security events at their webhook
    When an attacker guesses Alice's password from an address of their own
    Then the attacker is cut off after a few wrong passwords, without finding the password
    And "Acme Logistics" is told by webhook that the attacker's address was banned for trying Alice's account
    And the operator's audit trail records the ban of the attacker's address for trying Alice's account, and so does "Acme Logistics"'s
    And each wrong password is in "Acme Logistics"'s audit trail as a failed sign-in to Alice's account from the attacker's address, without the password
    And Alice's phone registers from her own address while the attacker is banned
    And the attacker's address gets no answer at all during the ban period
    And once the ban period is over, the attacker's address is answered again

  Scenario: Known scanning tools get no answer
    When a scanning tool sweeps the platform for SIP servers
    Then the scanning tool gets no answer, while an ordinary phone at the same address is answered

  Scenario: Probing an existing and a missing account gives the same answers
    When an attacker probes Alice's account and an account that does not exist
    Then the platform answers both probes alike, giving away nothing of which account exists

  Rule: Calls that cost the customer dearly are limited
    A stolen password is worth most to a fraudster who calls premium-rate and far international
    numbers that pay them a share. The platform lets an account start only a few such calls in a
    short while and tells the customer when it refuses more; how many calls a phone may hold at
    once depends on the customer's tier.

    Background:
      Given "Acme Logistics" has provisioned a SIP trunk to their carrier through the API

    @severity:critical
    Scenario: A burst of calls to costly destinations is cut off, with a fraud alert
      Given "Acme Logistics" is told of fraud alerts at their webhook
      When Alice's phone calls premium-rate and far international numbers one after another
      Then the calls beyond the platform's limit are refused as suspected fraud
      And "Acme Logistics" gets a fraud alert naming Alice's account
    And "Acme Logistics"'s audit trail and the operator's record each refused call on Alice's account as suspected fraud, with the number called

    Scenario: A phone cannot hold more calls at once than the customer's tier allows
      When Alice's phone calls as many outside numbers at once as a standard customer may, and one more
      Then the call beyond the standard tier's limit is refused, saying the simultaneous-call limit was reached
    And "Acme Logistics"'s audit trail and the operator's record each refused call on Alice's account at the simultaneous-call limit, with the number called

  Rule: A customer's trunk carries calls only from their carrier's address
    Anyone may send a call that claims to come from a carrier; only the carrier's own address is
    believed, everyone else is asked for a password like any phone.

    Background:
      Given "Acme Logistics" has provisioned a SIP trunk to their carrier through the API

    Scenario: A call pretending to come from the customer's carrier, from elsewhere, is not put through
      Given Alice's phone is registered
      When an attacker at another address calls Alice's number as if from the carrier
      Then the call is not put through: the caller is asked to authenticate and Alice's phone does not ring
