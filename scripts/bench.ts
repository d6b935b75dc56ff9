/**
 * `npm run bench`: one customer's flood never slows another (TEST-INT-053's answer times, measured
 * here and not in a timed scenario: a machine under load must not fail the specification).
 *
 * Starts the embedded platform through the launcher, has the operator create two customers (the
 * flooder limited to FLOODER_PER_MINUTE API requests a minute, the neighbour on its tier's
 * defaults), times the neighbour's GET /v1/numbers alone, then again while the flooder keeps
 * FLOOD_CONCURRENCY requests in flight (almost all refused 429). Loopback only, bounded in count
 * and time. Prints a table and a verdict, writes reports/bench.json, exits 0 when the target is met.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fork } from 'node:child_process';
import got from 'got';
import { startEmbeddedPlatform } from '../support/embedded-platform';
import { PlatformApi } from '../world/http/api-client';
import { TARGET, judge, summarise, type Summary } from './bench-verdict';

/** Neighbour requests timed alone, one after another; under the flood, as many as it lasts. */
const SAMPLES = 200;
/** Requests not timed first: connection set-up and JIT warm-up are not the platform's answer time. */
const WARM_UP = 20;
/** The flood: this many requests in flight at once, this many in all. */
const FLOOD_CONCURRENCY = 20;
const FLOOD_TOTAL = 2_000;
const FLOODER_PER_MINUTE = 60;
/** The whole bench, start-up included, ends by then whatever happens. */
const DEADLINE_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;

async function get(apiUrl: string, apiKey: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await got(`${apiUrl}/v1/numbers`, {
    headers: { apikey: apiKey },
    throwHttpErrors: false,
    retry: { limit: 0 },
    timeout: { request: REQUEST_TIMEOUT_MS },
  });
  return { status: response.statusCode, ms: performance.now() - started };
}

/** Sequential requests while `more()` says so: their round trips and how many were not 200. */
async function timeNeighbour(
  apiUrl: string,
  apiKey: string,
  more: (taken: number) => boolean,
): Promise<{ ms: number[]; not200: number }> {
  const ms: number[] = [];
  let not200 = 0;
  while (more(ms.length)) {
    const answer = await get(apiUrl, apiKey);
    ms.push(answer.ms);
    if (answer.status !== 200) not200++;
  }
  return { ms, not200 };
}

async function bench(apiUrl: string, adminApiKey: string) {
  const operator = new PlatformApi({ baseUrl: apiUrl, apiKey: adminApiKey, actor: 'operator' });
  const flooder = await operator.createCustomer({ name: 'Bench flooder', tier: 'standard' });
  const neighbour = await operator.createCustomer({ name: 'Bench neighbour', tier: 'standard' });
  const limit = await operator.raw({
    method: 'PUT',
    path: `/ops/v1/customers/${encodeURIComponent(flooder.id)}/rate-limits`,
    json: { perSecond: null, perMinute: FLOODER_PER_MINUTE },
  });
  if (limit.status !== 200) throw new Error(`setting the flooder's rate limit answered ${limit.status}`);

  await timeNeighbour(apiUrl, neighbour.apiKey, (taken) => taken < WARM_UP);
  const alone = await timeNeighbour(apiUrl, neighbour.apiKey, (taken) => taken < SAMPLES);

  // The flooder is a process of its own, as it would be another customer's machine: its client's
  // work must not queue on the platform's event loop in front of the neighbour's requests.
  const child = fork(__filename, ['--flood', apiUrl], {
    execArgv: ['--require', 'ts-node/register/transpile-only'],
    env: { ...process.env, BENCH_FLOOD_KEY: flooder.apiKey },
  });
  let flooding: () => void = () => undefined;
  const started = new Promise<void>((ready) => (flooding = ready));
  const floodDone = new Promise<FloodResult>((done, fail) => {
    child.on('message', (message) => (message === 'flooding' ? flooding() : done(message as FloodResult)));
    child.once('exit', (code) => fail(new Error(`the flood process exited (${code}) without its counts`)));
  });
  let floodOver = false;
  floodDone.then(
    () => (floodOver = true),
    () => (floodOver = true), // awaited below; a crash while measuring must not go unhandled
  );
  await Promise.race([started, floodDone]);
  // A request sent before the flood's last answer counts as under the flood.
  const flooded = await timeNeighbour(apiUrl, neighbour.apiKey, () => !floodOver);
  const { sent, statuses, floodSeconds } = await floodDone;
  return { alone, flooded, sent, statuses: new Map(statuses), floodSeconds };
}

