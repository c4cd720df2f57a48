import type { RunOutcome } from './job';

/** A run, as a {@link RunObserver} sees it: plain numbers, nothing made for the observer. */
export interface ObservedRun {
  /** The job's name. */
  readonly name: string;
  /** The tick the run is for, in ms since the epoch. */
  readonly scheduledMs: number;
  /** When the run started, in ms since the epoch. */
  readonly firedMs: number;
  /** 1 for the first attempt, counting up on retries. */
  readonly attempt: number;
  /** With a store that leases runs: the run's fencing token. */
  readonly fencingToken?: number;
}

/**
 * Watches runs from the inside, where the event stream cannot, and cheaply: told as each run
 * starts, it may wrap the call of the handler (to make a tracing context active while it runs, so
 * that what the handler does is attributed to the run), and it is told how each run ended. Given
 * to the scheduler with `Scheduler.observeRuns`. Without observers, runs pay nothing for them;
 * an observer with only {@link runEnded} costs no allocation per run.
 */
export interface RunObserver {
  /**
   * A run starts, just before its handler is called. Returns what follows this run to its end, or
   * nothing to leave it alone. What it throws is reported as a listener's error.
   */
  runStarted?(run: ObservedRun): RunWatch | undefined;
  /**
   * The run's outcome is known: it settled, or timed out (`error` is then the `RunTimeoutError`
   * its signal was aborted with; the handler may still be going). `durationMs`: from its start to
   * now. Called once per run, after the watches' {@link RunWatch.ended}.
   */
  runEnded?(run: ObservedRun, outcome: RunOutcome, durationMs: number, error?: unknown): void;
}

/** What a {@link RunObserver} keeps of one run. */
export interface RunWatch {
  /**
   * Calls the handler within the observer's context: must call `handler` once, synchronously, and
   * return what it returns (a promise for an async handler). What it throws is the run's error.
   */
  around?<T>(handler: () => T): T;
  /** The run's outcome is known (see {@link RunObserver.runEnded}). Called once per run. */
  ended(outcome: RunOutcome, error?: unknown): void;
}

/**
 * The observers of one scheduler, as the runner calls them: each call isolated, so that an
 * observer that throws is reported and neither the run nor the other observers suffer for it.
 */
export class RunObservers {
  private readonly list: RunObserver[] = [];

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Whether there is any: the runner asks before anything else, for every run. */
  get any(): boolean {
    return this.list.length > 0;
  }

  /** Adds an observer; returns the function that removes it. */
  add(observer: RunObserver): () => void {
    this.list.push(observer);
    return () => {
      const index = this.list.indexOf(observer);
      if (index >= 0) this.list.splice(index, 1);
    };
  }

  /** What the observers keep of a run starting now; `null` when none wants to follow it. */
  started(run: ObservedRun): RunWatches | null {
    let watches: RunWatch[] | null = null;
    for (const observer of this.list) {
      if (!observer.runStarted) continue;
      try {
        const watch = observer.runStarted(run);
        if (watch) (watches ??= []).push(watch);
      } catch (error) {
        this.onError(error);
      }
    }
    return watches && new RunWatches(watches, this.onError);
  }

  /** Tells every observer that asked how the run ended. */
  ended(run: ObservedRun, outcome: RunOutcome, durationMs: number, error?: unknown): void {
    for (const observer of this.list) {
      if (!observer.runEnded) continue;
      try {
        observer.runEnded(run, outcome, durationMs, error);
      } catch (failure) {
        this.onError(failure);
      }
    }
  }
}

/** The watches of one run, as one: the handler is called within each, the first observer's outermost. */
export class RunWatches {
  constructor(
    private readonly watches: readonly RunWatch[],
    private readonly onError: (error: unknown) => void,
  ) {}

  around<T>(handler: () => T): T {
    let call = handler;
    for (let i = this.watches.length - 1; i >= 0; i--) {
      const watch = this.watches[i];
      if (!watch.around) continue;
      const inner = call;
      call = () => watch.around!(inner);
    }
    return call();
  }

  ended(outcome: RunOutcome, error?: unknown): void {
    for (const watch of this.watches) {
      try {
        watch.ended(outcome, error);
      } catch (failure) {
        this.onError(failure);
      }
    }
  }
}
