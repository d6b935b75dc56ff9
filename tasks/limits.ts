import { expect } from 'chai';
import type { BurstAnswer, Phase2World } from '../world/world';
import { EVIDENCE, attachJson } from '../reporting/evidence';
import { PlatformApi } from '../world/http/api-client';
import { customerNumber, mobilePhoneInbox } from './messaging';
import { bound, untilInstant } from './waiting';

/**
 * Limits per customer (TEST-INT-053): a burst beyond the API limit is refused the way Kong's
 * rate-limiting plugin refuses it (429, RateLimit-* and Retry-After), nothing accepted is lost,
 * and one customer's flood never touches another customer's allowance or answers.
 */

/** Sends requests at once and keeps each answer with its round trip. */
async function burst(
  world: Phase2World,
  customerName: string,
  requests: Array<{ text?: string }>,
  to?: string,
) {
  const customer = world.customer(customerName);
  return Promise.all(
    requests.map(async ({ text }): Promise<BurstAnswer> => {
      const started = performance.now();
      const answer =
        text === undefined
          ? await customer.api.raw({ method: 'GET', path: '/v1/numbers' })
          : await customer.api.raw({
              method: 'POST',
              path: '/v1/messages',
              json: { from: customerNumber(world, customerName), to, text },
            });
      return {
        text,
        status: answer.status,
        ms: Math.round(performance.now() - started),
        headers: answer.headers,
        body: answer.body,
      };
    }),
  );
}

/** A window about to close would reset the count under the burst: let it close first. */
const WINDOW_LEFT_S = 5;

/**
 * When {string} sends {int} texts to {person} at once through the API. The gateway's own headers
 * say first how many requests the minute has left (the Given steps made requests too).
 */
export async function sendTextsAtOnce(world: Phase2World, customerName: string, count: number, name: string) {
  const api = world.customer(customerName).api;
  let probe = await api.raw({ method: 'GET', path: '/v1/numbers' });
  const reset = Number(probe.headers['ratelimit-reset']);
  if (reset < WINDOW_LEFT_S) {
    await untilInstant(Date.now() + reset * 1000);
    probe = await api.raw({ method: 'GET', path: '/v1/numbers' });
  }
  const left = Number(probe.headers['x-ratelimit-remaining-minute']);
  expect(
    left,
    `requests "${customerName}" has left this minute (X-RateLimit-Remaining-Minute, see "${EVIDENCE.HTTP}")`,
  ).to.be.within(1, count - 1);
  const to = world.person(name).number;
  const texts = Array.from({ length: count }, (_, i) => ({
    text: `burst ${i + 1} of ${count} ${Date.now()}`,
  }));
  world.customer(customerName).burst = { left, answers: await burst(world, customerName, texts, to) };
}

/** Then as many as its limit had left are accepted, and the rest refused with the headers saying when to retry */
export function expectAcceptedUpToTheLimit(world: Phase2World, customerName: string) {
  const { answers, left: accepted = 0 } = world.customer(customerName).burst ?? { answers: [] };
  const see = `(see "${EVIDENCE.HTTP}")`;
  expect(
    answers.map((a) => a.status).sort(),
    `answers to "${customerName}"'s burst: ${accepted} accepted (202), the rest refused (429) ${see}`,
  ).to.deep.equal([...answers.map((_, i) => (i < accepted ? 202 : 429))].sort());
  for (const refused of answers.filter((a) => a.status === 429)) {
    expect(refused.body, `Kong's answer over the limit ${see}`).to.deep.equal({
      message: 'API rate limit exceeded',
    });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter, `Retry-After of a refused request, in seconds ${see}`).to.be.within(1, 60);
    expect(
      refused.headers['ratelimit-remaining'],
      `RateLimit-Remaining of a refused request ${see}`,
    ).to.equal('0');
    expect(refused.headers['ratelimit-limit'], `RateLimit-Limit of a refused request ${see}`).to.match(
      /^\d+$/,
    );
    expect(Number(refused.headers['ratelimit-reset']), `RateLimit-Reset equals Retry-After ${see}`).to.equal(
      retryAfter,
    );
  }
}

/** Then {person}'s phone receives exactly the accepted texts */
export async function expectExactlyTheAcceptedTexts(world: Phase2World, customerName: string, name: string) {
  const answers = world.customer(customerName).burst?.answers ?? [];
  const accepted = answers.filter((a) => a.status === 202).map((a) => a.text ?? '');
  const refused = answers.filter((a) => a.status === 429).map((a) => a.text ?? '');
  const inbox = mobilePhoneInbox(world, name);
  for (const text of accepted)
    await inbox.waitFor(
      (sms) => sms.text === text,
      bound(world, `the accepted text "${text}" on ${name}'s phone`, { lookAt: [EVIDENCE.SMPP] }),
    );
  const arrived = inbox.all().map((sms) => sms.text);
  expect(
    arrived.filter((text) => refused.includes(text)),
    `refused texts that reached ${name}'s phone anyway (see "${EVIDENCE.SMPP}")`,
  ).to.deep.equal([]);
  expect(
    arrived.filter((t) => accepted.includes(t)).sort(),
    `accepted texts on ${name}'s phone, each once`,
  ).to.deep.equal([...accepted].sort());
}

