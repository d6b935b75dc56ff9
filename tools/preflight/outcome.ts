/** How a check ends: passed with what it proved, a problem (its one line), or not checked. */

/** The check failed: the message is its one line. */
export class Problem extends Error {}
/** The check could not run because something it needs failed. */
export class NotChecked extends Error {}

export class TimedOut extends Error {
  readonly code = 'ETIMEDOUT';
}

/** What a passed check proved, and what it hands to the checks that depend on it. */
export interface Passed<T = true> {
  detail: string;
  value: T;
}

export function passed(detail: string): Passed {
  return { detail, value: true };
}
