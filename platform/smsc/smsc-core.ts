import { createHash, randomUUID } from 'node:crypto';
import type { PDU } from 'smpp';
import type { RoleDeps } from '../role';
import { nowIso } from '../store/store';
import { writeBehind, type WriteBehind } from '../store/write-behind';
import { CarrierConnector } from './connector';
import { MessageStore, type MessageRow, type MessageStatus } from './message-store';
import { FINAL_STATS, parseReceiptText } from './receipts';
import {
  AcceptMessageInput,
  AcceptedMessage,
  ConnectorSettings,
  ConnectorStatus,
  registeredDeliveryValue,
  SmscRejection,
  SmscService,
} from './service';
import {
  concatenationUdh,
  DATA_CODING,
  decodeByDataCoding,
  encodeText,
  MAX_PARTS,
  splitUdh,
} from './sms-text';
import {
  rawShortMessage,
  rawTlv,
  SmppLinkClosed,
  SmppResponseTimeout,
  STATUS,
  statusName,
} from './smpp-link';
import { E164 } from '../phone-numbers';

/** Carrier statuses worth retrying: the carrier is busy, not refusing the message. */
const TRANSIENT_SUBMIT_STATUSES: ReadonlySet<number> = new Set([
  STATUS.ESME_RTHROTTLED,
  STATUS.ESME_RMSGQFUL,
  STATUS.ESME_RSYSERR,
  STATUS.ESME_RX_T_APPN,
]);

const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const RECEIPTED_MESSAGE_ID_TAG = 0x001e;

/** Notified when a message reaches a final status (the ESME server sends receipts). */
export type FinalStatusListener = (row: MessageRow) => void;

/**
 * The SMSC's store-and-forward core: accepts messages into the persistent queue, routes them to
 * carrier connectors, submits them (splitting long texts), and maps carrier receipts back.
 * Nothing here throws out of a timer or socket callback: failures are logged and retried or
 * recorded on the message.
 */
export class SmscCore implements SmscService {
  private readonly store: MessageStore;
  /** Status and receipt bookkeeping waits here, in order, while the store refuses writes. */
  private readonly writes: WriteBehind;
  private readonly live = new Map<string, CarrierConnector>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<string>();
  /**
   * Messages that had no route when accepted, until their first attempt: only these fail with
   * NO_ROUTE. A message whose route was removed later stays queued for the next route instead.
   */
  private readonly unroutedOnAcceptance = new Set<string>();
  private readonly finalListeners: FinalStatusListener[] = [];
  private stopped = false;

  constructor(private readonly deps: RoleDeps) {
    this.store = new MessageStore(deps.db);
    this.writes = writeBehind(deps.db, (message) => deps.log('store', message));
  }

