@TEST-INT-022 @api-sms @week2
Feature: Message templates are managed through the API and filled in exactly
  A customer keeps the texts they send often as templates with variables, such as
  "Hi {{name}}, parcel {{parcel}} arrives {{day}}." They create, read, change, list and delete
  them through the API. A text sent with a template reaches the handset with the values filled in
  exactly as given; a send that leaves a variable without a value is refused, naming it, and
  nothing is sent.

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And "Parcelly" has a template "arrival" reading "Hi {{name}}, parcel {{parcel}} arrives {{day}}."
    And Carol has a mobile phone

  @severity:critical
  Scenario: A text sent with a template shows the values filled in exactly
    When "Parcelly" texts Carol with the template "arrival" and these values:
      | name   | Carol      |
      | parcel | PX-2041    |
      | day    | on Tuesday |
    Then Carol's phone receives exactly "Hi Carol, parcel PX-2041 arrives on Tuesday." from "Parcelly"'s number

  # Values that look like template text or replacement patterns are still just text.
  Scenario: Values are filled in as given, even when they look like template text
    Given "Parcelly" has a template "reminder" reading "{{name}}, {{name}}'s parcel: {{note}} ({{day}})"
    When "Parcelly" texts Carol with the template "reminder" and these values:
      | name | Zoë                  |
      | note | {{day}} $& 50% off $1 |
      | day  | {{name}}             |
    Then Carol's phone receives exactly "Zoë, Zoë's parcel: {{day}} $& 50% off $1 ({{name}})" from "Parcelly"'s number

  Scenario: A template is read back, changed, used with its new wording, and deleted
    Then "Parcelly" reads the template "arrival" back with the variables "name, parcel, day"
    When "Parcelly" changes the template "arrival" to read "{{name}}: {{parcel}} is on its way and arrives {{day}} after {{time}}."
    Then "Parcelly" reads the template "arrival" back with the variables "name, parcel, day, time"
    When "Parcelly" texts Carol with the template "arrival" and these values:
      | name   | Carol    |
      | parcel | PX-2042  |
      | day    | tomorrow |
      | time   | 10:00    |
    Then Carol's phone receives exactly "Carol: PX-2042 is on its way and arrives tomorrow after 10:00." from "Parcelly"'s number
    When "Parcelly" deletes the template "arrival"
    Then the template "arrival" is no longer among "Parcelly"'s templates, and reading it is "not found"

  Scenario: A send that leaves a variable without a value is refused and sends nothing
    When "Parcelly" texts Carol with the template "arrival" and these values:
      | name   | Carol   |
      | parcel | PX-2041 |
    Then the send is refused, naming the variable "day" as missing
    And Carol's phone receives no text from "Parcelly"

  Scenario: Another customer can neither see nor use the template
    Given "Hooli" is a standard customer
    And "Hooli" has a template "arrival" reading "Hooli here: {{name}}, your order arrives {{day}}."
    Then "Hooli" cannot see or use "Parcelly"'s template "arrival"

  Scenario: A template that a campaign still has to send cannot be deleted
    Given "Parcelly" has scheduled a campaign "Friday parcels" with the template "arrival" for tomorrow
    Then deleting the template "arrival" is refused because the campaign "Friday parcels" uses it, and the template stays
    When "Parcelly" cancels the campaign "Friday parcels"
    And "Parcelly" deletes the template "arrival"
    Then the template "arrival" is no longer among "Parcelly"'s templates, and reading it is "not found"
