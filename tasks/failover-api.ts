import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Phase2World } from '../world/world';
import type { RawResponse } from '../world/http/api-client';
import { EVIDENCE } from '../reporting/evidence';
import { firstSuccessAfterCrash } from './failover';
import { customerNumber } from './messaging';
import { untilInstant } from './waiting';
import { awaitCallRecord } from './call-records';
import { callAndTalk, hangUp } from './voice';

/**
 * The gateway's failover (Kong's place) as the customer sees it: its key, its rate-limit
 * counters and its idempotency keys live in the shared store, so the surviving node honours
 * what the dead one granted.
 */

/** An answer the customer would retry: the gateway is not there (yet), or says so itself. */
function worthRetrying(response: RawResponse): boolean {
  return response.status === 502 || response.status === 503 || response.status === 504;
}

/** Then {string}'s requests with their API key succeed again through the same address within 30 seconds */
export async function expectApiKeyWorksWithinTarget(world: Phase2World, customerName: string) {
  const api = world.customer(customerName).api;
  await firstSuccessAfterCrash(world, 'api', `a request with "${customerName}"'s API key answered`, () =>
    api.listNumbers(),
  );
}

/** When {string} texts {person} {string} through the API with an idempotency key */
export async function sendWithIdempotencyKey(
  world: Phase2World,
  customerName: string,
  name: string,
  text: string,
) {
  const api = world.customer(customerName).api;
  const from = customerNumber(world, customerName);
  const to = world.person(name).number;
  const key = `failover-${randomUUID()}`;
  const json = { from, to, text };
  const acceptedAt = Date.now();
  const first = await api.raw({
    method: 'POST',
    path: '/v1/messages',
    json,
    headers: { 'Idempotency-Key': key },
  });
  expect(
    first.status,
    `answer to the first send with Idempotency-Key ${key} (see "${EVIDENCE.HTTP}")`,
  ).to.equal(202);
  const id = (first.body as { id?: string }).id ?? '';
  world.failover.idempotent = { key, json, first };
  world.messaging.message = {
    id,
    customer: customerName,
    from,
    to,
    text,
    acceptedAt,
    respondedAt: Date.now(),
  };
}

/** When {string} retries that request with the same idempotency key (through the same address, until answered) */
export async function retryWithTheSameKey(world: Phase2World, customerName: string) {
  const sent = world.failover.idempotent;
  if (!sent) throw new Error('No request with an idempotency key was sent in this scenario.');
  const api = world.customer(customerName).api;
  const { value } = await firstSuccessAfterCrash(world, 'api', 'the retried send answered', async () => {
    const response = await api.raw({
      method: 'POST',
      path: '/v1/messages',
      json: sent.json,
      headers: { 'Idempotency-Key': sent.key },
    });
    if (worthRetrying(response)) throw new Error(`answered ${response.status}`);
    return response;
  });
  sent.retry = value;
}

/** Then the retry is answered with the first answer, marked as a replay */
export function expectReplayOfTheFirstAnswer(world: Phase2World) {
  const sent = world.failover.idempotent;
  if (!sent?.retry) throw new Error('The request with an idempotency key was not retried in this scenario.');
  const see = `(see "${EVIDENCE.HTTP}")`;
  expect(sent.retry.status, `status of the retry with Idempotency-Key ${sent.key} ${see}`).to.equal(
    sent.first.status,
  );
  expect(
    (sent.retry.body as { id?: string }).id,
    `message id in the retry's answer: the first send's, not a second message ${see}`,
  ).to.equal((sent.first.body as { id?: string }).id);
  expect(
    sent.retry.headers['idempotent-replayed'],
    `Idempotent-Replayed header of the retry: the survivor replayed the dead node's answer ${see}`,
  ).to.equal('true');
}

/** The window must have this much left when the crash comes, or the counts would reset under the test. */
const WINDOW_LEFT_S = 15;

/** Given {string} may make {int} API requests a minute */
export async function limitRequestsPerMinute(world: Phase2World, customerName: string, perMinute: number) {
  const customer = world.customer(customerName);
  const answer = await world.operator.raw({
    method: 'PUT',
    path: `/ops/v1/customers/${encodeURIComponent(customer.id)}/rate-limits`,
    json: { perSecond: null, perMinute },
  });
  expect(answer.status, `setting "${customerName}"'s rate limit (see "${EVIDENCE.HTTP}")`).to.equal(200);
}

