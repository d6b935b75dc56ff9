@TEST-INT-013 @api-voice @week2
Feature: Every call leaves a record the customer can fetch through the API
  Each call attempt — answered, unanswered, given up, busy or failed — leaves exactly one call record with
  its outcome, the people on it, the trunk it took, its times and the seconds to bill. The
  customer can filter the records by outcome, number and time and page through them; each record
  is also pushed to the customer's webhook when the call ends. No customer ever sees another
  customer's records.

  Not yet run in the lab, behind the real SIP proxy: when a called line is out of service, the
  platform passes the carrier's "service unavailable" back as its own, and the real proxy then
  takes the platform out of service for every later call. The platform must answer such calls
  in a way the proxy does not mistake for its own failure first.

  Background:
    Given "Initech Telecom" is a standard customer
    And "Initech Telecom" has provisioned a SIP trunk to their carrier through the API
    And "Initech Telecom" receives call records at their webhook
    And Alice works at "Initech Telecom" with a desk phone on a local number
    And Alice's phone is registered
    And Alice has made these calls, one after the other:
      | to    | whose line        |
      | Bob   | answers           |
      | Carol | rings unanswered  |
      | Dave  | is busy           |
      | Erin  | is out of service |

  @severity:critical
  Scenario: Each call has a record with its outcome, parties, trunk, times and billable time
    Then the call records show:
      | to    | outcome   | SIP status | talk time |
      | Bob   | answered  | 200        | yes       |
      | Carol | no-answer | 480        | none      |
      | Dave  | busy      | 486        | none      |
      | Erin  | failed    | 503        | none      |

  Scenario: A call the caller gives up while it rings is recorded as cancelled
    When Alice calls Frank, whose line rings, and gives up before anyone answers
    Then the record of the call to Frank shows it cancelled by Alice, with no talk time

  Scenario: Records are filtered by outcome, by number and by time
    Then asking for busy calls returns only the call to Dave
    And asking for calls to Carol's number returns only the call to Carol, not the call to Dave whose number begins with hers
    And asking for calls started after the call to Carol and before the call to Erin returns only the call to Dave
    And asking for calls from the start of the call to Dave up to the start of the call to Erin returns only the call to Dave

  Scenario: Records are paged newest first, without gaps or repeats
    Then reading the records one per page returns the calls to Erin, Dave, Carol and Bob, then no more pages

  Scenario: Each record is pushed to the customer's webhook when the call ends
    Then "Initech Telecom"'s webhook receives one completed-call event per call, carrying the same record as the API

  Rule: A customer only ever sees their own records

    Scenario: Another customer finds none of the records
      Given "Hooli" is a standard customer
      Then "Hooli" finds none of Alice's call records, neither in lists nor by id
