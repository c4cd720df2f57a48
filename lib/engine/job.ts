import { Trigger, TriggerKind } from '../triggers/trigger';
import { JobContext } from './job-context';
import { JobOptions, ResolvedJobOptions } from './job-options';
import { QueueEntry } from './timer-queue';

/** The code a job runs. It receives the run's context; it may return a promise. */
export type JobHandler = (context: JobContext) => unknown;

/**
 * Supplies a job's wake-ups. By default the scheduler's timer queue does; a waker of its own lets
 * a job be driven by another timer (see `compat/timer-driver.ts`). The scheduler calls `schedule`
 * with each next wake-up and `cancel` when the job leaves; the waker calls `Scheduler.wake`.
 */
export interface Waker {
  schedule(job: Job, at: number): void;
  cancel(job: Job): void;
}

/** A job as given to {@link Scheduler.add}. */
export interface JobDefinition {
  /** Unique among the scheduler's jobs. */
  name: string;
  trigger: Trigger;
  handler: JobHandler;
  options?: JobOptions;
  /** Registered but not running until resumed (`disabled` in `@Cron`). */
  paused?: boolean;
  /** Wake-ups from elsewhere than the timer queue. */
  waker?: Waker;
  /** The first tick counts from this many ms after the job is armed (`initialDelay` in `@Cron`). */
  startDelayMs?: number;
  /** Kept in the store: its ticks count from its creation there, so none is lost to a restart. */
  persisted?: boolean;
  /** With a shared store: count ticks from now, not from the stored watermark (a job replaced by a new definition). */
  fresh?: boolean;
  /** Data of the layer above (kind of decorator, target), returned untouched in {@link JobInfo}. */
  meta?: Readonly<Record<string, unknown>>;
}

/** How a run ended. */
export type RunOutcome = 'succeeded' | 'failed' | 'timed-out';

/** One finished run, as kept in a job's history. */
export interface RunRecord {
  scheduledAt: Date;
  startedAt: Date;
  durationMs: number;
  attempt: number;
  outcome: RunOutcome;
  /** The error's message, when the run failed. */
  error?: string;
}

/** A snapshot of a job, as plain data. */
export interface JobInfo {
  name: string;
  kind: TriggerKind;
  /** The trigger as text, e.g. `cron "0 * * * *" (UTC)`. */
  trigger: string;
  options: ResolvedJobOptions;
  /** The next tick, or `null` when paused, completed or not started. */
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastOutcome: RunOutcome | null;
  /** Runs in flight now. */
  running: number;
  /** Runs started so far (retries not counted). */
  runs: number;
  paused: boolean;
  completed: boolean;
  /** The last runs, oldest first. */
  history: RunRecord[];
  meta: Readonly<Record<string, unknown>>;
}

/** A run waiting for its turn: `overlap: 'queue'`, a retry held back, or missed ticks caught up. */
export interface PendingRun {
  scheduledAt: number;
  attempt: number;
  /** Called when the run settles, or at once if it is skipped. */
  onDone?: () => void;
  /** With a shared store: the token of the lease this run holds. */
  fencingToken?: number;
}

/** How many finished runs each job keeps. */
export const HISTORY_SIZE = 10;

const EMPTY_META: Readonly<Record<string, unknown>> = Object.freeze({});

/** A job's definition and state, owned by the {@link Scheduler}. It is its own timer-queue entry. */
export class Job implements QueueEntry {
  at = 0;
  index = -1;
  seq = 0;
  ref: boolean;
  /** Where an interval counts from. */
  anchor = NaN;
  /** Delay before the first tick counts, used once. */
  startDelayMs = 0;
  /** Kept in the store (see {@link JobDefinition.persisted}). */
  persisted = false;
  /** The tick the job waits for; `null` when not armed or exhausted. */
  nextTick: number | null = null;
  running = 0;
  /** Retries waiting for their time, as timer-queue entries, with the fencing token of the lease they hold. */
  retries: Map<QueueEntry, number | undefined> | null = null;
  backlog: PendingRun[] | null = null;
  /** Called once no run is in flight (see `Scheduler.whenIdle`). */
  idleWaiters: Array<() => void> | null = null;
  runs = 0;
  /** Ticks skipped in a row by the overlap policy. */
  skipped = 0;
  completed = false;
  removed = false;
  lastRunAt: number | null = null;
  lastOutcome: RunOutcome | null = null;
  private history: RunRecord[] | null = null;
  readonly meta: Readonly<Record<string, unknown>>;

  constructor(
    readonly name: string,
    public trigger: Trigger,
    readonly handler: JobHandler,
    public options: ResolvedJobOptions,
    public paused: boolean,
    readonly waker: Waker | undefined,
    meta: Readonly<Record<string, unknown>> | undefined,
  ) {
    this.ref = !options.unref;
    this.meta = meta ?? EMPTY_META;
  }

  /** Whether a run is going or a retry is waiting: what `overlap` looks at. */
  get busy(): boolean {
    return this.running > 0 || (this.retries?.size ?? 0) > 0;
  }

  record(run: RunRecord): void {
    this.lastOutcome = run.outcome;
    const history = (this.history ??= []);
    if (history.length === HISTORY_SIZE) history.shift();
    history.push(run);
  }

  info(): JobInfo {
    return {
      name: this.name,
      kind: this.trigger.kind,
      trigger: this.trigger.toString(),
      options: this.options,
      nextRunAt: this.nextTick === null || this.paused || this.completed ? null : new Date(this.nextTick),
      lastRunAt: this.lastRunAt === null ? null : new Date(this.lastRunAt),
      lastOutcome: this.lastOutcome,
      running: this.running,
      runs: this.runs,
      paused: this.paused,
      completed: this.completed,
      history: this.history ? [...this.history] : [],
      meta: this.meta,
    };
  }
}
