/**
 * The API answers at PHASE2_API_URL, the operator key is the operator's, and the operator can
 * provision the customer the other checks act as (as the suite provisions its own).
 */
import type { CreatedCustomer } from '../../../world/http/api-client';
import { factories } from '../drivers';
import { NotChecked, Problem, passed, type Passed } from '../outcome';
import type { PreflightRun, Step } from '../run';
import { answered, networkProblem } from '../wording';

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

export interface Provisioned {
  customer: CreatedCustomer;
  number?: string;
  sip?: { username: string; password: string };
}

export async function checkApi(run: PreflightRun): Promise<Passed> {
  const { apiUrl } = run.endpoints;
  if (!LOOPBACK_HOST.test(new URL(apiUrl).host))
    throw new Problem(
      `PHASE2_API_URL=${apiUrl} is not a loopback address: the suite's network guard (nock, support/hooks.ts) lets HTTP reach loopback only; reach the API through a loopback address (a tunnel)`,
    );
  const answer = await run.request('GET', '/health', null).catch((error: unknown) => {
    throw new Problem(
      `${networkProblem('PHASE2_API_URL', apiUrl, error, run.timeoutMs)}: start the platform's API gateway there or correct PHASE2_API_URL`,
    );
  });
  if (answer.status !== 200)
    throw new Problem(
      `GET ${apiUrl}/health answered ${answered(answer)}: PHASE2_API_URL must be the API's base URL through the gateway`,
    );
  const version = (answer.body as { version?: unknown } | undefined)?.version;
  return passed(`GET ${apiUrl}/health → 200${typeof version === 'string' ? ` (version ${version})` : ''}`);
}

export async function checkOperatorKey(run: PreflightRun): Promise<Passed> {
  const answer = await run.request('GET', '/ops/v1/settings', run.endpoints.adminApiKey).catch(() => {
    throw new NotChecked('the API does not answer (see the API line)');
  });
  if (answer.status === 401)
    throw new Problem(
      `PHASE2_ADMIN_API_KEY is not accepted by the gateway (${answered(answer)}): set it to this deployment's operator key`,
    );
  if (answer.status === 403)
    throw new Problem(
      `PHASE2_ADMIN_API_KEY is a valid key but not the operator's (${answered(answer)}): set it to the operator key, not a customer's`,
    );
  if (answer.status !== 200)
    throw new Problem(`GET /ops/v1/settings with PHASE2_ADMIN_API_KEY answered ${answered(answer)}`);
  return passed('GET /ops/v1/settings → 200 with PHASE2_ADMIN_API_KEY');
}

/**
 * Every scenario's API client checks that the gateway echoes the request id it sent, and the
 * TEST-INT-020 access rules read the gateway's request log by that id: a target without either
 * is named here, before any scenario runs.
 */
export async function checkRequestTracing(run: PreflightRun, key: Step<true>): Promise<Passed> {
  await run.needs(key);
  const sent = await run.expectOk('a request with an id of the suite', () =>
    run.api().raw({ method: 'GET', path: '/ops/v1/settings' }),
  );
  const path = `/ops/v1/requests/${encodeURIComponent(sent.requestId)}`;
  const logged = await run.request('GET', path, run.endpoints.adminApiKey);
  const kongNoRoute = (logged.body as { message?: unknown } | undefined)?.message !== undefined;
  if (logged.status === 404 && kongNoRoute)
    throw new Problem(
      `this target has no request log by id (GET ${path} answered ${answered(logged)}): the scenario tracing a request by the customer's own reference needs GET /ops/v1/requests/{id} (contracts/platform-api.yaml)`,
    );
  if (logged.status !== 200)
    throw new Problem(
      `the gateway echoed request id ${sent.requestId} but GET ${path} answered ${answered(logged)}: it must log each request under the id it echoes`,
    );
  return passed(`request ${sent.requestId} echoed, and found in the gateway's log`);
}

/** The customer the other checks act as: made by the operator through the API client. */
export async function provision(
  run: PreflightRun,
  key: Step<true>,
  needs: { sip: boolean; webhooks: boolean },
): Promise<Passed<Provisioned>> {
  await run.needs(key);
  const { localDid, password, sipUsername } = factories();
  const customer = await run.expectOk('the operator could not create a customer', () =>
    run.api().createCustomer({ name: `preflight ${new Date().toISOString()}`, tier: 'standard' }),
  );
  const provisioned: Provisioned = { customer };
  const api = run.api(customer.apiKey, 'preflight customer');
  if (needs.sip || needs.webhooks) {
    const number = localDid();
    await run.expectOk('the preflight customer could not add a number', () =>
      api.addNumber({ number, kind: 'local' }),
    );
    provisioned.number = number;
  }
  if (needs.sip && provisioned.number) {
    const account = { username: sipUsername('preflight'), password: password() };
    const number = provisioned.number;
    await run.expectOk('the preflight customer could not create a SIP account', () =>
      api.createSipAccount({ ...account, number }),
    );
    provisioned.sip = account;
  }
  const made = [`customer ${customer.id} "${customer.name}"`];
  if (provisioned.number) made.push(`number ${provisioned.number}`);
  if (provisioned.sip) made.push(`SIP account ${provisioned.sip.username}`);
  return { detail: `created through the API: ${made.join(', ')}`, value: provisioned };
}
