import { Job } from './job';
import { RunContext } from './job-context';
import type { TimerTask } from './runner';
import type { RunWatches } from './run-observer';

/**
 * A run in flight: its context, as the handler gets it, and what the runner keeps of it in
 * private fields (one object per run, and nothing of the runner's shows on the context).
 */
export class ActiveRun extends RunContext {
  readonly #job: Job;
  #onDone: (() => void) | undefined;
  #timeout: TimerTask | null = null;
  #timedOut = false;
  #watch: RunWatches | null = null;
  /** Where the run is in the runner's list of runs in flight. */
  slot = -1;

  constructor(job: Job, scheduledAt: number, startedAt: number, attempt: number, onDone: (() => void) | undefined, fencingToken: number | undefined) {
    super(job.name, scheduledAt, startedAt, attempt, fencingToken);
    this.#job = job;
    this.#onDone = onDone;
  }

  get job(): Job {
    return this.#job;
  }

  /** The run's `timeoutMs` timer, while it waits. */
  get timeout(): TimerTask | null {
    return this.#timeout;
  }

  set timeout(task: TimerTask | null) {
    this.#timeout = task;
  }

  get timedOut(): boolean {
    return this.#timedOut;
  }

  set timedOut(value: boolean) {
    this.#timedOut = value;
  }

  /** What the run observers keep of the run, if any watches it. */
  get watch(): RunWatches | null {
    return this.#watch;
  }

  set watch(watch: RunWatches | null) {
    this.#watch = watch;
  }

  /** Tells whoever waits on the run that its outcome is known (once: at timeout or when it settles). */
  done(): void {
    const onDone = this.#onDone;
    this.#onDone = undefined;
    onDone?.();
  }
}
