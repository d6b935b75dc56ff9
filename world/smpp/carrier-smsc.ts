import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import smpp, { type PDU } from 'smpp';
import { Observed } from '../observed';
import { traffic } from '../traffic-log';
import { FrameSplitter, pduJson, pduSummary, shortMessageOf } from './pdu-frames';
import { gsm7Decode, readUdh, segmentText, ucs2Decode, udhConcat, type TextEncoding } from './sms-codec';
import { smppStatusName } from './smpp-session';

/**
 * The mobile network, as the platform's SMSC sees it: an SMPP server the platform binds to.
 * Virtual handsets collect the MT messages (concatenated parts reassembled), per-number
 * behaviours decide what the network answers, and MO messages can be injected. Decoding is
 * strict and byte-exact: text in the wrong alphabet is refused and reported in `violations`.
 */

/**
 * - deliver: accepted, on the handset, DELIVRD receipt per part
 * - undeliverable: accepted, not on the handset, UNDELIV err:001 receipt per part
 * - never: accepted, on the handset, no receipt ever (lost DLR)
 * - reject: submit_sm_resp ESME_RINVDSTADR
 * - no-response: submit_sm is never answered (a hung SMSC)
 * - slow-response: like deliver, but submit_sm_resp comes `slowResponseMs` late (a congested SMSC
 *   that accepted the message all the same)
 * - slow-dlr: like deliver, but the DELIVRD receipt comes `slowReceiptMs` after the text reached
 *   the handset (a network that reports late)
 * - throttled: the first `throttledSubmits` submit_sm to the number are refused with
 *   ESME_RTHROTTLED (a congested network), later ones are delivered; with the timing's
 *   `throttledForMs`, every submit_sm within that long of the number's first one is refused
 */
export type HandsetBehaviour =
  | 'deliver'
  | 'undeliverable'
  | 'never'
  | 'reject'
  | 'no-response'
  | 'slow-response'
  | 'slow-dlr'
  | 'throttled';

export interface HandsetSms {
  from: string;
  to: string;
  text: string;
  encoding: TextEncoding;
  parts: number;
  /** Date.now() when the last part arrived and the text was reassembled. */
  receivedAt: number;
  carrierMessageIds: string[];
}

export interface Handset {
  inbox: Observed<HandsetSms>;
}

/** A delivery receipt the network sent the platform, as it sent it: the ground truth of a report. */
export interface CarrierReceipt {
  /** The handset the receipt is about. */
  to: string;
  carrierId: string;
  stat: 'DELIVRD' | 'UNDELIV';
  /** The network error code, three digits ('000' when delivered). */
  err: string;
  /** The text (or part) the receipt is about. */
  text: string;
  /** Date.now() when the network issued it (it goes on the wire then, or at the platform's next bind). */
  at: number;
}

/** A submit_sm the network received (a resubmission shows up as a second one). */
export interface CarrierSubmit {
  to: string;
  /** The id the network gave it; null when it was turned away or never answered. */
  carrierId: string | null;
  /** The text (or part) submitted, when it could be decoded. */
  text: string;
  /** Date.now() when the submit_sm arrived. */
  at: number;
  /**
   * Date.now() when the network answered it with its id (submit_sm_resp on the wire); absent
   * while unanswered. From then on the platform knows the text was taken.
   */
  answeredAt?: number;
}

/** How fast one handset's network answers, besides what its behaviour does. */
export interface HandsetTiming {
  /** 'slow-response': how late the submit_sm_resp comes (default: the double's `slowResponseMs`). */
  responseDelayMs?: number;
  /** The text reaches the handset (and the receipt follows) this long after the network accepted it. */
  deliverAfterMs?: number;
  /**
   * 'throttled': refuse every submit_sm to the number for this long after its first one (congestion
   * that lasts a while, whatever the platform's retry pace), instead of a count of refusals.
   */
  throttledForMs?: number;
}

export interface CarrierBind {
  systemId: string;
  mode: 'transmitter' | 'receiver' | 'transceiver';
  at: number;
}

