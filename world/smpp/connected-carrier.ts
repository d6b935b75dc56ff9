import { randomBytes } from 'node:crypto';
import type { PlatformApi } from '../http/api-client';
import { CarrierSmscDouble } from './carrier-smsc';

/** A mobile network double the platform's SMSC sends one number range to. */
export interface ConnectedCarrier {
  double: CarrierSmscDouble;
  connectorId: string;
  credentials: { systemId: string; password: string };
}

/**
 * Starts a mobile network double, makes it the platform's connector for `prefix` and waits until
 * the platform has bound to it. Each undo is handed to `undoLater` as soon as there is something
 * to undo; undone last-first, the route goes before its connector, so a remote platform keeps no debris.
 */
export async function connectCarrier(
  operator: PlatformApi,
  carrier: { label: string; prefix: string; suiteHost: string; bindWithinMs: number },
  undoLater: (undo: () => Promise<void>) => void,
): Promise<ConnectedCarrier> {
  const credentials = {
    systemId: `car${randomBytes(3).toString('hex')}`,
    password: randomBytes(4).toString('hex'),
  };
  const double = new CarrierSmscDouble();
  await double.start(credentials);
  undoLater(() => double.stop());
  const connectorId = `carrier-${carrier.label}-${randomBytes(3).toString('hex')}`;
  const platformBinds = double.waitForBind(carrier.bindWithinMs);
  await operator.putConnector(connectorId, {
    host: carrier.suiteHost,
    port: double.address().port,
    ...credentials,
  });
  undoLater(() => operator.deleteConnector(connectorId));
  await operator.putRoute({ prefix: carrier.prefix, connectorId });
  undoLater(() => operator.deleteRoute(carrier.prefix));
  await platformBinds;
  return { double, connectorId, credentials };
}
