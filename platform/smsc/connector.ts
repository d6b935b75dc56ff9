import { connect } from 'node:net';
import type { PDU } from 'smpp';
import type { ConnectorSettings, ConnectorStatus } from './service';
import { SmppLink, SmppLinkClosed, STATUS, statusName } from './smpp-link';

export interface ConnectorTimers {
  enquireLinkMs: number;
  responseTimeoutMs: number;
  /** How long a submit_sm_resp that missed responseTimeoutMs is still matched to its submit. */
  lateResponseGraceMs: number;
  reconnectDelayMs: number;
  /** Max submit_sm awaiting their submit_sm_resp on one link (the SMPP window). */
  window: number;
}

export interface ConnectorHandlers {
  /** The connector is bound and can take submits. */
  onBound(connector: CarrierConnector): void;
  /** A deliver_sm from the carrier (receipt or MO); the handler answers it. */
  onDeliverSm(connector: CarrierConnector, pdu: PDU, frame: Buffer): void;
  /** The bind state or last error changed (the SMSC records it for other processes to read). */
  onStateChange?(connector: CarrierConnector): void;
}

/**
 * A client session to an upstream carrier SMSC: binds as transceiver, keeps the link alive with
 * enquire_link, and reconnects after a drop or a refused bind until stopped.
 */
export class CarrierConnector {
  private link: SmppLink | null = null;
  private state: ConnectorStatus['state'] = 'connecting';
  private lastError: string | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private enquireTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** One window per link: a new bind starts with nothing outstanding. */
  private window: SubmitWindow;

  constructor(
    readonly settings: ConnectorSettings,
    private readonly timers: ConnectorTimers,
    private readonly handlers: ConnectorHandlers,
    private readonly log: (message: string) => void,
  ) {
    this.window = new SubmitWindow(timers.window);
  }

  get id(): string {
    return this.settings.id;
  }

  get isBound(): boolean {
    return this.state === 'bound' && this.link !== null && this.link.isOpen;
  }

  status(): ConnectorStatus {
    const { id, host, port, systemId } = this.settings;
    return { id, host, port, systemId, state: this.state, lastError: this.lastError };
  }

  start(): void {
    this.stopped = false;
    this.connectNow();
  }

  /**
   * Sends a submit_sm through the window: at most `window` submits await their response at once;
   * the others wait in call order and are sent as responses (or timeouts) free slots. Rejects with
   * SmppLinkClosed when the link is (or goes) down before the submit could be sent.
   */
  submit(params: Record<string, unknown>, onSending: () => void = () => undefined): Promise<PDU> {
    const link = this.link;
    if (link === null || !this.isBound)
      return Promise.reject(new SmppLinkClosed('submit_sm', `connector ${this.id}`));
    return this.window.run(() => {
      if (!link.isOpen) return Promise.reject(new SmppLinkClosed('submit_sm', `connector ${this.id}`));
      // Last moment before the PDU goes on the wire: the caller records that it is in flight.
      onSending();
      return link.request('submit_sm', params);
    });
  }

  respond(request: PDU, status: number, params: Record<string, unknown> = {}): void {
    this.link?.respond(request, status, params);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    this.window.failWaiting(new SmppLinkClosed('submit_sm', `connector ${this.id} (stopping)`));
    const link = this.link;
    this.link = null;
    this.state = 'down';
    this.changed();
    if (link === null || !link.isOpen) return;
    try {
      await link.request('unbind');
    } catch (error) {
      this.log(`connector ${this.id}: unbind on stop got no answer: ${String(error)}`);
    }
    await link.closeGracefully(this.timers.responseTimeoutMs);
  }

