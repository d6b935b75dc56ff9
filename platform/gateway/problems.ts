import type { FieldError } from '../errors';

/** RFC 9457 problem details, as the API returns them (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
}

const PROBLEM_BASE = 'https://api.phase2.example/problems/';

/** One entry per kind of application error: a stable type URI, its status and a human title. */
export const PROBLEMS = {
  invalidJson: { slug: 'invalid-json', status: 400, title: 'The request body is not valid JSON' },
  forbidden: { slug: 'forbidden', status: 403, title: 'Your API key may not use this endpoint' },
  notFound: { slug: 'not-found', status: 404, title: 'No such resource' },
  methodNotAllowed: {
    slug: 'method-not-allowed',
    status: 405,
    title: 'This resource does not support that method',
  },
  conflict: { slug: 'conflict', status: 409, title: 'The resource already exists' },
  idempotencyKeyInvalid: {
    slug: 'invalid-idempotency-key',
    status: 400,
    title: 'The Idempotency-Key header is not usable',
  },
  idempotencyKeyInProgress: {
    slug: 'idempotency-key-in-progress',
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
  },
  idempotencyKeyReused: {
    slug: 'idempotency-key-reused',
    status: 422,
    title: 'This Idempotency-Key was used for a different request',
  },
  tooLarge: { slug: 'payload-too-large', status: 413, title: 'The request body is too large' },
  unsupportedMediaType: {
    slug: 'unsupported-media-type',
    status: 415,
    title: 'The request body must be JSON',
  },
  validation: { slug: 'validation-failed', status: 422, title: 'The request is not valid' },
  quotaExceeded: {
    slug: 'quota-exceeded',
    status: 429,
    title: 'Your quota for this window is used up; retry after the time given in Retry-After',
  },
  internal: { slug: 'internal-error', status: 500, title: 'The platform failed to handle the request' },
  storeUnavailable: {
    slug: 'store-unavailable',
    status: 503,
    title: 'The platform cannot reach its database; retry after the time given in Retry-After',
  },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export function problem(
  kind: ProblemKind,
  detail: string,
  extra: { instance?: string; errors?: FieldError[] } = {},
): Problem {
  const { slug, status, title } = PROBLEMS[kind];
  return { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extra };
}

/** Thrown inside the gateway pipeline for problems found before any service runs (body, method, role). */
export class ProblemError extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemError';
  }
}

/**
 * Errors that mean the store is unavailable rather than that the request is wrong: locked or busy
 * past the busy timeout (another process holds it), I/O errors, a full or read-only disk, a file
 * that cannot be opened. better-sqlite3 raises them as SqliteError with SQLite's extended code.
 */
export function isStoreUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    error instanceof Error &&
    error.name === 'SqliteError' &&
    typeof code === 'string' &&
    /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|PROTOCOL)(_|$)/.test(code)
  );
}