  /** Starts every stored connector and re-schedules every message that was still queued. */
  start(): void {
    for (const settings of this.store.connectors()) this.startConnector(settings);
    const queued = this.store.queuedIds();
    if (queued.length > 0) this.log(`re-scheduling ${queued.length} queued message(s) from the store`);
    for (const id of queued) this.schedule(id, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    this.unroutedOnAcceptance.clear();
    await Promise.all([...this.live.values()].map((connector) => connector.stop()));
    this.live.clear();
  }

  onFinalStatus(listener: FinalStatusListener): void {
    this.finalListeners.push(listener);
  }

  messageRow(id: string): MessageRow | undefined {
    return this.store.get(id);
  }

  get messages(): MessageStore {
    return this.store;
  }

  acceptMessage(input: AcceptMessageInput): AcceptedMessage {
    return this.acceptWithId(input, `msg_${randomUUID()}`);
  }

  /** acceptMessage with an id chosen by the caller (the ESME server pre-allocates ids for concatenated submits). */
  acceptWithId(input: AcceptMessageInput, id: string): AcceptedMessage {
    validateAddresses(input.sender, input.recipient);
    if (typeof input.text !== 'string' || input.text.length === 0)
      throw new SmscRejection('invalid-text', 'text must not be empty');
    const encoded = encodeText(input.text);
    const parts = encoded.segments.length;
    if (parts > MAX_PARTS) {
      throw new SmscRejection(
        'too-long',
        `text needs ${parts} parts in ${encoded.encoding}; at most ${MAX_PARTS} are allowed`,
      );
    }
    const acceptedAt = nowIso();
    this.insertQueued(input, id, encoded.encoding, parts, acceptedAt);
    if (this.store.route(input.recipient) === null) this.unroutedOnAcceptance.add(id);
    this.schedule(id, 0);
    return { id, status: 'queued', encoding: encoded.encoding, parts, acceptedAt };
  }

  /**
   * Records a message the SMSC acknowledged but can never send (e.g. parts of a concatenated
   * submit that never arrived) as failed, so it is visible to the customer. Only writes: call
   * announceFinal(id) after the surrounding transaction committed.
   */
  insertFailed(input: AcceptMessageInput, id: string, errorCode: string): void {
    const encoded = encodeText(input.text);
    const parts = Math.max(1, encoded.segments.length);
    const at = nowIso();
    this.insertQueued(input, id, encoded.encoding, parts, at);
    this.store.finish(id, 'failed', errorCode, at);
  }

  /** The message row as the SMSC first stores it: queued, no part sent or reported yet. */
  private insertQueued(
    input: AcceptMessageInput,
    id: string,
    encoding: 'gsm7' | 'ucs2',
    parts: number,
    acceptedAt: string,
  ): void {
    const unknownPerPart = JSON.stringify(new Array<null>(parts).fill(null));
    this.store.insert({
      id,
      customer_id: input.customerId,
      source: input.source,
      sender: input.sender,
      recipient: input.recipient,
      text: input.text,
      encoding,
      parts,
      status: 'queued',
      carrier_message_ids: unknownPerPart,
      part_states: unknownPerPart,
      registered_delivery: registeredDeliveryValue(input.registeredDelivery),
      accepted_at: acceptedAt,
    });
  }

  /** Tells the bus and the final-status listeners (receipts) that a message reached its final status. */
  announceFinal(id: string): void {
    const row = this.store.get(id);
    if (row === undefined) return;
    this.emitStatus(row, row.status);
    for (const listener of this.finalListeners) {
      try {
        listener(row);
      } catch (error) {
        this.log(`final-status listener failed for ${id}: ${stack(error)}`);
      }
    }
  }

  upsertConnector(connector: ConnectorSettings): void {
    this.store.upsertConnector(connector, nowIso());
    const previous = this.live.get(connector.id);
    if (previous !== undefined) {
      this.live.delete(connector.id);
      previous
        .stop()
        .catch((error: unknown) =>
          this.log(`connector ${connector.id}: stopping the old session failed: ${String(error)}`),
        );
    }
    this.startConnector(connector);
  }

  async removeConnector(id: string): Promise<boolean> {
    const removed = this.store.removeConnector(id);
    const connector = this.live.get(id);
    this.live.delete(id);
    if (removed === null && connector === undefined) return false;
    const routes = removed?.removedRoutes ?? [];
    this.log(
      `connector ${id} removed` +
        (routes.length > 0 ? ` with its route(s) ${routes.map((p) => JSON.stringify(p)).join(', ')}` : '') +
        '; messages queued for it stay queued until a route to a bound connector exists',
    );
    // Submits waiting on its window fail with SmppLinkClosed and go back to the queue.
    if (connector !== undefined) await connector.stop();
    // A shorter prefix may now route some queued messages to another connector.
    this.rescheduleQueued();
    return true;
  }

  setRoute(prefix: string, connectorId: string): void {
    this.store.setRoute(prefix, connectorId);
    // Messages waiting for a route or a connector may now have one.
    this.rescheduleQueued();
  }

  removeRoute(prefix: string): boolean {
    if (!this.store.removeRoute(prefix)) return false;
    this.log(`route ${JSON.stringify(prefix)} removed`);
    this.rescheduleQueued();
    return true;
  }

  connectors(): ConnectorStatus[] {
    return [...this.live.values()]
      .map((connector) => connector.status())
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  private startConnector(settings: ConnectorSettings): void {
    const connector = new CarrierConnector(
      settings,
      {
        enquireLinkMs: this.deps.config.smsc.enquireLinkMs,
        responseTimeoutMs: this.deps.config.smsc.responseTimeoutMs,
        lateResponseGraceMs: this.deps.config.smsc.lateResponseGraceMs,
        reconnectDelayMs: this.deps.config.smsc.reconnectDelayMs,
        window: this.deps.config.smsc.connectorWindow,
      },
      {
        onBound: () => this.rescheduleQueued(),
        onDeliverSm: (c, pdu, frame) => this.onCarrierDeliverSm(c, pdu, frame),
      },
      (message) => this.log(message),
    );
    this.live.set(settings.id, connector);
    connector.start();
  }

  private rescheduleQueued(): void {
    if (this.stopped) return;
    for (const id of this.store.queuedIds()) if (!this.inFlight.has(id)) this.schedule(id, 0);
  }

  private schedule(id: string, delayMs: number): void {
    if (this.stopped) return;
    const existing = this.retryTimers.get(id);
    if (existing !== undefined) clearTimeout(existing);
    this.retryTimers.set(
      id,
      setTimeout(() => {
        this.retryTimers.delete(id);
        this.attempt(id).catch((error: unknown) =>
          this.log(`delivery of ${id} failed unexpectedly: ${stack(error)}`),
        );
      }, delayMs),
    );
  }

  private async attempt(id: string): Promise<void> {
    if (this.stopped || this.inFlight.has(id)) return;
    // The stored row lags behind bookkeeping still waiting for the store: resending from it could double a part.
    if (this.writes.pending > 0) {
      this.log(`${id}: its next attempt waits for the store`);
      this.writes.run(
        `delivery of ${id}`,
        () => undefined,
        () => this.schedule(id, 0),
      );
      return;
    }
    const row = this.store.get(id);
    if (row === undefined || row.status !== 'queued') return;
    const unroutedOnAcceptance = this.unroutedOnAcceptance.delete(id);
    const connectorId = this.store.route(row.recipient);
    if (connectorId === null) {
      if (unroutedOnAcceptance) {
        this.finish(row, 'failed', 'NO_ROUTE');
        return;
      }
      // Routable once, so never lost: parked until setRoute re-schedules every queued message.
      this.log(`${id}: no route to ${row.recipient} any more; queued until a route appears`);
      return;
    }
    const connector = this.live.get(connectorId);
    if (connector === undefined || !connector.isBound) {
      // Parked, not polled: the connector's bind (or a new route) re-schedules every queued message.
      this.log(
        `${id}: connector ${connectorId} is ${connector?.status().state ?? 'unknown'}; queued until it binds`,
      );
      return;
    }
    this.inFlight.add(id);
    try {
      await this.submitParts(row, connector);
    } finally {
      this.inFlight.delete(id);
    }
  }

  private async submitParts(row: MessageRow, connector: CarrierConnector): Promise<void> {
    const { segments, encoding } = encodeText(row.text);
    const carrierIds = padded(JSON.parse(row.carrier_message_ids) as Array<string | null>, segments.length);
    // Same reference on every retry, so a handset can still pair parts from different attempts.
    const reference = createHash('sha1').update(row.id).digest()[0];
    const source = submitAddress(row.sender);
    for (let index = 0; index < segments.length; index += 1) {
      if (carrierIds[index] !== null) continue;
      const concatenated = segments.length > 1;
      const label = `part ${index + 1}/${segments.length}`;
      let response: PDU;
      try {
        response = await connector.submit({
          service_type: '',
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: source.address,
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: row.recipient.slice(1),
          esm_class: concatenated ? 0x40 : 0x00,
          registered_delivery: 1,
          // Raw bytes and an explicit data_coding: the library must not re-encode the text.
          data_coding: encoding === 'gsm7' ? DATA_CODING.gsm7 : DATA_CODING.ucs2,
          short_message: concatenated
            ? Buffer.concat([concatenationUdh(reference, segments.length, index + 1), segments[index]])
            : segments[index],
        });
      } catch (error) {
        if (!(error instanceof SmppResponseTimeout)) {
          const reason = error instanceof SmppLinkClosed ? 'connector down' : stack(error);
          this.retryLater(row, `${label} not accepted (${reason})`);
          return;
        }
        // The carrier may have accepted it all the same: resubmitting now could put a second copy
        // on the handset. The message stays in flight until the late response or the grace is over.
        const grace = this.deps.config.smsc.lateResponseGraceMs;
        this.log(
          `${row.id}: ${label}: submit_sm_resp timeout after ${error.timeoutMs} ms on ${connector.id}; ` +
            `waiting up to ${grace} ms for a late response before resubmitting`,
        );
        const late = await error.lateResponse;
        if (late === null) {
          this.retryLater(row, `${label} not accepted (timeout, and no late response within ${grace} ms)`);
          return;
        }
        this.log(
          `${row.id}: ${label}: late submit_sm_resp ${statusName(late.command_status)} from ${connector.id}`,
        );
        response = late;
      }
      if (response.command_status !== STATUS.ESME_ROK) {
        const name = statusName(response.command_status);
        if (TRANSIENT_SUBMIT_STATUSES.has(response.command_status)) {
          this.retryLater(row, `${label} refused with ${name}`);
        } else {
          this.log(`${row.id}: carrier ${connector.id} rejected ${label} with ${name}`);
          this.finish(row, 'rejected', name);
        }
        return;
      }
      carrierIds[index] = String(response.message_id ?? '');
      const carrierId = carrierIds[index] as string;
      this.writes.run(`carrier id of ${row.id}`, () =>
        this.store.recordCarrierId(row.id, index, connector.id, carrierId),
      );
    }
    const sentAt = nowIso(); // when it happened, not when the store took it
    this.writes.run(
      `${row.id} sent`,
      () => this.store.markSent(row.id, sentAt),
      () => {
        this.emitStatus(row, 'sent');
        this.finishIfAllPartsFinal(row.id);
      },
    );
  }

  /** A receipt may beat the bookkeeping of the last submit_sm_resp; whichever comes last finishes. */
  private finishIfAllPartsFinal(id: string): void {
    const row = this.store.get(id);
    if (row === undefined || row.status !== 'sent') return;
    const states = padded(JSON.parse(row.part_states) as Array<string | null>, row.parts);
    if (states.some((state) => state === null)) return;
    const outcome = finalOutcome(states as string[]);
    this.finish(row, outcome.status, outcome.errorCode);
  }

  private retryLater(row: MessageRow, reason: string): void {
    if (this.stopped) return; // the row stays queued and is picked up on the next start
    const delay = this.deps.config.smsc.retryDelayMs;
    this.writes.run(`attempt of ${row.id}`, () => this.store.countAttempt(row.id));
    this.log(`${row.id}: ${reason}; stays queued, retry in ${delay} ms`);
    this.schedule(row.id, delay);
  }

  private finish(row: MessageRow, status: MessageStatus, errorCode: string | null): void {
    const at = nowIso();
    this.writes.run(
      `${row.id} ${status}`,
      () => this.store.finish(row.id, status, errorCode, at),
      (finished) => {
        if (finished) this.announceFinal(row.id);
      },
    );
  }

  private emitStatus(row: MessageRow, status: MessageStatus): void {
    this.deps.bus.emit('message.status', { messageId: row.id, customerId: row.customer_id, status });
  }

  private onCarrierDeliverSm(connector: CarrierConnector, pdu: PDU, frame: Buffer): void {
    let payload: Buffer;
    try {
      payload = rawShortMessage(frame);
    } catch (error) {
      this.log(`connector ${connector.id}: malformed deliver_sm: ${stack(error)}`);
      connector.respond(pdu, STATUS.ESME_RINVMSGLEN);
      return;
    }
    connector.respond(pdu, STATUS.ESME_ROK, { message_id: '' });
    const esmClass = Number(pdu.esm_class ?? 0);
    // Handled after pending submit_sm_resp continuations: a receipt can share a TCP read with the
    // response that carries its carrier id.
    setImmediate(() => {
      try {
        // In order behind the carrier ids it refers to, should they still wait for the store.
        if ((esmClass & 0x3c) === 0x04)
          this.writes.run(`receipt ${pdu.sequence_number} from ${connector.id}`, () =>
            this.onCarrierReceipt(connector, pdu, frame, payload),
          );
        else this.onMobileOriginated(connector, pdu, payload);
      } catch (error) {
        this.log(`connector ${connector.id}: deliver_sm handling failed: ${stack(error)}`);
      }
    });
  }

  private onCarrierReceipt(connector: CarrierConnector, pdu: PDU, frame: Buffer, payload: Buffer): void {
    const text = payload.toString('latin1');
    const parsed = parseReceiptText(text);
    const tlv = rawTlv(frame, RECEIPTED_MESSAGE_ID_TAG);
    const carrierId = tlv !== null ? tlv.toString('latin1').replace(/\0+$/, '') : parsed.id;
    if (carrierId === null || carrierId === '' || parsed.stat === null) {
      this.log(
        `connector ${connector.id}: receipt without id or stat ignored: ${JSON.stringify(text)} (seq ${pdu.sequence_number})`,
      );
      return;
    }
    const found = this.store.findByCarrierId(connector.id, carrierId);
    if (found === undefined) {
      this.log(
        `connector ${connector.id}: receipt for unknown or finished carrier id ${carrierId} (stat ${parsed.stat}) ignored`,
      );
      return;
    }
    if (!FINAL_STATS.has(parsed.stat)) {
      this.log(`${found.row.id}: intermediate receipt ${parsed.stat} for part ${found.part + 1}`);
      return;
    }
    const states = padded(JSON.parse(found.row.part_states) as Array<string | null>, found.row.parts);
    states[found.part] = `${parsed.stat}:${parsed.err ?? '000'}`;
    this.store.recordPartStates(found.row.id, states);
    this.finishIfAllPartsFinal(found.row.id);
  }

  /**
   * Mobile-originated message from a carrier: announced on the bus for whoever serves the
   * destination number (keyword commands, …). Concatenated MO is not reassembled yet: its parts
   * are logged and not announced, so no command ever runs on half a text.
   */
  private onMobileOriginated(connector: CarrierConnector, pdu: PDU, payload: Buffer): void {
    const dataCoding = Number(pdu.data_coding ?? 0);
    const concatenated = (Number(pdu.esm_class ?? 0) & 0x40) !== 0;
    const body = concatenated ? splitUdh(payload).payload : payload;
    const text = decodeByDataCoding(dataCoding, body);
    const from = networkAddress(pdu.source_addr, pdu.source_addr_ton);
    const to = networkAddress(pdu.destination_addr, pdu.dest_addr_ton);
    const shown = text ?? `<${body.length} bytes, data_coding ${dataCoding}>`;
    if (text === null || concatenated) {
      this.log(
        `connector ${connector.id}: MO from ${from} to ${to}: ${JSON.stringify(shown)} not routed (${concatenated ? 'concatenated MO is not reassembled' : 'undecodable'})`,
      );
      return;
    }
    this.log(`connector ${connector.id}: MO from ${from} to ${to}: ${JSON.stringify(text)}`);
    this.deps.bus.emit('message.received', { from, to, text, connectorId: connector.id });
  }

  private log(message: string): void {
    this.deps.log('smsc', message);
  }
}

/** Throws SmscRejection unless sender and recipient are valid. */
export function validateAddresses(sender: string, recipient: string): void {
  if (
    typeof sender !== 'string' ||
    !(E164.test(sender) || SHORT_CODE.test(sender) || ALPHANUMERIC.test(sender))
  ) {
    throw new SmscRejection(
      'invalid-sender',
      `sender ${JSON.stringify(sender)} is neither an E.164 number (+ and 8–15 digits), a short code (3–8 digits) nor an alphanumeric id (≤ 11 letters/digits)`,
    );
  }
  if (typeof recipient !== 'string' || !E164.test(recipient)) {
    throw new SmscRejection(
      'invalid-recipient',
      `recipient ${JSON.stringify(recipient)} is not an E.164 number (+ and 8–15 digits)`,
    );
  }
}

/** Source TON/NPI as carriers expect them for each kind of sender. */
/** An SMPP address as the platform stores numbers: TON 1 (international) digits get their '+'. */
export function networkAddress(address: unknown, ton: unknown): string {
  const value = typeof address === 'string' ? address : '';
  return Number(ton) === 1 && /^\d+$/.test(value) ? `+${value}` : value;
}

function submitAddress(sender: string): { ton: number; npi: number; address: string } {
  if (sender.startsWith('+')) return { ton: 1, npi: 1, address: sender.slice(1) };
  if (SHORT_CODE.test(sender)) return { ton: 3, npi: 0, address: sender };
  return { ton: 5, npi: 0, address: sender };
}

/** All parts DELIVRD → delivered; otherwise the worst part decides (rejected > undeliverable > expired). */
function finalOutcome(states: string[]): { status: MessageStatus; errorCode: string | null } {
  const parsed = states.map((state) => {
    const [stat, err] = state.split(':');
    return { stat, err };
  });
  const worst = (stat: string): { stat: string; err: string } | undefined =>
    parsed.find((p) => p.stat === stat);
  const rejected = worst('REJECTD');
  if (rejected) return { status: 'rejected', errorCode: rejected.err };
  const undeliverable = worst('UNDELIV') ?? worst('DELETED') ?? worst('UNKNOWN');
  if (undeliverable) return { status: 'undeliverable', errorCode: undeliverable.err };
  const expired = worst('EXPIRED');
  if (expired) return { status: 'expired', errorCode: expired.err };
  return { status: 'delivered', errorCode: null };
}

function padded<T>(values: Array<T | null>, length: number): Array<T | null> {
  const result = values.slice(0, length);
  while (result.length < length) result.push(null);
  return result;
}

function stack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