interface FloodResult {
  sent: number;
  statuses: Array<[number, number]>;
  floodSeconds: number;
}

/** The flood process: FLOOD_TOTAL requests, FLOOD_CONCURRENCY in flight at once. */
async function flood(apiUrl: string, apiKey: string): Promise<void> {
  let stopped = false;
  process.once('disconnect', () => (stopped = true)); // the bench itself ended
  let sent = 0;
  const statuses = new Map<number, number>();
  const started = performance.now();
  let overTheLimit: () => void = () => undefined;
  const refused = new Promise<void>((first) => (overTheLimit = first));
  const worker = async (): Promise<void> => {
    while (!stopped && sent < FLOOD_TOTAL) {
      sent++;
      const { status } = await get(apiUrl, apiKey);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 429) overTheLimit();
    }
  };
  const workers = Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker));
  // Measuring starts once the flooder is over its limit: from then on it is a flood of refusals.
  await Promise.race([refused, workers]);
  process.send?.('flooding');
  await workers;
  const result: FloodResult = {
    sent,
    statuses: [...statuses],
    floodSeconds: (performance.now() - started) / 1000,
  };
  process.send?.(result, () => process.disconnect());
}

async function main(): Promise<void> {
  const root = resolve(__dirname, '..');
  mkdirSync(join(root, 'reports'), { recursive: true });
  const logFile = join(root, 'reports', 'bench-platform.log');
  const deadline = setTimeout(() => {
    console.error(`bench: not finished within ${DEADLINE_MS} ms; see ${logFile}`);
    process.exit(1);
  }, DEADLINE_MS);
  const platform = await startEmbeddedPlatform(logFile);
  let result;
  try {
    result = await bench(platform.endpoints.apiUrl, platform.endpoints.adminApiKey);
  } finally {
    await platform.stop();
  }
  clearTimeout(deadline);
  const alone = summarise(result.alone.ms);
  const flooded = summarise(result.flooded.ms);
  const flood429 = result.statuses.get(429) ?? 0;
  const verdict = judge({
    alone,
    flooded,
    neighbourNot200: result.alone.not200 + result.flooded.not200,
    flood429,
  });
  const floodPerSecond = Math.round(result.sent / result.floodSeconds);
  const row = (name: string, s: Summary): string =>
    `${name.padEnd(22)}${String(s.count).padStart(6)}${String(s.p50).padStart(9)}${String(s.p95).padStart(9)}${String(s.max).padStart(9)}`;
  console.log(`neighbour GET /v1/numbers, one after another, ms`);
  console.log(
    `${''.padEnd(22)}${'n'.padStart(6)}${'p50'.padStart(9)}${'p95'.padStart(9)}${'max'.padStart(9)}`,
  );
  console.log(row('alone', alone));
  console.log(row('under the flood', flooded));
  console.log(
    `flood: ${result.sent} requests, ${FLOOD_CONCURRENCY} in flight, ${floodPerSecond} requests/s, ${flood429} refused 429`,
  );
  console.log(
    verdict.met
      ? `target met: p95 under the flood ≤ p95 alone + ${TARGET.p95ExtraMs} ms, every neighbour answer 200`
      : `target NOT met: ${verdict.reasons.join('; ')}`,
  );
  const report = {
    at: new Date().toISOString(),
    target: `p95 under the flood <= p95 alone + ${TARGET.p95ExtraMs} ms; every neighbour answer 200`,
    alone,
    underFlood: flooded,
    flood: {
      requests: result.sent,
      concurrency: FLOOD_CONCURRENCY,
      requestsPerSecond: floodPerSecond,
      statuses: Object.fromEntries(result.statuses),
    },
    verdict,
  };
  writeFileSync(join(root, 'reports', 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = verdict.met ? 0 : 1;
}

if (require.main === module && process.argv[2] === '--flood')
  flood(process.argv[3] ?? '', process.env.BENCH_FLOOD_KEY ?? '').catch((error: unknown) => {
    console.error(`bench flood: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  });
else if (require.main === module)
  main().catch((error: unknown) => {
    console.error(`bench: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  });
