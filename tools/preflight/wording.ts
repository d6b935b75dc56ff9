/** How the preflight words a failure: the variable to fix, its value, and what the target answered. */
import type { ProblemDetails } from '../../world/http/api-client';

/** What the target answered an HTTP request: the status and the parsed body. */
export interface HttpAnswer {
  status: number;
  body: unknown;
}

export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** One phrase for a failed connection, naming the variable and its value. */
export function networkProblem(variable: string, value: string, error: unknown, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing listens on ${variable}=${value} (connection refused)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host of ${variable}=${value} does not resolve (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${variable}=${value} is unreachable from here (${code})`;
    case 'ECONNRESET':
      return `${variable}=${value} closed the connection at once (${code})`;
    case 'ETIMEDOUT':
      return `no answer from ${variable}=${value} within ${seconds(timeoutMs)} (host down, or a firewall drops the traffic)`;
    default:
      return `${variable}=${value}: ${(error as Error | undefined)?.message ?? String(error)}`;
  }
}

/** "401 Invalid authentication credentials": the status and what the body says (Kong's
 * {message}, a problem's title and fields, or the start of a text). */
export function answered(answer: HttpAnswer): string {
  const { body } = answer;
  let text = '';
  if (typeof body === 'string') text = body.slice(0, 120);
  else if (body !== null && typeof body === 'object') {
    const problem = body as ProblemDetails;
    const fields = problem.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    text = problem.message ?? [problem.title, fields ?? problem.detail].filter(Boolean).join(': ');
  }
  return text ? `${answer.status} ${text}` : String(answer.status);
}