/** When {string} floods the API with {int} requests while {string} makes {int} */
export async function floodWhileAnotherWorks(
  world: Phase2World,
  flooder: string,
  floodCount: number,
  other: string,
  otherCount: number,
) {
  const flood = burst(
    world,
    flooder,
    Array.from({ length: floodCount }, () => ({})),
  );
  const work = burst(
    world,
    other,
    Array.from({ length: otherCount }, () => ({})),
  );
  const [flooded, worked] = await Promise.all([flood, work]);
  world.customer(flooder).burst = { answers: flooded };
  world.customer(other).burst = { answers: worked };
}

/**
 * Then every request of {string} is served, its own allowance untouched by {string}'s flood. How
 * fast it was served is a speed target: `npm run bench` measures it, never a timed scenario.
 */
export function expectUntouchedByTheFlood(world: Phase2World, other: string, flooder: string) {
  const see = `(see "${EVIDENCE.HTTP}")`;
  const flooded = world.customer(flooder).burst?.answers ?? [];
  expect(
    flooded.filter((a) => a.status === 429).length,
    `"${flooder}"'s requests refused over its limit: the flood must have met it ${see}`,
  ).to.be.above(0);
  const answers = world.customer(other).burst?.answers ?? [];
  expect(
    answers.map((a) => a.status),
    `answers to "${other}" during the flood ${see}`,
  ).to.deep.equal(answers.map(() => 200));
  const left = answers.map((a) => Number(a.headers['x-ratelimit-remaining-minute']));
  const limit = Number(answers[0]?.headers['x-ratelimit-limit-minute']);
  // Its own counter moved by its own requests only (a window turning over mid-way only leaves more).
  expect(
    Math.min(...left),
    `"${other}"'s requests left this minute after its own ${answers.length} (of ${limit}) ${see}`,
  ).to.be.at.least(limit - answers.length);
}

/**
 * When {string} sends its requests to two gateway nodes in turn, two more than its limit has left.
 * Each node is addressed directly (as a load balancer spreads a client's requests), starting with
 * the node that did not answer the probe, so every node's count includes the other's requests.
 */
export async function requestsOverTwoNodes(world: Phase2World, customerName: string) {
  const urls = world.env.endpoints.apiNodeUrls ?? [];
  if (urls.length < 2)
    throw new Error(
      `The target names ${urls.length} API gateway node(s) (apiNodeUrls); this scenario needs two.`,
    );
  const customer = world.customer(customerName);
  const nodes = urls.slice(0, 2).map((baseUrl, i) => ({
    name: `gateway node ${i + 1} (${baseUrl})`,
    api: new PlatformApi({
      baseUrl,
      apiKey: customer.api.apiKey,
      actor: `${customerName} via gateway node ${i + 1}`,
    }),
  }));
  const probeNode = async () => nodes[0].api.raw({ method: 'GET', path: '/v1/numbers' });
  let probe = await probeNode();
  if (Number(probe.headers['ratelimit-reset']) < WINDOW_LEFT_S) {
    await untilInstant(Date.now() + Number(probe.headers['ratelimit-reset']) * 1000);
    probe = await probeNode();
  }
  const left = Number(probe.headers['x-ratelimit-remaining-minute']);
  expect(
    left,
    `requests "${customerName}" has left this minute on ${nodes[0].name} (X-RateLimit-Remaining-Minute, see "${EVIDENCE.HTTP}")`,
  ).to.be.at.least(2);
  const answers: BurstAnswer[] = [];
  // One after another: the order of the answers is the order the shared count moved in.
  for (let n = 0; n < left + 2; n++) {
    const node = nodes[(n + 1) % 2];
    const started = performance.now();
    const answer = await node.api.raw({ method: 'GET', path: '/v1/numbers' });
    answers.push({
      node: node.name,
      status: answer.status,
      ms: Math.round(performance.now() - started),
      headers: answer.headers,
      body: answer.body,
    });
  }
  customer.burst = { left, answers };
  attachJson(world, 'Requests over two gateway nodes', {
    left,
    answers: answers.map((a) => ({
      node: a.node,
      status: a.status,
      remaining: a.headers['x-ratelimit-remaining-minute'],
    })),
  });
}

/** Then {string} is refused beyond its limit whichever node its requests landed on, each node counting the other's */
export function expectOneCountAcrossNodes(world: Phase2World, customerName: string) {
  const { answers, left = 0 } = world.customer(customerName).burst ?? { answers: [] };
  const see = `(see "Requests over two gateway nodes" and "${EVIDENCE.HTTP}")`;
  expect(
    answers.map((a) => `${a.node}: ${a.status}`),
    `answers to ${answers.length} requests over two nodes, ${left} left in "${customerName}"'s minute ${see}`,
  ).to.deep.equal(answers.map((a, i) => `${a.node}: ${i < left ? 200 : 429}`));
  expect(
    answers.slice(0, left).map((a) => `${a.node}: ${String(a.headers['x-ratelimit-remaining-minute'])}`),
    `requests left this minute as each node counted them: one fewer after every request, whichever node took it ${see}`,
  ).to.deep.equal(answers.slice(0, left).map((a, i) => `${a.node}: ${left - i - 1}`));
  for (const refused of answers.slice(left))
    expect(Number(refused.headers['retry-after']), `Retry-After from ${refused.node} ${see}`).to.be.within(
      1,
      60,
    );
}
