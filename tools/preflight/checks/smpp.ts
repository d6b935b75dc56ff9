/** The SMSC's SMPP port accepts TCP, and a customer just created through the API can bind there. */
import { smppDrivers } from '../drivers';
import { Problem, passed, type Passed } from '../outcome';
import { tcpProbe } from '../probes';
import type { PreflightRun, Step } from '../run';
import { networkProblem } from '../wording';
import type { Provisioned } from './api';

function smppAt(run: PreflightRun): string {
  return `${run.endpoints.smpp.host}:${run.endpoints.smpp.port}`;
}

export async function checkSmppPort(run: PreflightRun): Promise<Passed> {
  const { host, port } = run.endpoints.smpp;
  await run
    .within('TCP connect', (signal) => tcpProbe(host, port, signal))
    .catch((error: unknown) => {
      throw new Problem(
        `${networkProblem('PHASE2_SMPP', smppAt(run), error, run.timeoutMs)}: start the SMSC there or correct PHASE2_SMPP`,
      );
    });
  return passed(`TCP connect to ${smppAt(run)}`);
}

export async function checkSmppBind(
  run: PreflightRun,
  port: Step<true>,
  customer: Step<Provisioned>,
): Promise<Passed> {
  await run.needs(port);
  const { smpp } = (await run.needs(customer)).customer;
  const { SmppCustomerSession, SmppCommandError } = smppDrivers();
  const session = new SmppCustomerSession({
    connectTimeoutMs: run.backstopMs,
    responseTimeoutMs: run.backstopMs,
    enquireLinkMs: 0,
  });
  run.onCleanup('close the SMPP session', () => session.close());
  try {
    await run.within('bind_transceiver and unbind', async () => {
      await session.connect({ ...run.endpoints.smpp, actor: 'preflight ESME' });
      await session.bind({ systemId: smpp.systemId, password: smpp.password, mode: 'transceiver' });
      await session.unbind();
    });
  } catch (error) {
    if (error instanceof SmppCommandError)
      throw new Problem(
        `the SMSC at PHASE2_SMPP=${smppAt(run)} refused ${error.command} of a customer just created through the API (${error.statusName}): PHASE2_SMPP and PHASE2_API_URL must belong to the same deployment`,
      );
    throw new Problem(
      `SMPP at PHASE2_SMPP=${smppAt(run)} accepts TCP but the bind failed (${(error as Error).message.split('\n')[0]}): is PHASE2_SMPP the SMSC's SMPP port?`,
    );
  }
  return passed(`bound as transceiver with system_id ${smpp.systemId}, then unbound`);
}
