/** The fault seam of @failover scenarios: the endpoint lists the platform's nodes, or its absence is said. */
import got from 'got';
import { FAULT_SEAM_MISSING } from '../../../world/faults/fault-injector';
import { Problem, passed, type Passed } from '../outcome';
import type { PreflightRun } from '../run';
import { answered, networkProblem } from '../wording';

/** GET /ops/v1/nodes with the operator's key answers a list of nodes. */
export async function checkFaultEndpoint(run: PreflightRun, url: string): Promise<Passed> {
  const target = `${url.replace(/\/+$/, '')}/ops/v1/nodes`;
  const response = await run
    .within('GET /ops/v1/nodes', (signal) =>
      got(target, {
        signal,
        headers: { apikey: run.endpoints.adminApiKey },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: run.backstopMs },
        responseType: 'text',
      }),
    )
    .catch((error: unknown) => {
      throw new Problem(networkProblem('PHASE2_FAULT_URL', url, error, run.timeoutMs));
    });
  let body: unknown = response.body;
  try {
    body = JSON.parse(response.body) as unknown;
  } catch {
    // the text is shown as it is
  }
  const nodes = (body as { nodes?: unknown } | null)?.nodes;
  if (response.statusCode !== 200 || !Array.isArray(nodes))
    throw new Problem(
      `PHASE2_FAULT_URL=${url}: GET /ops/v1/nodes answered ${answered({ status: response.statusCode, body })}, not a list of nodes`,
    );
  const active = (nodes as Array<{ role?: string; node?: string; state?: string }>)
    .filter((n) => n.state === 'active')
    .map((n) => `${n.role} ${n.node}`);
  return passed(`${nodes.length} node(s), active: ${active.join(', ') || 'none'}`);
}

/** The warning when @failover scenarios are selected and nothing can crash a node. */
export function missingFaultSeam(scenarios: number | 'all'): string {
  const which = scenarios === 'all' ? 'the @failover scenarios' : `${scenarios} @failover scenario(s)`;
  return `${which} will FAIL: ${FAULT_SEAM_MISSING}`;
}