function header(response: RawResponse, name: string): number | undefined {
  const value = response.headers[name];
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * When {string} uses its requests until {int} are left this minute. The gateway's own headers
 * say how many are left (the steps before counted too); a window about to end is waited out
 * first, so the counts cannot reset between the requests and the crash.
 */
export async function useRequestsUntilLeft(world: Phase2World, customerName: string, left: number) {
  const api = world.customer(customerName).api;
  const get = (): Promise<RawResponse> => api.raw({ method: 'GET', path: '/v1/numbers' });
  let answer = await get();
  const reset = header(answer, 'ratelimit-reset');
  if (reset !== undefined && reset < WINDOW_LEFT_S) {
    await untilInstant(Date.now() + reset * 1000);
    answer = await get();
  }
  for (let sent = 1; ; sent += 1) {
    expect(answer.status, `request ${sent}, within the limit (see "${EVIDENCE.HTTP}")`).to.equal(200);
    const remaining = header(answer, 'x-ratelimit-remaining-minute');
    if (remaining === undefined)
      throw new Error(
        `The gateway's answer carries no X-RateLimit-Remaining-Minute header (see "${EVIDENCE.HTTP}").`,
      );
    if (remaining <= left) {
      expect(remaining, `requests left this minute after ${sent} request(s)`).to.equal(left);
      break;
    }
    answer = await get();
  }
}

/** Then {string} may make only {int} more requests before being told to slow down */
export async function expectOnlyRemainingRequests(
  world: Phase2World,
  customerName: string,
  remaining: number,
) {
  const api = world.customer(customerName).api;
  const get = (): Promise<RawResponse> => api.raw({ method: 'GET', path: '/v1/numbers' });
  // The first answer after the crash (the survivor's) counts like any other.
  const { value: first } = await firstSuccessAfterCrash(
    world,
    'api',
    `a request of "${customerName}" answered`,
    async () => {
      const response = await get();
      if (worthRetrying(response)) throw new Error(`answered ${response.status}`);
      return response;
    },
  );
  const answers = [first];
  while (answers.at(-1)?.status === 200 && answers.length <= remaining) answers.push(await get());
  const allowed = answers.filter((a) => a.status === 200).length;
  const refusal = answers.at(-1);
  expect(
    allowed,
    `requests the surviving gateway let through after the crash: only the ${remaining} the dead node had left ` +
      `of the minute's limit — more means it forgot the dead node's counts (see "${EVIDENCE.HTTP}")`,
  ).to.equal(remaining);
  expect(refusal?.status, `answer once the limit was used up (see "${EVIDENCE.HTTP}")`).to.equal(429);
  expect(refusal?.body, 'body of the refusal').to.deep.equal({ message: 'API rate limit exceeded' });
  expect(refusal?.headers['retry-after'], 'Retry-After of the refusal').to.match(/^\d+$/);
}

/** Given {person} has called {person} {int} times (each call answered, talked and hung up) */
export async function makeCalls(world: Phase2World, callerName: string, calleeName: string, times: number) {
  const made: string[] = [];
  for (let i = 0; i < times; i += 1) {
    await callAndTalk(world, callerName, calleeName);
    await hangUp(world, callerName);
    made.push(world.currentCall().call.callId);
  }
  const caller = world.person(callerName);
  const api = world.customer(caller.customer ?? '').api;
  // Every record is written before paging starts: a page boundary must not move under the test.
  for (const [i, callId] of made.entries())
    await awaitCallRecord(
      world,
      api,
      callId,
      `call ${i + 1} of ${times} from ${callerName} to ${calleeName}`,
    );
  world.failover.callsMade = made;
}

/** When {string} fetches the first page of its call records, one record per page */
export async function fetchFirstPageOfRecords(world: Phase2World, customerName: string) {
  const page = await world.customer(customerName).api.listCdrs({ limit: 1 });
  expect(page.items, 'records on a page of one').to.have.length(1);
  expect(page.nextCursor, 'cursor to the next page (more records follow)').to.be.a('string');
  world.failover.paging = { seen: page.items.map((c) => c.sipCallId), cursor: page.nextCursor };
}

/** Then {string} pages through the rest with the cursor the dead node issued, and sees every call once */
export async function expectPagingContinuesOnTheSurvivor(world: Phase2World, customerName: string) {
  const paging = world.failover.paging;
  const made = world.failover.callsMade;
  if (!paging?.cursor || !made) throw new Error('No call records were paged through before the crash.');
  const api = world.customer(customerName).api;
  const cursor = paging.cursor;
  const { value: next } = await firstSuccessAfterCrash(
    world,
    'api',
    "the next page, with the dead node's cursor",
    () => api.listCdrs({ limit: 1, cursor }),
  );
  let page = next;
  for (;;) {
    paging.seen.push(...page.items.map((c) => c.sipCallId));
    if (!page.nextCursor || paging.seen.length > made.length) break;
    page = await api.listCdrs({ limit: 1, cursor: page.nextCursor });
  }
  expect(
    [...paging.seen].sort(),
    `calls on the pages before and after the gateway node crashed: each of the ${made.length} once (see "${EVIDENCE.HTTP}")`,
  ).to.deep.equal([...made].sort());
}
