import { randomInt } from 'node:crypto';
import smpp, { type PDU, type Session } from 'smpp';
import { Observed } from '../observed';
import { traffic } from '../traffic-log';
import { pduJson, pduSummary } from './pdu-frames';
import { segmentText, udhConcat } from './sms-codec';
import { attempts } from '../../reporting/attempts';

/**
 * The suite's ESME: a customer's SMPP client bound to the platform's SMSC. smpp 0.5.1 does the
 * PDU codec; this class adds what the library lacks: a send window, a response timeout per
 * request, enquire_link, bind-result checking, text encoding and splitting, and evidence.
 */

export type BindMode = 'transceiver' | 'transmitter' | 'receiver';

export interface SmppSessionOptions {
  /** Maximum requests awaiting a response; further requests wait their turn. */
  windowSize?: number;
  responseTimeoutMs?: number;
  /** Keep-alive period once bound; 0 disables. */
  enquireLinkMs?: number;
  /** Protocol timeout for the TCP connection to the SMSC; default 5000 ms. */
  connectTimeoutMs?: number;
}

export interface ReceivedDeliverSm {
  kind: 'receipt' | 'mo';
  source: string;
  destination: string;
  /** The decoded short_message (receipt text for receipts). */
  text: string;
  /** Receipts only: from the receipted_message_id TLV, else the `id:` field of the text. */
  receiptedMessageId?: string;
  stat?: string;
  err?: string;
  messageState?: number;
  receivedAt: number;
}

export class SmppCommandError extends Error {
  constructor(
    readonly command: string,
    readonly status: number,
    readonly statusName: string,
  ) {
    super(`${command} refused by the SMSC with ${statusName} (0x${status.toString(16).padStart(8, '0')})`);
    this.name = 'SmppCommandError';
  }
}

export class SmppTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmppTimeoutError';
  }
}

export function smppStatusName(status: number): string {
  for (const [name, value] of Object.entries(smpp.errors)) if (value === status) return name;
  return `0x${status.toString(16).padStart(8, '0')}`;
}

interface QueuedRequest {
  pdu: PDU;
  summaryText?: string;
  resolve: (response: PDU) => void;
  reject: (error: Error) => void;
}

interface InFlight extends QueuedRequest {
  timer: NodeJS.Timeout;
}

const PLATFORM = 'platform SMSC';

export class SmppCustomerSession {
  readonly deliveries = new Observed<ReceivedDeliverSm>(
    (d) =>
      `${d.kind} from ${d.source}: ${d.kind === 'receipt' ? `${d.receiptedMessageId} ${d.stat}` : JSON.stringify(d.text)}`,
  );
  private session: Session | null = null;
  private actor = 'SMPP client';
  private readonly windowSize: number;
  private readonly responseTimeoutMs: number;
  private readonly enquireLinkMs: number;
  private readonly connectTimeoutMs: number;
  private readonly waiting: QueuedRequest[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private enquireTimer: NodeJS.Timeout | null = null;
  private closedReason: string | null = null;

  constructor(options: SmppSessionOptions = {}) {
    this.windowSize = options.windowSize ?? 10;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 5_000;
    this.enquireLinkMs = options.enquireLinkMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  }

  /** Requests sent and not yet answered. */
  get outstanding(): number {
    return this.inFlight.size;
  }

  /** Requests waiting for room in the window. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Opens the TCP connection; rejects naming host:port when it fails or takes longer than the connect timeout. */
  connect(target: { host: string; port: number; actor: string }): Promise<void> {
    this.actor = target.actor;
    const where = `${target.host}:${target.port}`;
    return new Promise((resolve, reject) => {
      const session = smpp.connect({ host: target.host, port: target.port });
      this.session = session;
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session.off('error', onConnectError);
        if (error) reject(error);
        else resolve();
      };
      const onConnectError = (error: Error): void =>
        settle(new Error(`${this.actor} could not connect to the SMSC at ${where}: ${error.message}`));
      const timer = setTimeout(() => {
        this.closedReason = `no TCP connection to ${where} within ${this.connectTimeoutMs} ms`;
        settle(
          new SmppTimeoutError(
            `${this.actor}: no TCP connection to the SMSC at ${where} within ${this.connectTimeoutMs} ms. ` +
              'Look at: whether the SMSC listens there (PHASE2_SMPP) and the SMPP traffic attachment.',
          ),
        );
        session.destroy();
      }, this.connectTimeoutMs);
      session.once('error', onConnectError);
      session.once('connect', () => settle());
      // Always listening: without it a parse error crashes the process (FACTS §3).
      session.on('error', (error: Error) => this.onSessionError(error));
      session.on('close', () => this.failAll(this.closedReason ?? 'the SMSC closed the connection'));
      session.on('send', (pdu: PDU) => this.record(pdu, 'sent'));
      session.on('pdu', (pdu: PDU) => this.onPdu(pdu));
    });
  }