  private connectNow(): void {
    this.state = 'connecting';
    this.changed();
    const { host, port, systemId, password } = this.settings;
    const socket = connect({ host, port });
    const link = new SmppLink(
      socket,
      `connector ${this.id}`,
      {
        responseTimeoutMs: this.timers.responseTimeoutMs,
        lateResponseGraceMs: this.timers.lateResponseGraceMs,
      },
      this.log,
    );
    this.link = link;
    this.window = new SubmitWindow(this.timers.window);
    link.on('close', (reason) => this.onLinkClosed(link, reason));
    link.on('request', (pdu, frame) => this.onRequest(link, pdu, frame));
    socket.once('connect', () => {
      link
        .request('bind_transceiver', {
          system_id: systemId,
          password,
          system_type: '',
          interface_version: 0x34,
        })
        .then((response) => {
          if (link !== this.link) return;
          if (response.command_status !== STATUS.ESME_ROK) {
            this.fail(`bind refused: ${statusName(response.command_status)}`);
            link.destroy();
            return;
          }
          this.state = 'bound';
          this.lastError = null;
          this.changed();
          this.log(`connector ${this.id}: bound to ${host}:${port} as ${systemId}`);
          this.scheduleEnquireLink(link);
          this.handlers.onBound(this);
        })
        .catch((error: unknown) => {
          if (link !== this.link) return;
          this.fail(`bind failed: ${error instanceof Error ? error.message : String(error)}`);
          link.destroy();
        });
    });
    socket.on('error', (error) => {
      if (link !== this.link) return;
      this.lastError = error.message;
      this.changed();
    });
  }

  private onRequest(link: SmppLink, pdu: PDU, frame: Buffer): void {
    switch (pdu.command) {
      case 'enquire_link':
        link.respond(pdu, STATUS.ESME_ROK);
        return;
      case 'unbind':
        link.respond(pdu, STATUS.ESME_ROK);
        this.fail('carrier unbound');
        link.end();
        return;
      case 'deliver_sm':
        this.handlers.onDeliverSm(this, pdu, frame);
        return;
      default:
        link.respond(pdu, STATUS.ESME_RINVCMDID);
    }
  }

  private scheduleEnquireLink(link: SmppLink): void {
    this.enquireTimer = setTimeout(() => {
      link
        .request('enquire_link')
        .then(() => {
          if (link === this.link && !this.stopped) this.scheduleEnquireLink(link);
        })
        .catch((error: unknown) => {
          if (link !== this.link) return;
          this.fail(`enquire_link failed: ${error instanceof Error ? error.message : String(error)}`);
          link.destroy();
        });
    }, this.timers.enquireLinkMs);
  }

  private fail(reason: string): void {
    this.lastError = reason;
    this.changed();
    this.log(`connector ${this.id}: ${reason}`);
  }

  private changed(): void {
    try {
      this.handlers.onStateChange?.(this);
    } catch (error) {
      this.log(`connector ${this.id}: recording its state failed: ${String(error)}`);
    }
  }

  private onLinkClosed(link: SmppLink, reason: string | null): void {
    if (link !== this.link) return;
    this.clearTimers();
    this.window.failWaiting(new SmppLinkClosed('submit_sm', `connector ${this.id}`));
    this.state = 'down';
    if (reason !== null) this.lastError = reason;
    this.changed();
    if (this.stopped) return;
    this.log(
      `connector ${this.id}: link down (${this.lastError ?? 'closed'}); reconnecting in ${this.timers.reconnectDelayMs} ms`,
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.connectNow();
    }, this.timers.reconnectDelayMs);
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.enquireTimer !== null) clearTimeout(this.enquireTimer);
    this.reconnectTimer = null;
    this.enquireTimer = null;
  }
}

/**
 * Bounds the requests awaiting a response; the rest queue FIFO, so a backlog drains in the order
 * it was submitted instead of flooding the carrier.
 */
export class SubmitWindow {
  private outstanding = 0;
  private maxOutstanding = 0;
  private readonly waiting: Array<{ start: () => void; fail: (error: Error) => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`the submit window must be a positive integer, got ${size}`);
  }

  run<T>(send: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.outstanding += 1;
        this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
        let sent: Promise<T>;
        try {
          sent = send();
        } catch (error) {
          sent = Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
        // The slot is freed before the caller resumes, so the next waiter goes out first (FIFO).
        sent.then(
          (value) => {
            this.release();
            resolve(value);
          },
          (error: unknown) => {
            this.release();
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      };
      if (this.outstanding < this.size) start();
      else this.waiting.push({ start, fail: reject });
    });
  }

  /** Rejects every request still waiting for a slot (the link they were meant for is gone). */
  failWaiting(error: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.fail(error);
  }

  /** Submits sent and not yet answered, waiting for a slot, and the most ever outstanding at once. */
  usage(): { outstanding: number; waiting: number; maxOutstanding: number } {
    return {
      outstanding: this.outstanding,
      waiting: this.waiting.length,
      maxOutstanding: this.maxOutstanding,
    };
  }

  private release(): void {
    this.outstanding -= 1;
    this.waiting.shift()?.start();
  }
}
