/** Teardown work of one scenario (phones to unregister, sessions to close), run in reverse order. */
export class Cleanups {
  private readonly pending: Array<() => Promise<void>> = [];

  add(fn: () => Promise<void>): void {
    this.pending.push(fn);
  }

  /** Runs every piece even when some fail; then fails with all of them named in the message. */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const fn of this.pending.reverse()) {
      try {
        await fn();
      } catch (error) {
        failures.push(error);
      }
    }
    this.pending.length = 0;
    if (failures.length > 0) {
      // A report shows only an AggregateError's message, not its inner errors: list every one.
      const reasons = failures.map((f, i) => `  ${i + 1}. ${f instanceof Error ? f.message : String(f)}`);
      throw new AggregateError(
        failures,
        `scenario cleanup failed (${failures.length}):\n${reasons.join('\n')}`,
      );
    }
  }
}