  async bind(credentials: { systemId: string; password: string; mode: BindMode }): Promise<void> {
    const response = await this.request(`bind_${credentials.mode}`, {
      system_id: credentials.systemId,
      password: credentials.password,
      system_type: '',
      interface_version: 0x34,
    });
    this.expectOk(response);
    if (this.enquireLinkMs > 0) this.scheduleEnquireLink();
  }

  /**
   * Submits a text, split into UDH-concatenated parts when it does not fit one SMS. Resolves
   * with the message id of the last part (and all of them) once every part was accepted.
   */
  async submit(message: {
    source: string;
    destination: string;
    text: string;
    registeredDelivery: boolean;
  }): Promise<{ messageId: string; messageIds: string[] }> {
    const { dataCoding, parts } = segmentText(message.text);
    const reference = randomInt(256);
    const source = addressFields(message.source);
    const destination = addressFields(message.destination);
    const responses = await Promise.all(
      parts.map((part, index) => {
        const concatenated = parts.length > 1;
        const params = {
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: source.address,
          dest_addr_ton: destination.ton,
          dest_addr_npi: destination.npi,
          destination_addr: destination.address,
          esm_class: concatenated ? 0x40 : 0x00,
          registered_delivery: message.registeredDelivery ? 1 : 0,
          data_coding: dataCoding,
          short_message: concatenated
            ? Buffer.concat([udhConcat(reference, parts.length, index + 1), part])
            : part,
        };
        const label = concatenated ? `(${index + 1}/${parts.length}) ${message.text}` : message.text;
        return this.request('submit_sm', params, label);
      }),
    );
    const messageIds = responses.map((response) => {
      this.expectOk(response);
      return String(response.message_id ?? '');
    });
    const messageId = messageIds[messageIds.length - 1];
    // Accepted: an end-to-end attempt from here, settled at scenario end from the handset.
    attempts.begin({
      channel: 'text',
      key: messageId,
      name: `text to ${message.destination} over SMPP`,
      text: { to: message.destination, text: message.text },
    });
    return { messageId, messageIds };
  }

  /**
   * One single-part submit_sm; resolves with the response whatever its status (ESME_RTHROTTLED
   * included), so a caller can retry the way a real ESME does.
   */
  submitOnce(message: {
    source: string;
    destination: string;
    text: string;
    registeredDelivery: boolean;
  }): Promise<PDU> {
    const { dataCoding, parts } = segmentText(message.text);
    if (parts.length !== 1)
      throw new Error(`submitOnce sends one part; "${message.text.slice(0, 20)}…" needs ${parts.length}`);
    const source = addressFields(message.source);
    const destination = addressFields(message.destination);
    return this.request(
      'submit_sm',
      {
        source_addr_ton: source.ton,
        source_addr_npi: source.npi,
        source_addr: source.address,
        dest_addr_ton: destination.ton,
        dest_addr_npi: destination.npi,
        destination_addr: destination.address,
        registered_delivery: message.registeredDelivery ? 1 : 0,
        data_coding: dataCoding,
        short_message: parts[0],
      },
      message.text,
    );
  }

  /** Sends any request and resolves with its response, whatever its status (refusals included). */
  request(command: string, params: Record<string, unknown> = {}, summaryText?: string): Promise<PDU> {
    if (this.session === null) return Promise.reject(new Error(`${this.actor}: ${command} before connect()`));
    if (this.closedReason !== null)
      return Promise.reject(
        new Error(`${this.actor}: ${command} after the connection ended (${this.closedReason})`),
      );
    const pdu = new smpp.PDU(command, params);
    return new Promise<PDU>((resolve, reject) => {
      this.waiting.push({ pdu, summaryText, resolve, reject });
      this.pump();
    });
  }

  /** Writes bytes as they are (malformed-PDU tests); the answer arrives as a normal PDU. */
  sendRaw(bytes: Buffer, description: string): void {
    traffic.record({
      protocol: 'SMPP',
      from: this.actor,
      to: PLATFORM,
      summary: `raw bytes: ${description}`,
      detail: describeRawBytes(bytes),
    });
    this.session?.socket.write(bytes);
  }

  /** Every PDU that was not a response to our requests (generic_nack with an unknown sequence, …). */
  readonly unsolicited = new Observed<PDU>(
    (pdu) => `${pdu.command} ${smppStatusName(pdu.command_status)} seq ${pdu.sequence_number}`,
  );

  async unbind(): Promise<void> {
    this.stopEnquireLink();
    const response = await this.request('unbind');
    this.expectOk(response);
    await this.close();
  }

