/** Marks the {@link JobContext} class, so that a second copy of the package in one application recognizes it. */
const JOB_CONTEXT_MARK = Symbol.for('nestjs-metronome:JobContext');

/**
 * What a run knows about itself: the job, the tick it is for, the attempt, and a signal to stop.
 *
 * A method gets it when it asks for it, as its first argument: by typing its first parameter
 * `JobContext`, read from decorator metadata, or by marking it `@JobCtx()`. Other methods are
 * called with no arguments, as `@nestjs/schedule` calls them.
 *
 * ```ts
 * @Cron('0 * * * *')
 * async report({ scheduledAt, signal }: JobContext) {
 *   await this.reports.build(scheduledAt, { signal });
 * }
 * ```
 *
 * It is a class so that decorator metadata can name it; the scheduler makes the instances. In a
 * unit test of a handler, pass a plain object: `{ name, scheduledAt, ... } as JobContext`.
 */
export abstract class JobContext {
  /** @internal */
  static readonly [JOB_CONTEXT_MARK] = true;

  /** The job's name. */
  abstract readonly name: string;
  /** The instant this run was scheduled for (the tick), not when it started. */
  abstract readonly scheduledAt: Date;
  /** When the run actually started. */
  abstract readonly firedAt: Date;
  /** 1 for the first attempt, counting up on retries. */
  abstract readonly attempt: number;
  /** Aborted when the run times out (`timeoutMs`), loses its lease, or the application shuts down. */
  abstract readonly signal: AbortSignal;
  /** With a store that leases runs: a number that grows with every claim, to fence out stale writers. */
  abstract readonly fencingToken?: number;
}

/** Whether `type` (a parameter type from decorator metadata) is {@link JobContext}, from this copy of the package or another. */
export function isJobContextType(type: unknown): boolean {
  return typeof type === 'function' && (type as unknown as Record<symbol, unknown>)[JOB_CONTEXT_MARK] === true;
}

/**
 * The context of one run. Dates and the abort controller are made on first use: most handlers
 * never look at them, and a scheduler firing thousands of jobs a second should not pay for them.
 */
export class RunContext extends JobContext {
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
  ) {
    super();
  }

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
