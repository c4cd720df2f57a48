/**
 * What a job handler receives as its first argument. Methods that take no argument ignore it.
 *
 * ```ts
 * @Cron('0 * * * *')
 * async report({ scheduledAt, signal }: JobContext) {
 *   await this.reports.build(scheduledAt, { signal });
 * }
 * ```
 */
export interface JobContext {
  /** The job's name. */
  readonly name: string;
  /** The instant this run was scheduled for (the tick), not when it started. */
  readonly scheduledAt: Date;
  /** When the run actually started. */
  readonly firedAt: Date;
  /** 1 for the first attempt, counting up on retries. */
  readonly attempt: number;
  /** Aborted when the run times out (`timeoutMs`) or the application shuts down. */
  readonly signal: AbortSignal;
  /** With a store that leases runs: a number that grows with every claim, to fence out stale writers. */
  readonly fencingToken?: number;
}

/**
 * The context of one run. Dates and the abort controller are made on first use: most handlers
 * never look at them, and a scheduler firing thousands of jobs a second should not pay for them.
 */
export class RunContext implements JobContext {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;

  constructor(
    readonly name: string,
    /** @internal The tick, in ms since the epoch. */
    readonly scheduledMs: number,
    /** @internal When the run started, in ms since the epoch. */
    readonly firedMs: number,
    readonly attempt: number,
    readonly fencingToken?: number,
  ) {}

  get scheduledAt(): Date {
    return new Date(this.scheduledMs);
  }

  get firedAt(): Date {
    return new Date(this.firedMs);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the run's signal (once). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  toJSON(): object {
    return { name: this.name, scheduledAt: this.scheduledAt, firedAt: this.firedAt, attempt: this.attempt, fencingToken: this.fencingToken };
  }
}