interface Connection {
  socket: Socket;
  frames: FrameSplitter;
  bound: CarrierBind | null;
  sequence: number;
  pending: Map<
    number,
    { resolve: (pdu: PDU) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >;
}

/** A submit_sm's text as decoded, with its place in a concatenated message (null when whole). */
interface DecodedText {
  text: string;
  encoding: TextEncoding;
  concat: { ref: number; total: number; seq: number } | null;
}

/** A submit_sm the network took: who sent it to whom, the id it was given, how the handset behaves. */
interface AcceptedSubmit {
  /** What the double recorded of it: the answer's time is noted there. */
  record: CarrierSubmit;
  from: string;
  to: string;
  carrierId: string;
  behaviour: HandsetBehaviour;
}

interface PartialMessage {
  parts: Array<{ text: string; carrierId: string } | null>;
  encoding: TextEncoding;
}

/** A receipt as it goes on the wire: kept until an ESME session of the platform acknowledges it. */
interface OutgoingReceipt {
  carrierId: string;
  /** The handset the receipt is about. */
  to: string;
  params: Record<string, unknown>;
  text: string;
}

/** The platform's session closed before it acknowledged a request: what a real SMSC retries. */
class SessionClosed extends Error {}

const ACTOR = 'carrier SMSC';
const PEER = 'platform SMSC';

export class CarrierSmscDouble {
  /** Every successful bind, in order. */
  readonly binds = new Observed<CarrierBind>((b) => `${b.systemId} bound as ${b.mode}`);
  /** Protocol violations seen in the platform's traffic (bad text bytes, unsupported data_coding, …). */
  readonly violations = new Observed<string>((v) => v);
  private server: Server | null = null;
  private credentials = { systemId: '', password: '' };
  private readonly connections = new Set<Connection>();
  private readonly handsets = new Map<string, Handset>();
  private readonly behaviours = new Map<string, HandsetBehaviour>();
  private readonly partials = new Map<string, PartialMessage>();
  /**
   * Receipts no bound receiver took (none bound, or its session closed before the deliver_sm_resp),
   * in the order they were due. A real SMSC stores them and delivers them when the client binds
   * again; dropping them here would make the double, not the platform, lose a report.
   */
  private readonly undeliveredReceipts: OutgoingReceipt[] = [];
  private readonly idPrefix = randomBytes(2).toString('hex');
  private nextId = 1;

  /** submit_sm PDUs received, per destination (a resubmission shows up as a second one). */
  readonly submits = new Observed<CarrierSubmit>(
    (s) => `submit_sm to ${s.to}${s.carrierId === null ? '' : ` → ${s.carrierId}`} ${JSON.stringify(s.text)}`,
  );
  /** Every delivery receipt the network sent, in order. */
  readonly receipts = new Observed<CarrierReceipt>(
    (r) => `receipt ${r.stat} err:${r.err} for ${r.carrierId} to ${r.to}`,
  );
  private readonly timings = new Map<string, HandsetTiming>();
  private readonly slowTimers = new Set<NodeJS.Timeout>();

  /** Submits refused so far per number with the 'throttled' behaviour. */
  private readonly throttledSoFar = new Map<string, number>();
  /** 'throttled' with `throttledForMs`: when the number's first submit_sm arrived. */
  private readonly congestedSince = new Map<string, number>();

  constructor(
    private readonly options: {
      responseTimeoutMs?: number;
      slowResponseMs?: number;
      /** 'slow-dlr': how late the receipt comes; default 1000 ms. */
      slowReceiptMs?: number;
      /** 'throttled': how many submits to a number are refused first; default 2. */
      throttledSubmits?: number;
    } = {},
  ) {}

