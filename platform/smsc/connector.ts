import { connect } from 'node:net';
import type { PDU } from 'smpp';
import type { ConnectorSettings, ConnectorStatus } from './service';
import { SmppLink, STATUS, statusName } from './smpp-link';

export interface ConnectorTimers {
  enquireLinkMs: number;
  responseTimeoutMs: number;
  reconnectDelayMs: number;
}

export interface ConnectorHandlers {
  /** The connector is bound and can take submits. */
  onBound(connector: CarrierConnector): void;
  /** A deliver_sm from the carrier (receipt or MO); the handler answers it. */
  onDeliverSm(connector: CarrierConnector, pdu: PDU, frame: Buffer): void;
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

  constructor(
    readonly settings: ConnectorSettings,
    private readonly timers: ConnectorTimers,
    private readonly handlers: ConnectorHandlers,
    private readonly log: (message: string) => void,
  ) {}

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

  /** Submits on the bound link; callers check isBound first. */
  request(command: string, params: Record<string, unknown>): Promise<PDU> {
    if (this.link === null || !this.isBound)
      return Promise.reject(new Error(`connector ${this.id} is not bound`));
    return this.link.request(command, params);
  }

  respond(request: PDU, status: number, params: Record<string, unknown> = {}): void {
    this.link?.respond(request, status, params);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const link = this.link;
    this.link = null;
    this.state = 'down';
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
    const { host, port, systemId, password } = this.settings;
    const socket = connect({ host, port });
    const link = new SmppLink(socket, `connector ${this.id}`, this.timers.responseTimeoutMs, this.log);
    this.link = link;
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
      if (link === this.link) this.lastError = error.message;
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
    this.log(`connector ${this.id}: ${reason}`);
  }

  private onLinkClosed(link: SmppLink, reason: string | null): void {
    if (link !== this.link) return;
    this.clearTimers();
    this.state = 'down';
    if (reason !== null) this.lastError = reason;
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
