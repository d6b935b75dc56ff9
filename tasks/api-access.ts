import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ApiError } from '../world/http/api-client';
import { fillTemplate, platformContract } from '../world/http/contract';
import type { Phase2World } from '../world/world';
import { EVIDENCE } from '../reporting/evidence';
import { customerNumber } from './messaging';

/**
 * Who may use which part of the API, and tracing a request by the reference its sender gave it
 * (TEST-INT-020's access rules). The operator's endpoints are read from the contract
 * (`x-access: operator`), so an endpoint added there is covered without touching this file.
 */

/** When {string} tries each of the operator's endpoints with its own API key */
export async function tryEveryOperatorEndpoint(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const operations = platformContract().operationsWithAccess('operator');
  expect(operations.length, 'operations contracts/platform-api.yaml marks x-access: operator').to.be.above(0);
  world.refusals.operatorOnly = [];
  for (const op of operations) {
    // The customer aims at its own resources where a path names one; an empty JSON body cannot
    // change anything even if a broken gateway let it through (the service would answer 422).
    const path = fillTemplate(op.template, (name) => (name === 'id' ? customer.id : '+999'));
    const request = `${op.method} ${path}`;
    try {
      const response = await customer.api.raw({
        method: op.method as 'GET',
        path,
        json: op.jsonBody ? {} : undefined,
        refusal: { what: `a customer's key on the operator-only ${op.operationId}`, by: 'the gateway' },
      });
      world.refusals.operatorOnly.push({
        request,
        status: response.status,
        answer: JSON.stringify(response.body),
      });
    } catch (error) {
      world.refusals.operatorOnly.push({ request, status: undefined, answer: (error as Error).message });
    }
  }
}

/** Then each of them is refused as reserved for the platform operator */
export function expectEachRefusedAsOperatorOnly(world: Phase2World) {
  const tried = world.refusals.operatorOnly ?? [];
  const opened = tried.filter((t) => t.status !== 403);
  expect(
    opened.map((t) => `${t.request} answered ${t.status ?? '(no verdict)'}: ${t.answer.slice(0, 160)}`),
    `operator-only endpoints that did not refuse a customer's key with 403, of ${tried.length} tried (see "${EVIDENCE.HTTP}")`,
  ).to.deep.equal([]);
}

/** When {string} texts {person} {string} through the API, quoting a reference of its own */
export async function textQuotingAReference(
  world: Phase2World,
  customerName: string,
  name: string,
  text: string,
) {
  const customer = world.customer(customerName);
  const reference = `${customerName.toLowerCase()}-order-${randomUUID()}`;
  const started = performance.now();
  const response = await customer.api.raw({
    method: 'POST',
    path: '/v1/messages',
    json: { from: customerNumber(world, customerName), to: world.person(name).number, text },
    headers: { 'X-Request-Id': reference },
  });
  const roundTripMs = performance.now() - started;
  expect(
    response.status,
    `HTTP status of the text sent under reference ${reference} (see "${EVIDENCE.HTTP}")`,
  ).to.equal(202);
  customer.tracedRequest = { reference, response, roundTripMs };
}

function tracedRequestOf(world: Phase2World, customerName: string) {
  const traced = world.customer(customerName).tracedRequest;
  if (!traced)
    throw new Error(`"${customerName}" has sent no request under a reference of its own in this scenario.`);
  return traced;
}

/** Then the answer carries {string}'s reference */
export function expectAnswerCarriesReference(world: Phase2World, customerName: string) {
  const { reference, response } = tracedRequestOf(world, customerName);
  expect(
    response.headers['x-request-id'],
    `X-Request-Id on the answer to "${customerName}"'s request (see "${EVIDENCE.HTTP}")`,
  ).to.equal(reference);
}

/** Then the platform's request log shows the request under that reference, from {string}, with its outcome */
export async function expectRequestLogShows(world: Phase2World, customerName: string) {
  const customer = world.customer(customerName);
  const { reference, response, roundTripMs } = tracedRequestOf(world, customerName);
  const record = await world.operator.getRequest(reference).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 404)
      throw new Error(
        `the platform's request log has no request ${reference}, which "${customerName}" sent and got an answer to: either the gateway does not log requests by the id the caller gave, or this target lacks GET /ops/v1/requests/{id} (${error.message}) — see "${EVIDENCE.HTTP}"`,
      );
    throw error;
  });
  const { durationMs, receivedAt: _at, ...logged } = record;
  expect(logged, `the platform's log of request ${reference} (see "${EVIDENCE.HTTP}")`).to.deep.equal({
    requestId: reference,
    method: 'POST',
    path: '/v1/messages',
    status: response.status,
    role: 'customer',
    customerId: customer.id,
  });
  // The gateway handled it inside the round trip the customer measured; zero is possible on loopback.
  expect(
    durationMs,
    `time the gateway logged for request ${reference}, within the ${Math.ceil(roundTripMs)} ms round trip "${customerName}" measured`,
  )
    .to.be.at.least(0)
    .and.at.most(Math.ceil(roundTripMs));
}

/** When someone asks to send {person} a text with an API key the platform does not know */
export async function sendWithAnUnknownApiKey(world: Phase2World, name: string) {
  world.refusals.lastResponse = await world.operator.raw({
    method: 'POST',
    path: '/v1/messages',
    json: {
      from: customerNumber(world, world.onlyCustomerName()),
      to: world.person(name).number,
      text: 'forged key',
    },
    apiKey: `forged-${randomUUID()}`,
    refusal: { what: 'a request with an API key it does not know', by: 'the gateway' },
  });
}

/** Then the request is refused because its API key is unknown */
export function expectRefusedForUnknownApiKey(world: Phase2World) {
  const response = world.refusals.lastResponse;
  // Kong key-auth's answer to a key it does not know (FACTS §5), not the one for a missing key.
  expect(response?.status, `HTTP status for an unknown API key (see "${EVIDENCE.HTTP}")`).to.equal(401);
  expect(response?.body, 'gateway error body').to.deep.equal({
    message: 'Invalid authentication credentials',
  });
}
