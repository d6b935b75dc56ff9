import { expect } from 'chai';
import type { Cdr, PlatformApi } from '../world/http/api-client';
import type { Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { eventually } from './waiting';
import { recordMetric } from '../reporting/metrics';

/**
 * The one record of a call, as its customer reads it through the API by the SIP Call-ID their
 * side of the call used; waited for (the platform writes it as the call ends) and attached.
 */
export async function awaitCallRecord(
  world: Phase2World,
  api: PlatformApi,
  sipCallId: string,
  what: string,
): Promise<Cdr> {
  const page = await eventually(
    () => api.listCdrs({ sipCallId }),
    (result) => result.items.length > 0,
    {
      awaited: `the record of ${what} (SIP Call-ID ${sipCallId})`,
      timeoutMs: world.env.config.waitMs,
      lookAt: `the "${EVIDENCE.HTTP}" attachment and ${world.env.platformLog}`,
    },
  ).catch((error: unknown) => {
    recordMetric(world, { kind: 'audit', name: 'call records written', expected: 1, recorded: 0 });
    throw error;
  });
  recordMetric(world, {
    kind: 'audit',
    name: 'call records written',
    expected: 1,
    recorded: page.items.length,
  });
  expect(page.items, `records of ${what} (SIP Call-ID ${sipCallId}): exactly one`).to.have.length(1);
  attachJson(world, 'Call record', page.items[0]);
  return page.items[0];
}
