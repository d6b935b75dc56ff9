/**
 * The platform's relational schema (PostgreSQL in production, SQLite here). One table per
 * business concept; timestamps are ISO-8601 UTC strings with milliseconds.
 * Roles share this file: add a column where the concept lives, never a second copy of it.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  tier TEXT NOT NULL,                 -- standard | premium | call-center | api-only
  created_at TEXT NOT NULL,
  suspended_at TEXT                   -- set by the operator: refused on every channel until resumed
);

CREATE TABLE IF NOT EXISTS api_keys (
  key TEXT PRIMARY KEY,
  customer_id TEXT REFERENCES customers(id),  -- NULL: the operator's key
  access TEXT NOT NULL DEFAULT 'full',  -- full | read-only (reads, never sends or changes)
  created_at TEXT NOT NULL
);

-- The gateway's state, shared by every gateway node (Kong's database in "cluster" policy), so a
-- surviving node honours what a dead one counted, remembered and logged.
-- A customer's own API rate limits, set by the operator; no row: the platform's defaults.
CREATE TABLE IF NOT EXISTS gateway_rate_limits (
  customer_id TEXT PRIMARY KEY REFERENCES customers(id),
  per_second INTEGER,                 -- NULL: no limit per second
  per_minute INTEGER,                 -- NULL: no limit per minute
  updated_at TEXT NOT NULL
);
-- Requests counted per customer in fixed windows (Kong's ratelimiting_metrics).
CREATE TABLE IF NOT EXISTS gateway_rate_counters (
  identifier TEXT NOT NULL,           -- the customer id
  period TEXT NOT NULL,               -- second | minute
  window_start INTEGER NOT NULL,      -- epoch ms at which the window opened
  count INTEGER NOT NULL,
  PRIMARY KEY (identifier, period, window_start)
);
-- A customer's own quotas (texts over API and SMPP together; call attempts), set by the
-- operator; no row: the platform's settings (security.limits).
CREATE TABLE IF NOT EXISTS customer_quotas (
  customer_id TEXT PRIMARY KEY REFERENCES customers(id),
  texts_per_window INTEGER,           -- NULL: no text quota
  call_attempts_per_window INTEGER,   -- NULL: no call-attempt limit
  updated_at TEXT NOT NULL
);
-- Quota use per customer in fixed windows, shared by every node of every role.
CREATE TABLE IF NOT EXISTS customer_quota_counters (
  customer_id TEXT NOT NULL,
  kind TEXT NOT NULL,                 -- texts | call-attempts
  window_start INTEGER NOT NULL,      -- epoch ms at which the window opened
  count INTEGER NOT NULL,
  PRIMARY KEY (customer_id, kind, window_start)
);
-- Idempotency-Key records: the first response to a creating POST, replayed to its retries.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope TEXT NOT NULL,                -- the customer id, or 'operator'
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,          -- sha256 of method, path, query and body: a reuse for another request is refused
  state TEXT NOT NULL,                -- in-progress | done
  claim TEXT NOT NULL,                -- random token of the request that holds an in-progress key
  lease_until INTEGER NOT NULL,       -- in-progress: epoch ms after which the request is presumed dead
  status INTEGER,                     -- done: the response
  content_type TEXT,
  body TEXT,
  created_at INTEGER NOT NULL,        -- epoch ms; the key expires a configured time after it
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys(created_at);
-- The gateway's access log by request id (GET /ops/v1/requests/{id}); the newest rowids are kept.
CREATE TABLE IF NOT EXISTS gateway_requests (
  request_id TEXT PRIMARY KEY,        -- a reused id keeps only its latest request
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  role TEXT NOT NULL,                 -- anonymous | operator | customer
  customer_id TEXT,
  duration_ms INTEGER NOT NULL,
  received_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS numbers (
  e164 TEXT PRIMARY KEY,              -- +<digits>, or the short code digits
  customer_id TEXT NOT NULL REFERENCES customers(id),
  kind TEXT NOT NULL,                 -- local | toll-free | international | short-code
  voice_service TEXT,                 -- verification: calls reach the verification line; callback: texts of CALL ME get a call back; NULL: its SIP account
  callback_agent TEXT,                -- callback: the SIP username of the agent who takes the call back
  code_ttl_seconds INTEGER,           -- verification: how long a code is valid; NULL = the platform's default
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sip_accounts (
  username TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  password TEXT NOT NULL,
  number TEXT NOT NULL REFERENCES numbers(e164),  -- the caller ID presented and the number that reaches it
  mobile TEXT,                        -- the subscriber's own mobile: missed-call texts go there, and texts from it are trusted commands
  missed_call_sms INTEGER NOT NULL DEFAULT 0,  -- 1: a missed call to this account is reported by SMS to mobile
  forward_to TEXT,                    -- calls to this account ring this number instead (set by API or by SMS from mobile)
  caller_id TEXT,                     -- presented number on calls out over a trunk; NULL = the trunk's, else the account's number
  voicemail INTEGER NOT NULL DEFAULT 0,  -- 1: unanswered calls (no answer, not registered) go to voicemail
  created_at TEXT NOT NULL
);

-- The sip-edge's location table (Kamailio usrloc, db_mode write-through): a node that takes over
-- the edge's address still routes to phones that registered with its predecessor.
CREATE TABLE IF NOT EXISTS sip_registrations (
  username TEXT NOT NULL,
  contact TEXT NOT NULL,              -- the Contact URI as the phone sent it
  address TEXT NOT NULL,              -- the UDP flow the REGISTER came from (WebSocket bindings die with their connection)
  port INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,        -- epoch ms
  registered_at TEXT NOT NULL,
  call_id TEXT NOT NULL,
  cseq INTEGER NOT NULL,
  user_agent TEXT,
  path TEXT,                          -- JSON array of the REGISTER's Path values (RFC 3327); NULL: none
  PRIMARY KEY (username, contact)
);

-- The sip-edge's calls (Kamailio dialog replication): every call from its first INVITE until it
-- ends, so a successor can end a half-set-up call cleanly and pass on the BYE of an established one.
CREATE TABLE IF NOT EXISTS sip_dialogs (
  call_ref TEXT PRIMARY KEY,
  phase TEXT NOT NULL,                -- setup | confirmed | local (answered by the platform itself)
  state TEXT NOT NULL,                -- JSON snapshot: both legs, the caller's INVITE, the CDR's facts
  updated_at TEXT NOT NULL,
  owner TEXT                          -- the sip node carrying the call (active-active edge); NULL: the edge's one active node
);

CREATE TABLE IF NOT EXISTS voicemails (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  mailbox TEXT NOT NULL,              -- the number that was called
  caller TEXT NOT NULL,
  sip_call_id TEXT NOT NULL,
  received_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,       -- length of the recorded message
  audio BLOB NOT NULL,                -- G.711 mu-law, 8000 bytes per second
  transcript TEXT,
  transcription_status TEXT NOT NULL  -- pending | done | failed | unavailable (no provider configured)
);
CREATE INDEX IF NOT EXISTS voicemails_by_mailbox ON voicemails(customer_id, mailbox, received_at);

-- One-time codes texted by a verification line to a caller, checked against the keys they press.
CREATE TABLE IF NOT EXISTS verifications (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  line TEXT NOT NULL,                 -- the verification line's number
  phone TEXT NOT NULL,                -- the caller, to whom the code was texted
  code TEXT NOT NULL,
  status TEXT NOT NULL,               -- pending | verified | failed (too many wrong codes); expiry is computed
  attempts INTEGER NOT NULL,          -- wrong codes entered
  max_attempts INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  verified_at TEXT
);
CREATE INDEX IF NOT EXISTS verifications_by_phone ON verifications(customer_id, phone, created_at);

CREATE TABLE IF NOT EXISTS trunks (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  transport TEXT NOT NULL,            -- udp
  destination_prefixes TEXT NOT NULL, -- JSON array of E.164 prefixes; [] = every destination
  caller_id TEXT,                     -- presented number override; NULL = the calling account's number
  caller_id_presentation TEXT NOT NULL DEFAULT 'allowed',  -- allowed | withheld (From anonymous, Privacy: id)
  created_at TEXT NOT NULL
);

-- A customer's outbound routing rules: a destination prefix goes over a trunk. They win over the
-- trunks' own destinationPrefixes; the longest matching prefix wins.
CREATE TABLE IF NOT EXISTS routing_rules (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  prefix TEXT NOT NULL,               -- E.164 prefix, '+' and 1 to 15 digits
  trunk_id TEXT NOT NULL REFERENCES trunks(id),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (customer_id, prefix)
);

CREATE TABLE IF NOT EXISTS cdrs (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  sip_call_id TEXT NOT NULL,          -- Call-ID of the customer-side leg
  caller TEXT NOT NULL,
  callee TEXT NOT NULL,
  trunk_id TEXT,
  direction TEXT NOT NULL,            -- outbound (to a trunk) | inbound (from a trunk) | internal
  started_at TEXT NOT NULL,
  answered_at TEXT,
  ended_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,       -- answer to end; 0 when never answered
  billable_seconds INTEGER NOT NULL,  -- duration rounded up to whole seconds
  disposition TEXT NOT NULL,          -- answered | no-answer | busy | failed | cancelled
  sip_status INTEGER NOT NULL,        -- final response of the call attempt
  hangup_by TEXT,                     -- caller | callee | platform
  forwarded_to TEXT,                  -- the number the call was forwarded to (the account's forwarding), else NULL
  transferred_to TEXT,                -- the number or user an answered call was blind-transferred to (API), else NULL
  media TEXT NOT NULL                 -- JSON relay counters per direction
);
CREATE INDEX IF NOT EXISTS cdrs_by_customer ON cdrs(customer_id, started_at);
CREATE INDEX IF NOT EXISTS cdrs_by_call ON cdrs(sip_call_id);

-- A media relay's live sessions (rtpengine keeps them in Redis): a relay that starts on the same
-- addresses restores them and relays on without new signalling. Deleted by the ng "delete".
CREATE TABLE IF NOT EXISTS relay_sessions (
  call_id TEXT PRIMARY KEY,           -- the ng call-id
  state TEXT NOT NULL,                -- JSON: tags, relay ports, SDPs, latched peers, blocked, counters so far
  updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS smpp_accounts (
  system_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  password TEXT NOT NULL,
  throughput_per_second INTEGER       -- NULL: unthrottled
);

-- A message row is also the SMSC's persistent queue entry: status 'queued' survives restarts.
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  source TEXT NOT NULL,               -- api | smpp | campaign | platform (texts the platform sends itself: missed calls, command replies)
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  text TEXT NOT NULL,
  encoding TEXT NOT NULL,             -- gsm7 | ucs2
  parts INTEGER NOT NULL,
  status TEXT NOT NULL,               -- queued | sent | delivered | undeliverable | expired | rejected | failed
  error_code TEXT,
  connector_id TEXT,                  -- the connector of the part submitted last
  carrier_message_ids TEXT NOT NULL,  -- JSON array, one per part (null until the carrier accepted that part)
  part_connectors TEXT NOT NULL DEFAULT '[]',  -- JSON array, one per part: the connector that accepted it (a re-route mid-send differs)
  part_states TEXT NOT NULL DEFAULT '[]',  -- JSON array, one per part: the carrier's final receipt stat, or null
  registered_delivery INTEGER NOT NULL,  -- SMPP bits 0-1: 0 no receipt, 1 always, 2 on failure only
  attempts INTEGER NOT NULL DEFAULT 0,
  accepted_at TEXT NOT NULL,
  sent_at TEXT,
  done_at TEXT,
  receipt_sent_at TEXT                -- when the SMPP customer acknowledged our delivery receipt
);
CREATE INDEX IF NOT EXISTS messages_by_status ON messages(status);

-- Acknowledged parts of concatenated submits from customers' ESMEs, kept until the set is complete
-- (then one messages row replaces them, in the same transaction) or expires (then a failed messages row).
CREATE TABLE IF NOT EXISTS smpp_concat_parts (
  customer_id TEXT NOT NULL REFERENCES customers(id),
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  reference INTEGER NOT NULL,         -- UDH concatenation reference
  total INTEGER NOT NULL,             -- parts announced in the UDH
  sequence INTEGER NOT NULL,          -- 1-based part number
  message_id TEXT NOT NULL,           -- the id every part was acknowledged with (the messages.id to be)
  text TEXT NOT NULL,                 -- this part decoded on its own, for logs (a character may straddle parts)
  payload BLOB NOT NULL,              -- the part's short_message octets after the UDH: the message is decoded from all of them at once
  data_coding INTEGER NOT NULL,
  registered_delivery INTEGER NOT NULL,  -- SMPP bits 0-1, as in messages
  received_at TEXT NOT NULL,
  PRIMARY KEY (customer_id, sender, recipient, reference, total, sequence)
);

CREATE TABLE IF NOT EXISTS smsc_connectors (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  system_id TEXT NOT NULL,
  password TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_routes (
  prefix TEXT PRIMARY KEY,            -- destination prefix; longest match wins; '' = default route
  connector_id TEXT NOT NULL REFERENCES smsc_connectors(id)
);

-- Each connector's live bind state, written by the node running the SMSC role, so other processes
-- (the API's operations endpoints) can report it.
CREATE TABLE IF NOT EXISTS smsc_connector_states (
  connector_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,                -- connecting | bound | down
  last_error TEXT,
  updated_at TEXT NOT NULL
);

-- submit_sm written to a carrier whose submit_sm_resp is not recorded yet (one row per part). A row
-- found when the part is submitted again marks a possible duplicate on the handset: counted in
-- smsc_counters.resent_in_flight. Deleted in the transaction that records the carrier's id.
CREATE TABLE IF NOT EXISTS smsc_in_flight (
  message_id TEXT NOT NULL,
  part INTEGER NOT NULL,              -- 0-based
  connector_id TEXT NOT NULL,
  sent_at TEXT NOT NULL,
  PRIMARY KEY (message_id, part)
);

-- Operations figures of the SMSC that must survive its node (resent_in_flight, …).
CREATE TABLE IF NOT EXISTS smsc_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

-- Message templates: a body with {{variable}} placeholders, rendered when a text is sent with it.
CREATE TABLE IF NOT EXISTS templates (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (customer_id, name)
);

-- Contact lists uploaded as CSV; the rows it skipped are kept as the upload's report.
CREATE TABLE IF NOT EXISTS contact_lists (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name TEXT NOT NULL,
  columns TEXT NOT NULL,              -- JSON array of the header's column names
  rejected_rows TEXT NOT NULL,        -- JSON array of {line, number, reason}
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS contact_list_entries (
  list_id TEXT NOT NULL REFERENCES contact_lists(id),
  line INTEGER NOT NULL,              -- the line of the upload: campaigns text contacts in this order
  number TEXT NOT NULL,               -- E.164
  fields TEXT NOT NULL,               -- JSON object: column name -> value
  PRIMARY KEY (list_id, number)
);

-- Numbers that asked a customer to stop texting them (STOP by text, or recorded through the API).
CREATE TABLE IF NOT EXISTS opt_outs (
  customer_id TEXT NOT NULL REFERENCES customers(id),
  number TEXT NOT NULL,
  source TEXT NOT NULL,               -- sms (the person texted a stop word) | api
  created_at TEXT NOT NULL,
  PRIMARY KEY (customer_id, number)
);

CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name TEXT NOT NULL,
  sender TEXT NOT NULL,
  template_id TEXT NOT NULL,          -- no foreign key: a finished campaign keeps naming a template deleted since
  contact_list_id TEXT NOT NULL REFERENCES contact_lists(id),
  rate_per_second INTEGER NOT NULL,   -- texts handed to the network per second, at most
  status TEXT NOT NULL,               -- draft | scheduled | running | paused | completed | cancelled
  start_at TEXT,                      -- scheduled start
  started_at TEXT,
  finished_at TEXT,                   -- completed (every contact handed over or skipped) or cancelled
  next_send_at INTEGER,               -- running: epoch ms at which the next contact may be texted
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_by_status ON campaigns(status);

-- One row per contact of a campaign, copied from the list when the campaign is created.
CREATE TABLE IF NOT EXISTS campaign_contacts (
  campaign_id TEXT NOT NULL REFERENCES campaigns(id),
  line INTEGER NOT NULL,
  number TEXT NOT NULL,
  fields TEXT NOT NULL,
  state TEXT NOT NULL,                -- pending | handed (its message carries the outcome) | opted-out | cancelled | failed
  message_id TEXT,                    -- handed: the messages row, written in the same transaction
  error TEXT,                         -- failed: why the text could not be made or accepted
  PRIMARY KEY (campaign_id, number)
);
CREATE INDEX IF NOT EXISTS campaign_contacts_by_message ON campaign_contacts(message_id);

CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,               -- after a rotation: still signs alongside the new one until
  previous_secret_until TEXT,         -- this instant (the overlap in which receivers switch over)
  events TEXT NOT NULL,               -- JSON array of event types; 'message.*' style wildcards allowed
  format TEXT NOT NULL DEFAULT 'phase2',  -- phase2 (signed JSON) | jasmin (Jasmin's DLR callback form, answered ACK/Jasmin)
  created_at TEXT NOT NULL
);

-- Outbox of webhook events: written in the same transaction as the change it reports.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  event_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id),
  type TEXT NOT NULL,
  ordering_key TEXT NOT NULL,         -- the resource the event is about (a message id): its events go out in order
  payload TEXT NOT NULL,              -- the exact JSON body sent
  status TEXT NOT NULL,               -- pending | delivered | failed
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  delivered_at TEXT,
  PRIMARY KEY (event_id, webhook_id)
);

-- The cluster's bus (platform/cluster/cluster-bus.ts): a durable outbox every process appends to,
-- read by each role's active node from its own offset.
CREATE TABLE IF NOT EXISTS bus_events (
  id INTEGER PRIMARY KEY,             -- delivery order
  type TEXT NOT NULL,
  payload TEXT NOT NULL,              -- JSON
  at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS bus_offsets (
  role TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL,           -- the last bus_events.id whose listeners ran on this role
  failures INTEGER NOT NULL DEFAULT 0 -- consecutive polls on which a listener threw for last_id + 1
);

-- The audit trail (TEST-INT-054): append-only, each entry chained to the one before by hash, so an
-- edit behind the platform's back breaks the chain at that entry.
CREATE TABLE IF NOT EXISTS audit_events (
  seq INTEGER PRIMARY KEY,            -- chain order
  id TEXT NOT NULL UNIQUE,
  at TEXT NOT NULL,
  actor_kind TEXT NOT NULL,           -- customer | operator | platform | anonymous
  actor_id TEXT,
  customer_id TEXT,                   -- whose trail it belongs to (null: the operator's only)
  channel TEXT NOT NULL,              -- api | ops | sip | smpp | platform
  action TEXT NOT NULL,               -- e.g. sip-account.created, auth.failed, fraud.blocked
  target TEXT,
  source_address TEXT,
  request_id TEXT,
  detail TEXT NOT NULL,               -- JSON: before/after/reason, secrets redacted
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
`;
