/**
 * The stored rows of the platform's tables as better-sqlite3 returns them (snake_case, SQLite
 * types). Core maps them to API resources; the sip-edge reads trunks and accounts from them.
 */

export interface VoicemailRow {
  id: string;
  customer_id: string;
  mailbox: string;
  caller: string;
  sip_call_id: string;
  received_at: string;
  duration_ms: number;
  transcript: string | null;
  transcription_status: string;
}

export interface VerificationRow {
  id: string;
  customer_id: string;
  line: string;
  phone: string;
  code: string;
  status: string;
  attempts: number;
  max_attempts: number;
  created_at: string;
  expires_at: string;
  verified_at: string | null;
}

export interface CustomerRow {
  id: string;
  name: string;
  tier: string;
  created_at: string;
  suspended_at: string | null;
}

export interface NumberRow {
  e164: string;
  customer_id: string;
  kind: string;
  voice_service: string | null;
  callback_agent: string | null;
  code_ttl_seconds: number | null;
  created_at: string;
}

export interface TrunkRow {
  id: string;
  customer_id: string;
  name: string;
  host: string;
  port: number;
  transport: string;
  destination_prefixes: string;
  caller_id: string | null;
  caller_id_presentation: string;
  created_at: string;
}

export interface SipAccountRow {
  username: string;
  customer_id: string;
  password: string;
  number: string;
  mobile: string | null;
  missed_call_sms: number;
  forward_to: string | null;
  caller_id: string | null;
  voicemail: number;
  created_at: string;
}

export interface RoutingRuleRow {
  id: string;
  customer_id: string;
  prefix: string;
  trunk_id: string;
  created_at: string;
  updated_at: string;
}

export interface CdrRow {
  id: string;
  customer_id: string;
  sip_call_id: string;
  caller: string;
  callee: string;
  trunk_id: string | null;
  direction: string;
  started_at: string;
  answered_at: string | null;
  ended_at: string;
  duration_ms: number;
  billable_seconds: number;
  disposition: string;
  sip_status: number;
  hangup_by: string | null;
  forwarded_to: string | null;
  transferred_to: string | null;
  media: string;
}

export interface MessageRow {
  id: string;
  customer_id: string;
  sender: string;
  recipient: string;
  text: string;
  encoding: string;
  parts: number;
  status: string;
  error_code: string | null;
  accepted_at: string;
  sent_at: string | null;
  done_at: string | null;
}

export interface TemplateRow {
  id: string;
  customer_id: string;
  name: string;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface WebhookRow {
  id: string;
  customer_id: string;
  url: string;
  secret: string;
  events: string;
  format: string;
  created_at: string;
}
