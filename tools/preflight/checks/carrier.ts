/**
 * The carrier double: the suite's environment registers one for every run and waits for the
 * platform to bind to it. The preflight does the same, through the API client as the operator.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectorStatus } from '../../../world/http/api-client';
import type { CarrierSmscDouble } from '../../../world/smpp/carrier-smsc';
import { apiClient, carrierDrivers, factories } from '../drivers';
import { Problem, type Passed } from '../outcome';
import { until } from '../probes';
import type { PreflightRun, Step } from '../run';
import { seconds } from '../wording';

export interface CarrierLink {
  carrier: CarrierSmscDouble;
  /** Mobile numbers starting with this are routed to the preflight's carrier double. */
  prefix?: string;
}

async function connectorStatus(run: PreflightRun, id: string): Promise<ConnectorStatus | undefined> {
  try {
    const { items } = await run.within('GET /ops/v1/smsc/connectors', () => run.api().listConnectors());
    return items.find((connector) => connector.id === id);
  } catch {
    return undefined;
  }
}

export async function checkCarrier(
  run: PreflightRun,
  key: Step<true>,
  withRoute: boolean,
): Promise<Passed<CarrierLink>> {
  await run.needs(key);
  const { CarrierSmscDouble } = carrierDrivers();
  const credentials = {
    systemId: `pf${randomBytes(3).toString('hex')}`,
    password: randomBytes(4).toString('hex'),
  };
  const carrier = new CarrierSmscDouble();
  await carrier.start(credentials);
  run.onCleanup('stop the carrier double', () => carrier.stop());
  const port = carrier.address().port;
  const where = `PHASE2_SUITE_HOST=${run.suiteHost} (carrier double on port ${port})`;
  const id = `preflight-${randomBytes(3).toString('hex')}`;
  const operator = run.api();
  // Registered before the PUT (a timed-out PUT may still land; DELETE of nothing is a 404) and
  // before the route, so it runs last; deleting the connector also removes its routes.
  run.onCleanup(`remove connector ${id}`, () => run.removeIfThere(() => operator.deleteConnector(id)));
  try {
    await run.within(`PUT /ops/v1/smsc/connectors/${id}`, () =>
      operator.putConnector(id, { host: run.suiteHost, port, ...credentials }),
    );
  } catch (error) {
    const { ApiError } = apiClient();
    if (error instanceof ApiError && error.status === 422)
      throw new Problem(
        `the platform refuses a carrier connector at ${where} (${error.message}): set PHASE2_SUITE_HOST to an address the platform may and can reach`,
      );
    throw new Problem(`registering the carrier double: ${(error as Error).message.split('\n')[0]}`);
  }
  let prefix: string | undefined;
  if (withRoute) {
    const routed = factories().mobileRangePrefix();
    run.onCleanup(`remove route ${routed}`, () => run.removeIfThere(() => operator.deleteRoute(routed)));
    prefix = routed;
    await run.expectOk('routing a mobile range', () =>
      operator.putRoute({ prefix: routed, connectorId: id }),
    );
  }
  try {
    await run.within('bind', (signal) => until(() => carrier.boundSessions() > 0, signal));
  } catch {
    const status = await connectorStatus(run, id);
    throw new Problem(
      `the platform did not bind to the carrier double at ${where} within ${seconds(run.timeoutMs)}` +
        `${status ? ` (connector ${status.state}${status.lastError ? `: ${status.lastError}` : ''})` : ''}` +
        ': PHASE2_SUITE_HOST must be the address at which the platform reaches this machine',
    );
  }
  const status = await connectorStatus(run, id);
  if (status?.state !== 'bound')
    throw new Problem(
      `the carrier double saw a bind, but GET /ops/v1/smsc/connectors shows ${id} ${status ? status.state : 'missing'}`,
    );
  return {
    detail: `connector ${id} bound to ${run.suiteHost}:${port}${prefix ? `, route ${prefix}` : ''}`,
    value: { carrier, prefix },
  };
}