  /** Listens on 127.0.0.1 (port 0 = ephemeral; a fixed port lets a test bring "the same" carrier back). */
  async start(
    credentials: { systemId: string; password: string },
    listen: { port?: number } = {},
  ): Promise<void> {
    this.credentials = credentials;
    const server = createServer((socket) => this.onConnection(socket));
    server.on('error', (error) => this.violation(`carrier server error: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  address(): { host: string; port: number } {
    if (this.server === null) throw new Error('carrier SMSC double is not started');
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Receipts waiting for the platform to bind a receiver (see undeliveredReceipts). */
  receiptsWaiting(): number {
    return this.undeliveredReceipts.length;
  }

  boundSessions(): number {
    return [...this.connections].filter((c) => c.bound !== null).length;
  }

  /** Resolves at once when a session is bound, else on the next bind. */
  async waitForBind(timeoutMs: number): Promise<void> {
    if (this.boundSessions() > 0) return;
    const since = this.binds.all().length;
    await this.binds.waitFor((bind) => this.binds.all().indexOf(bind) >= since, {
      awaited: `the platform's SMSC to bind to the carrier double (system_id ${this.credentials.systemId})`,
      timeoutMs,
      lookAt: 'the SMPP traffic attachment and the platform log (connector state and lastError)',
    });
  }

  handset(number: string): Handset {
    let handset = this.handsets.get(number);
    if (handset === undefined) {
      handset = {
        inbox: new Observed<HandsetSms>(
          (sms) => `from ${sms.from}: ${JSON.stringify(sms.text)} (${sms.encoding}, ${sms.parts} part(s))`,
        ),
      };
      this.handsets.set(number, handset);
    }
    return handset;
  }

  /** Whether the network has a handset for this number (asking `handset()` would create one). */
  knowsHandset(number: string): boolean {
    return this.handsets.has(number);
  }

  /** What the network does with texts to a number (deliver unless told otherwise). */
  behaviourOf(number: string): HandsetBehaviour {
    return this.behaviours.get(number) ?? 'deliver';
  }

  /** How late this handset's network answers and delivers (nothing late unless told). */
  timingOf(number: string): HandsetTiming {
    return this.timings.get(number) ?? {};
  }

  behaviourFor(number: string, behaviour: HandsetBehaviour, timing: HandsetTiming = {}): void {
    this.behaviours.set(number, behaviour);
    this.timings.set(number, timing);
  }

  /**
   * Forgets a handset: its inbox, its behaviour and any half-received concatenated message to it,
   * so a double that outlives many scenarios does not grow for ever. The next use starts afresh.
   */
  forget(number: string): void {
    this.handsets.delete(number);
    this.behaviours.delete(number);
    this.timings.delete(number);
    this.throttledSoFar.delete(number);
    this.congestedSince.delete(number);
    this.submits.forget((s) => s.to === number);
    this.receipts.forget((r) => r.to === number);
    for (const key of this.partials.keys()) if (key.split('|')[1] === number) this.partials.delete(key);
    const kept = this.undeliveredReceipts.filter((r) => r.to !== number);
    this.undeliveredReceipts.splice(0, this.undeliveredReceipts.length, ...kept);
  }

  /** Drops every connection abruptly, as a network failure would (the platform must reconnect). */
  dropConnections(): void {
    for (const connection of this.connections) connection.socket.destroy();
  }

