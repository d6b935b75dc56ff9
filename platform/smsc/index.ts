import type { RoleDeps, RunningRole } from '../role';
import { EsmeServer } from './esme-server';
import type { SmscService } from './service';
import { SmscCore } from './smsc-core';

export { SmscRejection, receiptRequestOf } from './service';
export { QueueingSmsc, smscCounters } from './queueing-smsc';
export type {
  SmscService,
  AcceptMessageInput,
  AcceptedMessage,
  ReceiptRequest,
  ConnectorSettings,
  ConnectorStatus,
} from './service';
/** The stored message, also the SMSC's queue: core reads it for webhooks and Jasmin's DLRs. */
export type { MessageRow, MessageStatus } from './message-store';

/**
 * The SMSC role (Jasmin's place): an SMPP server for customers' ESMEs, connectors to carrier
 * SMSCs, routing, receipts, and the messages table as a persistent queue.
 */
export async function startSmsc(
  deps: RoleDeps,
): Promise<RunningRole<{ host: string; port: number }> & SmscService> {
  const core = new SmscCore(deps);
  const esmes = new EsmeServer(deps, core);
  const endpoints = await esmes.listen(deps.config.host, deps.config.smsc.port);
  core.start();
  deps.log('smsc', `SMPP server for ESMEs on ${endpoints.host}:${endpoints.port}`);
  return {
    endpoints,
    acceptMessage: (input) => core.acceptMessage(input),
    upsertConnector: (connector) => core.upsertConnector(connector),
    removeConnector: (id) => core.removeConnector(id),
    setRoute: (prefix, connectorId) => core.setRoute(prefix, connectorId),
    removeRoute: (prefix) => core.removeRoute(prefix),
    connectors: () => core.connectors(),
    async stop() {
      await esmes.close();
      await core.stop();
    },
  };
}
