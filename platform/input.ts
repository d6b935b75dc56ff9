import { ValidationError, type FieldError } from './errors';

/**
 * Reads a JSON request body field by field, collecting every problem instead of stopping at the
 * first, so one 422 names all the fields at fault. Getters return a harmless placeholder for a
 * bad field; `done()` then throws before the placeholder can be used.
 */
export class InputReader {
  private readonly errors: FieldError[] = [];
  private readonly body: Record<string, unknown>;

  constructor(body: unknown, allowedFields: readonly string[]) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError([{ field: '(body)', message: 'must be a JSON object' }]);
    }
    this.body = body as Record<string, unknown>;
    // Unknown fields are refused: a misspelt optional field would otherwise be silently ignored.
    for (const key of Object.keys(this.body)) {
      if (!allowedFields.includes(key))
        this.fail(key, `is not a known field (known: ${allowedFields.join(', ')})`);
    }
  }

  fail(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  has(field: string): boolean {
    return this.body[field] !== undefined;
  }

  string(field: string, rules: StringRules = {}): string {
    const value = this.body[field];
    if (value === undefined || value === null) {
      this.fail(field, 'is required');
      return '';
    }
    return this.checkString(field, value, rules) ?? '';
  }

  optionalString(field: string, rules: StringRules = {}): string | undefined {
    const value = this.body[field];
    if (value === undefined || value === null) return undefined;
    return this.checkString(field, value, rules);
  }

  /** For updates: undefined when absent (leave as is), null when sent as null (clear), else the checked string. */
  nullableString(field: string, rules: StringRules = {}): string | null | undefined {
    const value = this.body[field];
    if (value === undefined) return undefined;
    if (value === null) return null;
    return this.checkString(field, value, rules);
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.fail(field, 'must be true or false');
      return undefined;
    }
    return value;
  }

  /** Required, but null is an answer ("none"): one of `values`, or null. */
  nullableOneOf<T extends string>(field: string, values: readonly T[]): T | null {
    if (this.body[field] === null) return null;
    if (this.body[field] === undefined) {
      this.fail(field, `is required (one of: ${values.join(', ')}, or null)`);
      return null;
    }
    return this.oneOf(field, values);
  }

  optionalOneOf<T extends string>(field: string, values: readonly T[]): T | undefined {
    return this.has(field) ? this.oneOf(field, values) : undefined;
  }

  integer(field: string, min: number, max: number): number {
    const value = this.body[field];
    if (value === undefined || value === null) {
      this.fail(field, 'is required');
      return 0;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `must be a whole number from ${min} to ${max}`);
      return 0;
    }
    return value;
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T {
    const value = this.body[field];
    if (value === undefined || value === null) {
      this.fail(field, `is required (one of: ${values.join(', ')})`);
      return values[0];
    }
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      this.fail(field, `must be one of: ${values.join(', ')}`);
      return values[0];
    }
    return value as T;
  }

  stringArray(field: string, rules: StringRules & { optional?: boolean; minItems?: number } = {}): string[] {
    const value = this.body[field];
    if (value === undefined || value === null) {
      if (!rules.optional) this.fail(field, 'is required');
      return [];
    }
    if (!Array.isArray(value)) {
      this.fail(field, 'must be an array of strings');
      return [];
    }
    if (rules.minItems !== undefined && value.length < rules.minItems) {
      this.fail(field, `must have at least ${rules.minItems} item(s)`);
    }
    const items: string[] = [];
    value.forEach((item, index) => {
      const checked = this.checkString(`${field}[${index}]`, item, rules);
      if (checked !== undefined) items.push(checked);
    });
    return items;
  }

  /** Throws one ValidationError naming every field at fault. */
  done(): void {
    if (this.errors.length > 0) throw new ValidationError(this.errors);
  }

  private checkString(field: string, value: unknown, rules: StringRules): string | undefined {
    if (typeof value !== 'string') {
      this.fail(field, 'must be a string');
      return undefined;
    }
    const min = rules.minLength ?? 1;
    if (value.length < min) {
      this.fail(field, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
      return undefined;
    }
    if (rules.maxLength !== undefined && value.length > rules.maxLength) {
      this.fail(field, `must be at most ${rules.maxLength} characters`);
      return undefined;
    }
    if (rules.pattern && !rules.pattern.test(value)) {
      this.fail(field, rules.patternHint ?? `must match ${rules.pattern.source}`);
      return undefined;
    }
    return value;
  }
}

export interface StringRules {
  /** Default 1: empty strings are refused unless a rule says otherwise. */
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** What the caller should send instead, in words ("an E.164 number such as +14155550100"). */
  patternHint?: string;
}

/** A query's date-time parameter as ISO-8601 UTC, undefined when absent; a bad one is noted in `errors`. */
export function queryTime(query: URLSearchParams, name: string, errors: FieldError[]): string | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const parsed = Date.parse(raw);
  if (Number.isNaN(parsed)) {
    errors.push({ field: name, message: 'must be an ISO-8601 date-time such as 2025-01-31T12:00:00Z' });
    return undefined;
  }
  return new Date(parsed).toISOString();
}