  /** A subscriber sends a text: deliver_sm (split with UDH when long) to a bound platform session. */
  async injectMo(message: { from: string; to: string; text: string }): Promise<void> {
    const connection = this.receiverSession();
    if (connection === null)
      throw new Error(
        'cannot inject an MO message: the platform has no receiver/transceiver session bound to the carrier double',
      );
    const { dataCoding, parts } = segmentText(message.text);
    const reference = randomBytes(1)[0];
    for (let index = 0; index < parts.length; index += 1) {
      const concatenated = parts.length > 1;
      const response = await this.request(
        connection,
        'deliver_sm',
        {
          source_addr_ton: message.from.startsWith('+') ? 1 : 0,
          source_addr_npi: 1,
          source_addr: message.from.replace(/^\+/, ''),
          dest_addr_ton: message.to.startsWith('+') ? 1 : 0,
          dest_addr_npi: 1,
          destination_addr: message.to.replace(/^\+/, ''),
          esm_class: concatenated ? 0x40 : 0,
          data_coding: dataCoding,
          short_message: concatenated
            ? Buffer.concat([udhConcat(reference, parts.length, index + 1), parts[index]])
            : parts[index],
        },
        message.text,
      );
      if (response.command_status !== 0)
        throw new Error(
          `the platform refused the MO deliver_sm with ${smppStatusName(response.command_status)}`,
        );
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const timer of this.slowTimers) clearTimeout(timer);
    this.slowTimers.clear();
    this.undeliveredReceipts.length = 0;
    for (const connection of this.connections) {
      for (const pending of connection.pending.values()) clearTimeout(pending.timer);
      connection.socket.destroy();
    }
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    const connection: Connection = {
      socket,
      frames: new FrameSplitter(),
      bound: null,
      sequence: 0,
      pending: new Map(),
    };
    this.connections.add(connection);
    socket.on('error', (error) =>
      traffic.record({
        protocol: 'SMPP',
        from: PEER,
        to: ACTOR,
        summary: `connection error: ${error.message}`,
      }),
    );
    socket.on('close', () => {
      this.connections.delete(connection);
      for (const pending of connection.pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new SessionClosed('the platform closed the SMPP connection to the carrier double'));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of connection.frames.push(chunk)) {
        if (!frame.ok) {
          this.violation(`invalid command_length ${frame.commandLength}`);
          this.send(
            connection,
            new smpp.PDU('generic_nack', {
              sequence_number: frame.sequence,
              command_status: smpp.errors.ESME_RINVCMDLEN,
            }),
          );
          socket.end();
          return;
        }
        this.onFrame(connection, frame.bytes);
      }
    });
  }

  private onFrame(connection: Connection, bytes: Buffer): void {
    let pdu: PDU;
    try {
      pdu = new smpp.PDU(bytes);
    } catch (error) {
      this.violation(`undecodable PDU: ${String(error)}`);
      this.send(
        connection,
        new smpp.PDU('generic_nack', {
          sequence_number: bytes.readUInt32BE(12),
          command_status: smpp.errors.ESME_RINVCMDLEN,
        }),
      );
      return;
    }
    let text: string | undefined;
    let decoded: DecodedText | Error | null = null;
    if (pdu.command === 'submit_sm') {
      decoded = this.decodeText(pdu, bytes);
      if (!(decoded instanceof Error)) text = decoded.text;
    }
    this.record(pdu, 'received', text);
    if (pdu.isResponse()) {
      const pending = connection.pending.get(pdu.sequence_number);
      if (pending === undefined) return;
      clearTimeout(pending.timer);
      connection.pending.delete(pdu.sequence_number);
      pending.resolve(pdu);
      return;
    }
    switch (pdu.command) {
      case 'bind_transmitter':
      case 'bind_receiver':
      case 'bind_transceiver':
        this.onBind(connection, pdu);
        return;
      case 'enquire_link':
        this.send(connection, pdu.response());
        return;
      case 'unbind':
        this.send(connection, pdu.response());
        connection.bound = null;
        connection.socket.end();
        return;
      case 'submit_sm':
        this.onSubmit(connection, pdu, decoded);
        return;
      case 'unknown':
        this.send(connection, pdu.response()); // generic_nack ESME_RINVCMDID
        return;
      default:
        this.send(connection, pdu.response({ command_status: smpp.errors.ESME_RINVCMDID }));
    }
  }

  private onBind(connection: Connection, pdu: PDU): void {
    const mode = pdu.command.replace('bind_', '') as CarrierBind['mode'];
    const status =
      connection.bound !== null
        ? smpp.errors.ESME_RALYBND
        : pdu.system_id !== this.credentials.systemId
          ? smpp.errors.ESME_RINVSYSID
          : pdu.password !== this.credentials.password
            ? smpp.errors.ESME_RINVPASWD
            : smpp.errors.ESME_ROK;
    this.send(connection, pdu.response({ command_status: status, system_id: 'CARRIER' }));
    if (status !== smpp.errors.ESME_ROK) return;
    connection.bound = { systemId: String(pdu.system_id), mode, at: Date.now() };
    this.binds.add(connection.bound);
    if (mode !== 'transmitter' && this.undeliveredReceipts.length > 0) {
      const kept = this.undeliveredReceipts.splice(0);
      // After the bind_resp: the client takes deliver_sm only once it knows it is bound.
      setImmediate(() => {
        for (const receipt of kept) this.deliverReceipt(connection, receipt);
      });
    }
  }

