import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus';
import type { Db } from '../store/store';
import { nowIso } from '../store/store';
import { storeAcceptedMessage } from './acceptance';
import { MessageStore } from './message-store';
import type {
  AcceptMessageInput,
  AcceptedMessage,
  ConnectorSettings,
  ConnectorStatus,
  SmscService,
} from './service';
import { RESENT_IN_FLIGHT } from './smsc-core';
import { writeTransaction } from './write-transaction';

/**
 * The SMSC as a process without the SMSC role sees it (the API, the SIP node's call features):
 * a message is accepted exactly as the SMSC accepts it (same validation, same queued row, so it
 * is as durable as one submitted over SMPP) and the SMSC role is nudged with message.queued;
 * connector and route changes are written to the store and announced with smsc.config-changed.
 * Whichever SMSC node is active sends the message, now or when it starts.
 */
export class QueueingSmsc implements SmscService {
  private readonly store: MessageStore;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
  ) {
    this.store = new MessageStore(db);
  }

  acceptMessage(input: AcceptMessageInput): AcceptedMessage {
    const id = `msg_${randomUUID()}`;
    // Row and nudge commit together: the SMSC never hears of a message that is not there.
    return writeTransaction(this.db, () => {
      const accepted = storeAcceptedMessage(this.store, input, id);
      this.bus.emit('message.queued', { messageId: id });
      return accepted;
    });
  }

  upsertConnector(connector: ConnectorSettings): void {
    writeTransaction(this.db, () => {
      this.store.upsertConnector(connector, nowIso());
      this.bus.emit('smsc.config-changed', { reason: `connector ${connector.id} set` });
    });
  }

  /** Resolves once the store no longer has it; the SMSC role unbinds it when it reads the change. */
  removeConnector(id: string): Promise<boolean> {
    const removed = writeTransaction(this.db, () => {
      const result = this.store.removeConnector(id);
      if (result !== null) this.bus.emit('smsc.config-changed', { reason: `connector ${id} removed` });
      return result !== null;
    });
    return Promise.resolve(removed);
  }

  setRoute(prefix: string, connectorId: string): void {
    writeTransaction(this.db, () => {
      this.store.setRoute(prefix, connectorId);
      this.bus.emit('smsc.config-changed', { reason: `route ${JSON.stringify(prefix)} set` });
    });
  }

  removeRoute(prefix: string): boolean {
    return writeTransaction(this.db, () => {
      const removed = this.store.removeRoute(prefix);
      if (removed)
        this.bus.emit('smsc.config-changed', { reason: `route ${JSON.stringify(prefix)} removed` });
      return removed;
    });
  }

  /** The bind states the SMSC role last recorded ('connecting' for a connector it has not started yet). */
  connectors(): ConnectorStatus[] {
    return this.store.connectorStates().map((c) => ({
      id: c.id,
      host: c.host,
      port: c.port,
      systemId: c.systemId,
      state: c.state === 'bound' || c.state === 'down' ? c.state : 'connecting',
      lastError: c.lastError,
    }));
  }
}

/** The SMSC's operations figures, read from the store (any process may serve them). */
export function smscCounters(db: Db): { resentInFlight: number } {
  return { resentInFlight: new MessageStore(db).counter(RESENT_IN_FLIGHT) };
}
