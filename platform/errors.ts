/**
 * Business errors the core services throw. They carry no HTTP: the gateway maps each kind to
 * its status and an RFC 9457 problem, so other front doors (SMPP, operations CLI) can reuse them.
 */
export interface FieldError {
  /** The request field at fault, as the caller spelled it (`callerId`, `events[1]`). */
  field: string;
  message: string;
}

export abstract class ServiceError extends Error {
  abstract readonly kind: 'validation' | 'not-found' | 'conflict' | 'forbidden' | 'quota-exceeded';
}

export class ValidationError extends ServiceError {
  readonly kind = 'validation' as const;
  /** Problem extension members (RFC 9457 §3.2), e.g. the spam rule and the rejected message's id. */
  constructor(
    readonly errors: FieldError[],
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends ServiceError {
  readonly kind = 'not-found' as const;
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${id} does not exist`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ServiceError {
  readonly kind = 'conflict' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class ForbiddenError extends ServiceError {
  readonly kind = 'forbidden' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** A customer's quota for this window is used up (platform/core/customer-quotas.ts); try again after `retryAfterSeconds`. */
export class QuotaExceededError extends ServiceError {
  readonly kind = 'quota-exceeded' as const;
  constructor(
    readonly quota: 'texts' | 'call-attempts',
    readonly limit: number,
    readonly windowMs: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`quota exceeded: ${limit} ${quota} per ${windowMs / 1_000} s; try again in ${retryAfterSeconds} s`);
    this.name = 'QuotaExceededError';
  }
}
