/**
 * A delay that doubles after each failure, from `initialMs` up to `maxMs`, and starts over after a
 * success: how long to wait before trying the store again.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /** The delay before the next try, after one more failure. */
  next(): number {
    return Math.min(this.initialMs * 2 ** this.failures++, this.maxMs);
  }

  /** A try succeeded: the next failure waits `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}