  private decodeText(pdu: PDU, bytes: Buffer): DecodedText | Error {
    try {
      let { shortMessage } = shortMessageOf(bytes);
      let concat = null;
      if ((Number(pdu.esm_class) & 0x40) !== 0) ({ concat, text: shortMessage } = readUdh(shortMessage));
      const dataCoding = Number(pdu.data_coding);
      if (dataCoding === 0) return { text: gsm7Decode(shortMessage), encoding: 'gsm7', concat };
      if (dataCoding === 8) return { text: ucs2Decode(shortMessage), encoding: 'ucs2', concat };
      return new Error(
        `data_coding ${dataCoding} is not used on this network (expected 0 = GSM 03.38 or 8 = UCS2)`,
      );
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private onSubmit(
    connection: Connection,
    pdu: PDU,
    decoded: ReturnType<CarrierSmscDouble['decodeText']> | null,
  ): void {
    if (connection.bound === null || connection.bound.mode === 'receiver') {
      this.send(connection, pdu.response({ command_status: smpp.errors.ESME_RINVBNDSTS }));
      return;
    }
    if (decoded === null || decoded instanceof Error) {
      const reason = decoded instanceof Error ? decoded.message : 'no text';
      this.violation(`submit_sm to ${String(pdu.destination_addr)}: ${reason}`);
      this.send(connection, pdu.response({ command_status: smpp.errors.ESME_RSUBMITFAIL }));
      return;
    }
    const to =
      Number(pdu.dest_addr_ton) === 1 ? `+${String(pdu.destination_addr)}` : String(pdu.destination_addr);
    const from = Number(pdu.source_addr_ton) === 1 ? `+${String(pdu.source_addr)}` : String(pdu.source_addr);
    const behaviour = this.behaviours.get(to) ?? 'deliver';
    if (behaviour === 'no-response') {
      this.submits.add({ to, carrierId: null, text: decoded.text, at: Date.now() });
      return;
    }
    if (behaviour === 'reject') {
      this.submits.add({ to, carrierId: null, text: decoded.text, at: Date.now() });
      this.send(connection, pdu.response({ command_status: smpp.errors.ESME_RINVDSTADR }));
      return;
    }
    if (behaviour === 'throttled') {
      const refused = this.throttledSoFar.get(to) ?? 0;
      const congestedForMs = this.timings.get(to)?.throttledForMs;
      const since = this.congestedSince.get(to) ?? Date.now();
      this.congestedSince.set(to, since);
      const stillCongested =
        congestedForMs === undefined
          ? refused < (this.options.throttledSubmits ?? 2)
          : Date.now() - since < congestedForMs;
      if (stillCongested) {
        this.throttledSoFar.set(to, refused + 1);
        this.submits.add({ to, carrierId: null, text: decoded.text, at: Date.now() });
        this.send(connection, pdu.response({ command_status: smpp.errors.ESME_RTHROTTLED }));
        return;
      }
    }
    const carrierId = `${this.idPrefix}${String(this.nextId++).padStart(6, '0')}`;
    const record: CarrierSubmit = { to, carrierId, text: decoded.text, at: Date.now() };
    this.submits.add(record);
    const timing = this.timings.get(to) ?? {};
    if (behaviour === 'slow-response') {
      // Accepted now, answered late: the platform's response timeout fires first.
      this.later(timing.responseDelayMs ?? this.options.slowResponseMs ?? 1_000, () =>
        this.accept(connection, pdu, decoded, { record, from, to, carrierId, behaviour }),
      );
      return;
    }
    this.accept(connection, pdu, decoded, { record, from, to, carrierId, behaviour });
  }

  /** Answers an accepted submit_sm, hands the text over and sends the receipt the behaviour calls for. */
  private accept(connection: Connection, pdu: PDU, decoded: DecodedText, submit: AcceptedSubmit): void {
    const { to, carrierId } = submit;
    this.send(connection, pdu.response({ message_id: carrierId }));
    submit.record.answeredAt = Date.now();
    const deliverAfterMs = this.timings.get(to)?.deliverAfterMs ?? 0;
    if (deliverAfterMs > 0) {
      // The network took it; the handset (and so the receipt) is reached later.
      this.later(deliverAfterMs, () => this.handOver(connection, pdu, decoded, submit));
      return;
    }
    this.handOver(connection, pdu, decoded, submit);
  }

  /** The text reaches the handset (unless unreachable) and the receipt the behaviour calls for follows. */
  private handOver(connection: Connection, pdu: PDU, decoded: DecodedText, submit: AcceptedSubmit): void {
    const { from, to, carrierId, behaviour } = submit;
    if (behaviour !== 'undeliverable') this.toHandset(from, to, decoded, carrierId);
    const wantsReceipt = (Number(pdu.registered_delivery) & 0x03) !== 0;
    if (!wantsReceipt || behaviour === 'never') return;
    const receipt = (): void =>
      this.sendReceipt(connection, {
        carrierId,
        from,
        to,
        text: decoded.text,
        delivered: behaviour !== 'undeliverable',
      });
    if (behaviour === 'slow-dlr') {
      this.later(this.options.slowReceiptMs ?? 1_000, receipt);
      return;
    }
    // After the response is on the wire: a receipt must not overtake the id it refers to.
    setImmediate(receipt);
  }

  /** Runs what the network does late, unless the double is stopped first. */
  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.slowTimers.delete(timer);
      action();
    }, delayMs);
    this.slowTimers.add(timer);
  }

  private toHandset(from: string, to: string, decoded: DecodedText, carrierId: string): void {
    const { concat } = decoded;
    if (concat === null || concat.total <= 1) {
      this.handset(to).inbox.add({
        from,
        to,
        text: decoded.text,
        encoding: decoded.encoding,
        parts: 1,
        receivedAt: Date.now(),
        carrierMessageIds: [carrierId],
      });
      return;
    }
    const key = `${from}|${to}|${concat.ref}|${concat.total}`;
    let partial = this.partials.get(key);
    if (partial === undefined) {
      partial = { parts: new Array<null>(concat.total).fill(null), encoding: decoded.encoding };
      this.partials.set(key, partial);
    }
    if (concat.seq < 1 || concat.seq > concat.total) {
      this.violation(`part ${concat.seq} of ${concat.total} for ${to} is out of range`);
      return;
    }
    if (partial.encoding !== decoded.encoding)
      this.violation(`parts of one message to ${to} use different encodings`);
    partial.parts[concat.seq - 1] = { text: decoded.text, carrierId };
    if (partial.parts.some((part) => part === null)) return;
    this.partials.delete(key);
    const parts = partial.parts as Array<{ text: string; carrierId: string }>;
    this.handset(to).inbox.add({
      from,
      to,
      text: parts.map((p) => p.text).join(''),
      encoding: partial.encoding,
      parts: parts.length,
      receivedAt: Date.now(),
      carrierMessageIds: parts.map((p) => p.carrierId),
    });
  }

  private sendReceipt(
    submitter: Connection,
    receipt: { carrierId: string; from: string; to: string; text: string; delivered: boolean },
  ): void {
    const connection =
      submitter.bound !== null && submitter.bound.mode !== 'transmitter' && !submitter.socket.destroyed
        ? submitter
        : this.receiverSession();
    const date = yymmddhhmm(new Date());
    const stat = receipt.delivered ? 'DELIVRD' : 'UNDELIV';
    const excerpt = receipt.text.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 20);
    const err = receipt.delivered ? '000' : '001';
    const text = `id:${receipt.carrierId} sub:001 dlvrd:${receipt.delivered ? '001' : '000'} submit date:${date} done date:${date} stat:${stat} err:${err} text:${excerpt}`;
    this.receipts.add({
      to: receipt.to,
      carrierId: receipt.carrierId,
      stat,
      err,
      text: receipt.text,
      at: Date.now(),
    });
    this.deliverReceipt(connection, {
      carrierId: receipt.carrierId,
      to: receipt.to,
      text,
      params: {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: receipt.to.replace(/^\+/, ''),
        dest_addr_ton: receipt.from.startsWith('+') ? 1 : 5,
        dest_addr_npi: receipt.from.startsWith('+') ? 1 : 0,
        destination_addr: receipt.from.replace(/^\+/, ''),
        esm_class: 0x04,
        data_coding: 0,
        short_message: Buffer.from(text, 'ascii'),
        receipted_message_id: receipt.carrierId,
        message_state: receipt.delivered ? 2 : 5,
      },
    });
  }

  /**
   * Sends a receipt on a receiver session, or keeps it for the next bind when there is none or
   * the session closes before acknowledging it. A session that stays up and does not answer is
   * the platform's fault: a violation (and the receipt is not offered again).
   */
  private deliverReceipt(connection: Connection | null, receipt: OutgoingReceipt): void {
    if (connection === null || connection.socket.destroyed) {
      this.keepReceipt(receipt, 'no receiver session of the platform is bound');
      return;
    }
    this.request(connection, 'deliver_sm', receipt.params, receipt.text).then(
      (response) => {
        if (response.command_status !== 0)
          this.violation(
            `platform answered the receipt for ${receipt.carrierId} with ${smppStatusName(response.command_status)}`,
          );
      },
      (error: unknown) => {
        if (error instanceof SessionClosed) {
          this.keepReceipt(receipt, 'the session closed before the platform acknowledged it');
          return;
        }
        this.violation(`receipt for ${receipt.carrierId} not acknowledged: ${String(error)}`);
      },
    );
  }

  private keepReceipt(receipt: OutgoingReceipt, why: string): void {
    if (this.server === null) return; // the double is stopped: nobody will bind again
    this.undeliveredReceipts.push(receipt);
    traffic.record({
      protocol: 'SMPP',
      from: ACTOR,
      to: ACTOR,
      summary: `receipt for ${receipt.carrierId} kept until the platform binds a receiver again (${why})`,
    });
  }

  private receiverSession(): Connection | null {
    return (
      [...this.connections].find(
        (c) => c.bound !== null && c.bound.mode !== 'transmitter' && !c.socket.destroyed,
      ) ?? null
    );
  }

  private request(
    connection: Connection,
    command: string,
    params: Record<string, unknown>,
    text?: string,
  ): Promise<PDU> {
    connection.sequence = connection.sequence >= 0x7fffffff ? 1 : connection.sequence + 1;
    const pdu = new smpp.PDU(command, { ...params, sequence_number: connection.sequence });
    const timeoutMs = this.options.responseTimeoutMs ?? 5_000;
    return new Promise<PDU>((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.pending.delete(pdu.sequence_number);
        reject(
          new Error(
            `no ${command}_resp from the platform within ${timeoutMs} ms (look at the SMPP traffic attachment)`,
          ),
        );
      }, timeoutMs);
      connection.pending.set(pdu.sequence_number, { resolve, reject, timer });
      this.send(connection, pdu, text);
    });
  }

  private send(connection: Connection, pdu: PDU, text?: string): void {
    if (connection.socket.destroyed) return;
    connection.socket.write(pdu.toBuffer());
    this.record(pdu, 'sent', text);
  }

  /** A violation goes to `violations` and to the traffic log, so it shows in the scenario's evidence. */
  private violation(description: string): void {
    this.violations.add(description);
    traffic.record({ protocol: 'SMPP', from: ACTOR, to: ACTOR, summary: `VIOLATION: ${description}` });
  }

  private record(pdu: PDU, direction: 'sent' | 'received', text?: string): void {
    traffic.record({
      protocol: 'SMPP',
      from: direction === 'sent' ? ACTOR : PEER,
      to: direction === 'sent' ? PEER : ACTOR,
      summary: pduSummary(pdu, smppStatusName, text),
      detail: pduJson(pdu),
    });
  }
}

function yymmddhhmm(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    two(date.getUTCFullYear() % 100) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes())
  );
}
