import type { Db } from '../store/store';
import { writeTransaction } from './write-transaction';

/** A row of `messages`, which is also the SMSC's persistent queue. */
export interface MessageRow {
  id: string;
  customer_id: string;
  source: 'api' | 'smpp' | 'campaign' | 'platform';
  sender: string;
  recipient: string;
  text: string;
  encoding: 'gsm7' | 'ucs2';
  parts: number;
  status: MessageStatus;
  error_code: string | null;
  connector_id: string | null;
  carrier_message_ids: string;
  /** JSON array: the connector that accepted each part (receipts are matched per part). */
  part_connectors: string;
  part_states: string;
  registered_delivery: number;
  attempts: number;
  accepted_at: string;
  sent_at: string | null;
  done_at: string | null;
  receipt_sent_at: string | null;
}

export type MessageStatus =
  'queued' | 'sent' | 'delivered' | 'undeliverable' | 'expired' | 'rejected' | 'failed';

export const FINAL_STATUSES: readonly MessageStatus[] = [
  'delivered',
  'undeliverable',
  'expired',
  'rejected',
  'failed',
];

/** The SQL the SMSC runs, prepared once. */
/** A stored carrier connector and the bind state its SMSC last recorded. */
export interface ConnectorStateRow {
  id: string;
  host: string;
  port: number;
  systemId: string;
  state: string;
  lastError: string | null;
}

export class MessageStore {
  constructor(private readonly db: Db) {}

  insert(
    row: Omit<
      MessageRow,
      | 'receipt_sent_at'
      | 'error_code'
      | 'connector_id'
      | 'part_connectors'
      | 'sent_at'
      | 'done_at'
      | 'attempts'
    >,
  ): void {
    this.db
      .prepare(
        `INSERT INTO messages (id, customer_id, source, sender, recipient, text, encoding, parts, status,
           carrier_message_ids, part_states, registered_delivery, attempts, accepted_at)
         VALUES (@id, @customer_id, @source, @sender, @recipient, @text, @encoding, @parts, @status,
           @carrier_message_ids, @part_states, @registered_delivery, 0, @accepted_at)`,
      )
      .run(row);
  }

  get(id: string): MessageRow | undefined {
    return this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
  }

  queuedIds(): string[] {
    return (
      this.db.prepare("SELECT id FROM messages WHERE status = 'queued' ORDER BY accepted_at").all() as Array<{
        id: string;
      }>
    ).map((r) => r.id);
  }

  /**
   * The message (still awaiting receipts) whose part this connector accepted under this carrier
   * id, and the part index. Matched per part: after a re-route mid-send the parts of one message
   * were accepted by different connectors. (Rows without per-part connectors use connector_id.)
   */
  findByCarrierId(connectorId: string, carrierId: string): { row: MessageRow; part: number } | undefined {
    const found = this.db
      .prepare(
        `SELECT m.*, CAST(j.key AS INTEGER) AS part_index FROM messages m, json_each(m.carrier_message_ids) j
         WHERE m.status IN ('queued', 'sent') AND j.value = @carrierId
           AND COALESCE(json_extract(m.part_connectors, '$[' || j.key || ']'), m.connector_id) = @connectorId
         LIMIT 1`,
      )
      .get({ connectorId, carrierId }) as (MessageRow & { part_index: number }) | undefined;
    if (found === undefined) return undefined;
    const { part_index: part, ...row } = found;
    return { row, part };
  }

  /** Records that a connector accepted one part under a carrier id (and is the latest connector used). */
  recordCarrierId(id: string, part: number, connectorId: string, carrierId: string): void {
    writeTransaction(this.db, () => {
      const row = this.get(id);
      if (row === undefined) return;
      const carrierIds = JSON.parse(row.carrier_message_ids) as Array<string | null>;
      const connectors = JSON.parse(row.part_connectors) as Array<string | null>;
      while (carrierIds.length < row.parts) carrierIds.push(null);
      while (connectors.length < row.parts) connectors.push(null);
      carrierIds[part] = carrierId;
      connectors[part] = connectorId;
      this.db
        .prepare(
          'UPDATE messages SET connector_id = ?, carrier_message_ids = ?, part_connectors = ? WHERE id = ?',
        )
        .run(connectorId, JSON.stringify(carrierIds), JSON.stringify(connectors), id);
    });
  }

