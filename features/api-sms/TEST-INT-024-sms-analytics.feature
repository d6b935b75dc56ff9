@TEST-INT-024 @api-sms @week2
Feature: SMS analytics through the API match what the handsets received
  A customer watches their texting through the API: how many texts were delivered or could not
  be, the delivery rate, and how long delivery took, for any time window. The figures equal what
  actually reached the handsets and what the mobile network reported, and they are consistent
  within seconds of the last report.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And these people have mobile phones:
      | person | network                |
      | Anna   | delivers               |
      | Ben    | delivers               |
      | Cleo   | delivers               |
      | Dev    | cannot reach the phone |

  @severity:critical
  Scenario: Counts, delivery rate and latency equal the ground truth
    When "Parcelly" texts each of them "Your parcel update" through the API
    Then within 2 seconds the API's analytics agree with what the handsets received and the network reported

  # Six deliveries, three quick and three slow: the median is the third quickest delivery itself,
  # not the fourth, nor a value between them.
  Scenario: Delivery times are reported from the deliveries themselves
    Given these people have mobile phones on networks that deliver at different speeds:
      | person | delivered after |
      | Finn   | 200 ms          |
      | Gus    | 400 ms          |
      | Hal    | 600 ms          |
    When "Parcelly" texts each of them "Your parcel update" through the API
    Then within 2 seconds the API's analytics agree with what the handsets received and the network reported

  Scenario: A time window counts only the texts sent inside it
    When "Parcelly" texts each of them "Your parcel update" through the API
    And "Parcelly" texts each of them "Your parcel has arrived" through the API
    Then the analytics for the window of the second batch count only the second batch's texts

  Scenario: The analytics of a campaign count only that campaign's texts
    When "Parcelly" texts each of them "Your parcel update" through the API
    And "Parcelly" runs a campaign "Loyalty" to each of them reading "Thanks for being a Parcelly customer."
    Then the analytics of the campaign "Loyalty" agree with what its contacts' handsets received and the network reported
