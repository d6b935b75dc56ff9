@TEST-INT-042 @failover @week3
Feature: Jasmin failover with the message queue
  The SMSC runs on two nodes that share one durable queue. A text the platform has
  acknowledged — a 202 from the API, a submit_sm_resp over SMPP — is a promise: when the SMSC
  node dies with texts still queued and on their way, the standby takes over the same SMPP
  address and keeps every promise, and delivery reports keep reaching webhooks and SMPP
  customers. A text caught between the mobile network accepting it and the platform recording
  that may arrive twice: such duplicates are counted and reported, never hidden.
  (Jasmin itself keeps its queues in memory unless made durable: a crash there loses them.)

  Background:
    Given "Parcelly" is an API-only customer
    And "Parcelly" owns a local number for sending texts
    And "Parcelly" receives delivery reports at their webhook

  @severity:critical
  Scenario: Texts queued and in flight when the SMSC node crashes all reach their handsets
    Given Carol has a mobile phone on a network that is slow to accept texts
    And Dan has a mobile phone on a congested network that turns the first attempts away
    When "Parcelly" texts Carol and Dan 5 times each through the API
    And the active SMSC node crashes while those texts are on their way, and "Parcelly" sends another text
    Then the text sent after the crash reaches its handset within 30 seconds
    And every text the platform acknowledged reaches its handset, duplicates counted and reported
    And "Parcelly"'s webhook receives a delivery report for every one of them

  Scenario: An SMPP customer binds again to the same address and still gets its delivery receipt
    Given "Parcelly" is connected to the platform over SMPP
    And Carol has a mobile phone on a network that reports deliveries late
    When "Parcelly" submits "Your code is 4711" to Carol over SMPP, asking for a delivery receipt
    And the active SMSC node crashes once the network took the text, before it reported the delivery
    Then "Parcelly" binds again to the same address within 30 seconds
    And "Parcelly" receives a delivery receipt for it on the SMPP connection, saying DELIVRD
    And the text the platform had recorded as taken by the network was not sent to it again

  Scenario: A receipt owed to an SMPP customer who was away is kept across the SMSC node's crash
    Given "Parcelly" is connected to the platform over SMPP
    And Carol has a mobile phone on a network that reports deliveries late
    When "Parcelly" submits "Your code is 4711" to Carol over SMPP, asking for a delivery receipt
    And "Parcelly" disconnects before the network reported the delivery
    And the platform has learnt of the delivery while "Parcelly" was away
    And the active SMSC node crashes
    Then "Parcelly" binds again to the same address within 30 seconds
    And "Parcelly" receives a delivery receipt for it on the SMPP connection, saying DELIVRD
