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
}

export class PlatformBus {
  private readonly emitter = new EventEmitter();

  emit<K extends keyof PlatformEvents>(type: K, payload: PlatformEvents[K]): void {
    this.emitter.emit(type, payload);
  }

  on<K extends keyof PlatformEvents>(type: K, listener: (payload: PlatformEvents[K]) => void): void {
    this.emitter.on(type, listener);
  }

  off<K extends keyof PlatformEvents>(type: K, listener: (payload: PlatformEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }
}