  /** Ends the connection without unbinding; pending requests fail. Idempotent. */
  close(): Promise<void> {
    this.stopEnquireLink();
    const session = this.session;
    if (session === null || session.socket.destroyed) return Promise.resolve();
    this.closedReason ??= `${this.actor} closed the session`;
    return new Promise((resolve) => session.destroy(() => resolve()));
  }

  private pump(): void {
    while (this.inFlight.size < this.windowSize && this.waiting.length > 0) {
      const next = this.waiting.shift() as QueuedRequest;
      this.dispatch(next);
    }
  }

  private dispatch(request: QueuedRequest): void {
    const session = this.session;
    if (session === null) return;
    const sent = session.send(request.pdu, (response: PDU) => this.onResponse(response));
    if (!sent) {
      request.reject(
        new Error(
          `${this.actor}: could not send ${request.pdu.command}: the connection is not writable (${this.closedReason ?? 'closed'})`,
        ),
      );
      return;
    }
    const sequence = request.pdu.sequence_number;
    if (request.summaryText !== undefined) this.summaryTexts.set(sequence, request.summaryText);
    const timer = setTimeout(() => {
      this.inFlight.delete(sequence);
      request.reject(
        new SmppTimeoutError(
          `${this.actor}: no ${request.pdu.command}_resp from the SMSC within ${this.responseTimeoutMs} ms (sequence ${sequence}; ` +
            `${this.inFlight.size} other request(s) outstanding). Look at the SMPP traffic attachment.`,
        ),
      );
      this.pump();
    }, this.responseTimeoutMs);
    this.inFlight.set(sequence, { ...request, timer });
  }

  /** Texts for traffic summaries of submits, by sequence number (the PDU only holds bytes). */
  private readonly summaryTexts = new Map<number, string>();

  private onResponse(response: PDU): void {
    const request = this.inFlight.get(response.sequence_number);
    if (request === undefined) return; // timed out already; the traffic log shows the late response
    clearTimeout(request.timer);
    this.inFlight.delete(response.sequence_number);
    if (response.command === 'generic_nack') {
      request.reject(
        new SmppCommandError(
          request.pdu.command,
          response.command_status,
          smppStatusName(response.command_status),
        ),
      );
    } else {
      request.resolve(response);
    }
    this.pump();
  }

  private onPdu(pdu: PDU): void {
    this.record(pdu, 'received');
    if (pdu.isResponse()) {
      if (!this.inFlight.has(pdu.sequence_number)) this.unsolicited.add(pdu);
      return;
    }
    const session = this.session;
    if (session === null) return;
    switch (pdu.command) {
      case 'deliver_sm':
        session.send(pdu.response({ message_id: '' }));
        this.deliveries.add(parseDeliverSm(pdu));
        return;
      case 'enquire_link':
        session.send(pdu.response());
        return;
      case 'unbind':
        session.send(pdu.response());
        this.closedReason = 'the SMSC unbound the session';
        session.close();
        return;
      default:
        // 'unknown' becomes generic_nack ESME_RINVCMDID; other commands an ESME does not serve likewise.
        session.send(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: smpp.errors.ESME_RINVCMDID,
          }),
        );
    }
  }

  private onSessionError(error: Error): void {
    traffic.record({
      protocol: 'SMPP',
      from: PLATFORM,
      to: this.actor,
      summary: `connection error: ${error.message}`,
    });
    this.closedReason = `connection error: ${error.message}`;
    this.failAll(this.closedReason);
    // After a decode error smpp 0.5.1 stops reading; the connection is unusable.
    this.session?.destroy();
  }

  private failAll(reason: string): void {
    this.closedReason ??= reason;
    this.stopEnquireLink();
    for (const [sequence, request] of this.inFlight) {
      clearTimeout(request.timer);
      request.reject(
        new Error(`${this.actor}: ${request.pdu.command} (sequence ${sequence}) got no response: ${reason}`),
      );
    }
    this.inFlight.clear();
    for (const request of this.waiting.splice(0))
      request.reject(new Error(`${this.actor}: ${request.pdu.command} was never sent: ${reason}`));
  }

  private expectOk(response: PDU): void {
    if (response.command_status !== smpp.errors.ESME_ROK) {
      throw new SmppCommandError(
        response.command.replace(/_resp$/, ''),
        response.command_status,
        smppStatusName(response.command_status),
      );
    }
  }

  private scheduleEnquireLink(): void {
    this.stopEnquireLink();
    this.enquireTimer = setInterval(() => {
      this.request('enquire_link').catch((error: unknown) => {
        traffic.record({
          protocol: 'SMPP',
          from: this.actor,
          to: PLATFORM,
          summary: `enquire_link failed: ${String(error)}`,
        });
      });
    }, this.enquireLinkMs);
  }

  private stopEnquireLink(): void {
    if (this.enquireTimer !== null) clearInterval(this.enquireTimer);
    this.enquireTimer = null;
  }

  private record(pdu: PDU, direction: 'sent' | 'received'): void {
    let text: string | undefined;
    if (direction === 'sent' && pdu.command === 'submit_sm') {
      text = this.summaryTexts.get(pdu.sequence_number);
      this.summaryTexts.delete(pdu.sequence_number);
    }
    if (direction === 'received' && pdu.command === 'deliver_sm') text = messageText(pdu.short_message);
    traffic.record({
      protocol: 'SMPP',
      from: direction === 'sent' ? this.actor : PLATFORM,
      to: direction === 'sent' ? PLATFORM : this.actor,
      summary: pduSummary(pdu, smppStatusName, text),
      detail: pduJson(pdu),
    });
  }
}

