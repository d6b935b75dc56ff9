/**
 * One preflight run's plumbing: checks as steps that await only what they depend on, a bound on
 * each piece of work, the API as the operator and as a customer, and cleanup of what was set up.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import got, { type Method } from 'got';
import type { PlatformEndpoints } from '../../support/config';
import type { PlatformApi } from '../../world/http/api-client';
import { apiClient } from './drivers';
import { NotChecked, Problem, TimedOut, type Passed } from './outcome';
import type { PreflightCheck } from './report';
import { seconds, type HttpAnswer } from './wording';

export interface Step<T> {
  name: string;
  result: Promise<PreflightCheck>;
  /** What the check produced for the checks that depend on it; undefined when it did not pass. */
  value: Promise<T | undefined>;
}

export class PreflightRun {
  readonly steps: Array<Step<unknown>> = [];
  private readonly cleanups: Array<{ what: string; run: () => Promise<void> }> = [];
  /** Work a timed-out check left running: cleanup waits for it (each piece is bounded itself). */
  private readonly inflight = new Set<Promise<unknown>>();
  // No keep-alive: nothing may hold the process open once the preflight is over.
  private readonly agent = { http: new http.Agent(), https: new https.Agent() };
  /**
   * The drivers' own timeouts: a little longer than the check's bound, so that bound (which
   * reads pending I/O before it gives up) decides, and the work still ends by itself after.
   */
  readonly backstopMs: number;

  constructor(
    readonly endpoints: PlatformEndpoints,
    readonly suiteHost: string,
    readonly timeoutMs: number,
  ) {
    this.backstopMs = timeoutMs + 1000;
  }

  /** Starts a check now; its line in the report comes in the order the checks were started. */
  step<T>(name: string, body: () => Promise<Passed<T>>): Step<T> {
    const started = Date.now();
    const outcome = body().then(
      ({ detail, value }) => ({ value, check: { name, ok: true, detail, ms: 0 } as PreflightCheck }),
      (error: unknown) => {
        const check: PreflightCheck = { name, ok: false, ms: 0 };
        if (error instanceof NotChecked) check.skipped = error.message;
        else if (error instanceof Problem) check.problem = error.message;
        else check.problem = `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
        return { value: undefined, check };
      },
    );
    const step: Step<T> = {
      name,
      result: outcome.then(({ check }) => ({ ...check, ms: Date.now() - started })),
      value: outcome.then(({ value }) => value),
    };
    this.steps.push(step as Step<unknown>);
    return step;
  }

  /** The value of a check this one depends on; NotChecked when that check did not pass. */
  async needs<T>(step: Step<T>): Promise<T> {
    const [check, value] = await Promise.all([step.result, step.value]);
    if (check.ok && value !== undefined) return value;
    throw new NotChecked(check.skipped ?? `needs "${step.name}" (✖ above)`);
  }

  /** Something to undo when the preflight ends (undone latest first). */
  onCleanup(what: string, run: () => Promise<void>): void {
    this.cleanups.push({ what, run });
  }

  /** Undoes what the checks set up, latest first; returns what could not be undone. */
  async cleanup(): Promise<string[]> {
    await Promise.allSettled([...this.inflight]);
    const failures: string[] = [];
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await this.within(`${cleanup.what} did not finish`, () => cleanup.run());
      } catch (error) {
        failures.push(`could not ${cleanup.what}: ${(error as Error).message}`);
      }
    }
    this.cleanups.length = 0;
    this.agent.http.destroy();
    this.agent.https.destroy();
    return failures;
  }

  /**
   * Bounds a piece of a check's work: past the check bound it is aborted through the signal (the
   * probes, HTTP requests and waits stop at once) and rejects with ETIMEDOUT. The drivers and the
   * API client cannot be aborted and end by their own, slightly longer timeouts: cleanup waits
   * for whatever is in flight.
   */
  within<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const running = work(controller.signal);
    this.inflight.add(running);
    const settled = (): void => void this.inflight.delete(running);
    running.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // setImmediate: an answer that arrived while the event loop was busy (loading a driver)
      // is read in the poll phase first, instead of losing to a timer that fired late.
      timer = setTimeout(
        () =>
          setImmediate(() => {
            reject(new TimedOut(`${what}: no result within ${seconds(this.timeoutMs)}`));
            controller.abort();
          }),
        this.timeoutMs,
      );
    });
    return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * A bare, abortable HTTP request, for the first probes of the API: unlike the API client, it
   * keeps the socket error's code (ECONNREFUSED, ENOTFOUND…) that names the problem, and
   * assumes nothing about what answers (it may not be the platform at all).
   */
  async request(method: Method, path: string, apiKey: string | null): Promise<HttpAnswer> {
    const response = await this.within(`${method} ${path}`, (signal) =>
      got(`${this.endpoints.apiUrl}${path}`, {
        signal,
        method,
        headers: {
          ...(apiKey === null ? {} : { apikey: apiKey }),
          'x-request-id': `preflight-${randomBytes(6).toString('hex')}`,
        },
        throwHttpErrors: false,
        retry: { limit: 0 },
        followRedirect: false,
        timeout: { request: this.backstopMs },
        agent: this.agent,
        responseType: 'text',
      }),
    );
    let body: unknown = response.body;
    if (/json/i.test(response.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(response.body) as unknown;
      } catch {
        // leave the text: answered() shows it
      }
    }
    return { status: response.statusCode, body };
  }

  /** The API client (the suite's own, contract-checked) as the operator or as a customer. */
  api(apiKey = this.endpoints.adminApiKey, actor = 'preflight operator'): PlatformApi {
    const { PlatformApi } = apiClient();
    return new PlatformApi({ baseUrl: this.endpoints.apiUrl, apiKey, actor, timeoutMs: this.backstopMs });
  }

  /** Bounded API work that must succeed; its failure is the check's one line, after `what`. */
  async expectOk<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await this.within(what, () => work());
    } catch (error) {
      throw new Problem(`${what}: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  /** For cleanup: a DELETE whose 404 is fine (a timed-out create may never have landed). */
  async removeIfThere(work: () => Promise<void>): Promise<void> {
    const { ApiError } = apiClient();
    try {
      await work();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
}