  /**
   * Records that one part of a message is about to go to a carrier; true when the part was
   * already in flight, i.e. it went out before and no submit_sm_resp was recorded for it (the
   * carrier may hold a copy: this send may be a duplicate on the handset). Call it in a unit.
   */
  markInFlight(id: string, part: number, connectorId: string, at: string): boolean {
    const previous = this.db
      .prepare('SELECT 1 FROM smsc_in_flight WHERE message_id = ? AND part = ?')
      .get(id, part);
    this.db
      .prepare(
        `INSERT INTO smsc_in_flight (message_id, part, connector_id, sent_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(message_id, part) DO UPDATE SET connector_id = excluded.connector_id, sent_at = excluded.sent_at`,
      )
      .run(id, part, connectorId, at);
    return previous !== undefined;
  }

  /**
   * Runs fn with commits that skip the fsync (outside a transaction only: SQLite refuses the
   * change inside one). For bookkeeping on every submit's path that must outlive the node's
   * process, which a committed WAL write does, but not the machine's power.
   */
  withoutFsync<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    const level = this.db.pragma('synchronous', { simple: true }) as number;
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma(`synchronous = ${level}`);
    }
  }

  /** The carrier answered this part's submit_sm (accepted or refused): it is no longer in flight. */
  clearInFlight(id: string, part: number): void {
    this.db.prepare('DELETE FROM smsc_in_flight WHERE message_id = ? AND part = ?').run(id, part);
  }

  /** Queued messages with a part sent whose submit_sm_resp was never recorded (a node died meanwhile). */
  inFlightMessageIds(): string[] {
    return (
      this.db
        .prepare(
          `SELECT DISTINCT f.message_id AS id FROM smsc_in_flight f JOIN messages m ON m.id = f.message_id
           WHERE m.status = 'queued' ORDER BY f.message_id`,
        )
        .all() as Array<{ id: string }>
    ).map((r) => r.id);
  }

  addToCounter(name: string, by: number): void {
    this.db
      .prepare(
        'INSERT INTO smsc_counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value',
      )
      .run(name, by);
  }

  counter(name: string): number {
    const row = this.db.prepare('SELECT value FROM smsc_counters WHERE name = ?').get(name) as
      { value: number } | undefined;
    return row?.value ?? 0;
  }

  saveConnectorState(id: string, state: string, lastError: string | null, at: string): void {
    this.db
      .prepare(
        `INSERT INTO smsc_connector_states (connector_id, state, last_error, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(connector_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error,
           updated_at = excluded.updated_at`,
      )
      .run(id, state, lastError, at);
  }

  /** Every stored connector with the bind state its SMSC last recorded ('connecting' before any). */
  connectorStates(): ConnectorStateRow[] {
    return this.db
      .prepare(
        `SELECT c.id, c.host, c.port, c.system_id AS systemId, COALESCE(s.state, 'connecting') AS state,
           s.last_error AS lastError
         FROM smsc_connectors c LEFT JOIN smsc_connector_states s ON s.connector_id = c.id ORDER BY c.id`,
      )
      .all() as ConnectorStateRow[];
  }

  markSent(id: string, at: string): void {
    this.db
      .prepare(
        "UPDATE messages SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'queued'",
      )
      .run(at, id);
  }

  countAttempt(id: string): void {
    this.db.prepare('UPDATE messages SET attempts = attempts + 1 WHERE id = ?').run(id);
  }

  recordPartStates(id: string, states: Array<string | null>): void {
    this.db.prepare('UPDATE messages SET part_states = ? WHERE id = ?').run(JSON.stringify(states), id);
  }

  /** Moves a message to a final status; false when it was already final (a duplicate receipt). */
  finish(id: string, status: MessageStatus, errorCode: string | null, at: string): boolean {
    const result = this.db
      .prepare(
        "UPDATE messages SET status = ?, error_code = ?, done_at = ? WHERE id = ? AND status IN ('queued', 'sent')",
      )
      .run(status, errorCode, at, id);
    return result.changes === 1;
  }

  receiptsOwed(customerId: string): string[] {
    return (
      this.db
        .prepare(
          `SELECT id FROM messages WHERE customer_id = ? AND source = 'smpp'
             AND (registered_delivery = 1 OR (registered_delivery = 2 AND status <> 'delivered'))
             AND receipt_sent_at IS NULL AND status IN (${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})
           ORDER BY done_at`,
        )
        .all(customerId) as Array<{ id: string }>
    ).map((r) => r.id);
  }

  /** Whether the customer asked for a receipt for this outcome (registered_delivery 1, or 2 and it failed). */
  static receiptWanted(row: Pick<MessageRow, 'registered_delivery' | 'status'>): boolean {
    if (!FINAL_STATUSES.includes(row.status)) return false;
    if (row.registered_delivery === 1) return true;
    return row.registered_delivery === 2 && row.status !== 'delivered';
  }

  markReceiptSent(id: string, at: string): void {
    this.db.prepare('UPDATE messages SET receipt_sent_at = ? WHERE id = ?').run(at, id);
  }

  /** Longest-prefix route for a recipient ('' is the default route). */
  route(recipient: string): string | null {
    const row = this.db
      .prepare(
        'SELECT connector_id FROM sms_routes WHERE substr(?, 1, length(prefix)) = prefix ORDER BY length(prefix) DESC LIMIT 1',
      )
      .get(recipient) as { connector_id: string } | undefined;
    return row?.connector_id ?? null;
  }

  setRoute(prefix: string, connectorId: string): void {
    this.db
      .prepare(
        'INSERT INTO sms_routes (prefix, connector_id) VALUES (?, ?) ON CONFLICT(prefix) DO UPDATE SET connector_id = excluded.connector_id',
      )
      .run(prefix, connectorId);
  }

  /** False when no route has exactly this prefix. */
  removeRoute(prefix: string): boolean {
    return this.db.prepare('DELETE FROM sms_routes WHERE prefix = ?').run(prefix).changes === 1;
  }

  /**
   * Deletes a connector and the routes to it (they reference it), in one transaction. Messages
   * keep their connector ids: receipts and history refer to them. Null when the id is unknown.
   */
  removeConnector(id: string): { removedRoutes: string[] } | null {
    return writeTransaction(this.db, () => {
      const routes = this.db
        .prepare('SELECT prefix FROM sms_routes WHERE connector_id = ? ORDER BY prefix')
        .all(id) as Array<{ prefix: string }>;
      this.db.prepare('DELETE FROM sms_routes WHERE connector_id = ?').run(id);
      this.db.prepare('DELETE FROM smsc_connector_states WHERE connector_id = ?').run(id);
      const removed = this.db.prepare('DELETE FROM smsc_connectors WHERE id = ?').run(id).changes === 1;
      return removed ? { removedRoutes: routes.map((r) => r.prefix) } : null;
    });
  }

  upsertConnector(
    c: { id: string; host: string; port: number; systemId: string; password: string },
    at: string,
  ): void {
    this.db
      .prepare(
        `INSERT INTO smsc_connectors (id, host, port, system_id, password, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET host = excluded.host, port = excluded.port, system_id = excluded.system_id, password = excluded.password`,
      )
      .run(c.id, c.host, c.port, c.systemId, c.password, at);
  }

  connectors(): Array<{ id: string; host: string; port: number; systemId: string; password: string }> {
    return this.db
      .prepare('SELECT id, host, port, system_id AS systemId, password FROM smsc_connectors ORDER BY id')
      .all() as Array<{
      id: string;
      host: string;
      port: number;
      systemId: string;
      password: string;
    }>;
  }

  account(systemId: string): SmppAccount | undefined {
    const row = this.db
      .prepare(
        `SELECT a.system_id, a.customer_id, a.password, a.throughput_per_second, c.suspended_at
           FROM smpp_accounts a JOIN customers c ON c.id = a.customer_id WHERE a.system_id = ?`,
      )
      .get(systemId) as (Omit<SmppAccount, 'suspended'> & { suspended_at: string | null }) | undefined;
    if (row === undefined) return undefined;
    const { suspended_at, ...account } = row;
    return { ...account, suspended: suspended_at !== null };
  }

  /** Read on every submit_sm, so a suspension holds on binds made before it too. */
  customerSuspended(customerId: string): boolean {
    const row = this.db.prepare('SELECT suspended_at FROM customers WHERE id = ?').get(customerId) as
      { suspended_at: string | null } | undefined;
    return row !== undefined && row.suspended_at !== null;
  }
}

export interface SmppAccount {
  system_id: string;
  customer_id: string;
  password: string;
  throughput_per_second: number | null;
  /** The customer is suspended by the operator: binds and submits are refused. */
  suspended: boolean;
}