/** Commands whose body carries a password right after system_id (SMPP 3.4 §4.1, §4.12.1 outbind). */
const PASSWORD_COMMANDS = new Map<number, string>([
  [0x00000001, 'bind_receiver'],
  [0x00000002, 'bind_transmitter'],
  [0x00000009, 'bind_transceiver'],
  [0x0000000b, 'outbind'],
]);

/**
 * Raw bytes for the evidence: hex per PDU (as far as command_length frames them), with the
 * password of any bind or outbind replaced, so a malformed-bind test cannot leak credentials.
 */
export function describeRawBytes(bytes: Buffer): string {
  const lines = [`${bytes.length} byte(s)`];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 16) {
      lines.push(`trailing ${bytes.length - offset} byte(s): ${bytes.subarray(offset).toString('hex')}`);
      break;
    }
    const commandLength = bytes.readUInt32BE(offset);
    const commandId = bytes.readUInt32BE(offset + 4);
    // A nonsense length cannot frame anything: the rest is treated as one PDU.
    const end = commandLength >= 16 ? Math.min(offset + commandLength, bytes.length) : bytes.length;
    const name = PASSWORD_COMMANDS.get(commandId);
    const label = `command_id 0x${commandId.toString(16).padStart(8, '0')}${name ? ` (${name})` : ''}, command_length ${commandLength}`;
    const frame = bytes.subarray(offset, end);
    lines.push(`${label}: ${name ? hexWithoutPassword(frame) : frame.toString('hex')}`);
    offset = end;
  }
  return lines.join('\n');
}

function hexWithoutPassword(frame: Buffer): string {
  const header = frame.subarray(0, 16).toString('hex');
  const systemIdEnd = frame.indexOf(0x00, 16);
  // Without system_id's terminator there is no telling where the password starts: hide the whole body.
  if (systemIdEnd === -1) return `${header}<body of ${frame.length - 16} byte(s) redacted>`;
  const passwordEnd = frame.indexOf(0x00, systemIdEnd + 1);
  const end = passwordEnd === -1 ? frame.length : passwordEnd;
  return (
    `${header}${frame.subarray(16, systemIdEnd + 1).toString('hex')}` +
    `<password redacted>${frame.subarray(end).toString('hex')}`
  );
}

/** TON/NPI for an address: '+digits' international, digits a short code, else alphanumeric. */
function addressFields(address: string): { ton: number; npi: number; address: string } {
  if (/^\+\d+$/.test(address)) return { ton: 1, npi: 1, address: address.slice(1) };
  if (/^\d+$/.test(address)) return { ton: 3, npi: 0, address };
  return { ton: 5, npi: 0, address };
}

function messageText(shortMessage: unknown): string {
  if (typeof shortMessage === 'string') return shortMessage;
  if (shortMessage && typeof shortMessage === 'object' && 'message' in shortMessage) {
    const message = (shortMessage as { message: unknown }).message;
    return Buffer.isBuffer(message) ? message.toString('latin1') : String(message);
  }
  return '';
}

function parseDeliverSm(pdu: PDU): ReceivedDeliverSm {
  const text = messageText(pdu.short_message);
  const international = (ton: unknown, address: unknown): string =>
    Number(ton) === 1 ? `+${String(address)}` : String(address ?? '');
  const base = {
    source: international(pdu.source_addr_ton, pdu.source_addr),
    destination: international(pdu.dest_addr_ton, pdu.destination_addr),
    text,
    receivedAt: Date.now(),
  };
  if ((Number(pdu.esm_class ?? 0) & 0x3c) !== 0x04) return { kind: 'mo', ...base };
  const field = (name: string): string | undefined => new RegExp(`\\b${name}:(\\S*)`).exec(text)?.[1];
  const tlvId =
    typeof pdu.receipted_message_id === 'string' && pdu.receipted_message_id !== ''
      ? pdu.receipted_message_id
      : undefined;
  return {
    kind: 'receipt',
    ...base,
    receiptedMessageId: tlvId ?? field('id'),
    stat: field('stat'),
    err: field('err'),
    messageState: typeof pdu.message_state === 'number' ? pdu.message_state : undefined,
  };
}
