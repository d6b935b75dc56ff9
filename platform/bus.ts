import { EventEmitter } from 'node:events';

/**
 * The platform's internal event bus: roles announce business facts here, and the core turns
 * them into webhooks. Payloads carry ids, not row copies, so listeners read the committed state.
 */
export interface PlatformEvents {
  /** A message changed status (sent, delivered, undeliverable, …). */
  'message.status': { messageId: string; customerId: string; status: string };
  /**
   * A text from a handset arrived from the mobile network (MO), addressed to `to`: a customer's
   * number or short code. `from` is E.164 when the network said it is international.
   */
  'message.received': { from: string; to: string; text: string; connectorId: string };
  /** A call ended and its CDR was written. */
  'call.completed': { cdrId: string; customerId: string };
  /**
   * A process without the SMSC role stored a message as queued (the row is committed): the SMSC
   * role sends it. The SMSC also sends every queued row it finds at start, so this is a nudge.
   */
  'message.queued': { messageId: string };
  /** A defence acted on a customer's behalf (an address banned, a toll-fraud burst cut off): told by webhook. */
  'security.alert': {
    customerId: string;
    type: 'security.address_banned' | 'fraud.alert';
    data: Record<string, unknown>;
  };
  /** Connectors or routes were changed in the store by a process without the SMSC role. */
  'smsc.config-changed': { reason: string };
}

export type BusListener<K extends keyof PlatformEvents> = (payload: PlatformEvents[K]) => void;

/**
 * What roles need of the bus. In one process it is an EventEmitter (PlatformBus); across the
 * cluster's processes a durable outbox in the shared store (cluster/cluster-bus.ts).
 */
export interface Bus {
  emit<K extends keyof PlatformEvents>(type: K, payload: PlatformEvents[K]): void;
  on<K extends keyof PlatformEvents>(type: K, listener: BusListener<K>): void;
  off<K extends keyof PlatformEvents>(type: K, listener: BusListener<K>): void;
}

/**
 * The single-process bus: listeners run synchronously inside emit. It has no private members, so
 * code typed against PlatformBus accepts any Bus (the cluster's as well).
 */
export class PlatformBus implements Bus {
  readonly emit: Bus['emit'];
  readonly on: Bus['on'];
  readonly off: Bus['off'];

  constructor() {
    const emitter = new EventEmitter();
    this.emit = (type, payload) => {
      emitter.emit(type, payload);
    };
    this.on = (type, listener) => {
      emitter.on(type, listener);
    };
    this.off = (type, listener) => {
      emitter.off(type, listener);
    };
  }
}
