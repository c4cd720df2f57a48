import { Trigger, TriggerKind } from '../triggers/trigger';
import { JobContext } from './job-context';
import { JobOptions, ResolvedJobOptions } from './job-options';
import { QueueEntry } from './timer-queue';

/**
 * The code a job runs. It receives the run's context, and what the layer above made the job from
 * ({@link JobDefinition.source}): one handler may serve many jobs. It may return a promise.
 */
export type JobHandler = (context: JobContext, source: object | undefined) => unknown;

/**
 * Supplies a job's wake-ups. By default the scheduler's timer queue does (`QueueWaker`); a waker
 * of its own lets a job be driven by another timer (see `compat/timer-driver.ts`). The scheduler
 * calls `schedule` with each next wake-up, `pause` when the job is paused and `cancel` when it
 * leaves; the waker calls `Scheduler.wake` (or the queue wakes the scheduler).
 */
export interface Waker {
  /** Wakes the job for a tick due at `at`; `lead` ms ahead of it if the waker can. */
  schedule(job: Job, at: number, lead: number): void;
  cancel(job: Job): void;
  /** The job is paused: its wake-ups may stop (they are ignored while it is). */
  pause(job: Job): void;
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
  /**
   * What the layer above made the job from (a decorator's metadata), for that layer; not shown. It
   * may describe the job in place of `meta` (see {@link DescribingSource}).
   */
  source?: object;
}

/**
 * A job's source that says what {@link JobInfo.meta} shows, when the definition gives no `meta`:
 * the many jobs made from one kind of source do without an object of their own for it.
 */
export interface DescribingSource {
  describe(): Readonly<Record<string, unknown>>;
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

/** What the layers above read of a job besides {@link JobInfo}: a snapshot, cheap to take. */
export interface JobStatus {
  readonly trigger: Trigger;
  readonly scope: ResolvedJobOptions['scope'];
  readonly paused: boolean;
  /** Paused because the store says so (cluster-wide), not by a call on this instance alone. */
  readonly pausedByStore: boolean;
  readonly completed: boolean;
  /** Runs in flight now. */
  readonly running: number;
  /** When the job last had a tick: a run started, or a tick was skipped because a run was still going. */
  readonly lastTickAt: number | null;
  /** What the layer above made the job from ({@link JobDefinition.source}). */
  readonly source: object | undefined;
  readonly meta: Readonly<Record<string, unknown>>;
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

const OUTCOMES: readonly RunOutcome[] = ['succeeded', 'failed', 'timed-out'];
/** Numbers kept per run: scheduledAt, startedAt, durationMs, attempt, outcome. */
const FIELDS = 5;

/** What a job has done, made on its first run or skip: jobs that have not run yet do without it. */
class JobStats {
  /** Ticks skipped in a row by the overlap policy. */
  skipped = 0;
  lastRunAt: number | null = null;
  /** See {@link Job.lastTickAt}. */
  lastTickAt: number | null = null;
  lastOutcome: RunOutcome | null = null;
  /**
   * The last runs, a ring of {@link HISTORY_SIZE} as plain numbers: recording a run allocates
   * nothing, and the collector has nothing to trace in it.
   */
  private ring: Float64Array | null = null;
  /** Error messages of the failed runs in the ring, by slot; made on the first failure. */
  private errors: Array<string | undefined> | null = null;
  private count = 0;

  record(scheduledAt: number, startedAt: number, durationMs: number, attempt: number, outcome: RunOutcome, error: string | undefined): void {
    this.lastOutcome = outcome;
    const ring = (this.ring ??= new Float64Array(HISTORY_SIZE * FIELDS));
    const slot = this.count % HISTORY_SIZE;
    const at = slot * FIELDS;
    ring[at] = scheduledAt;
    ring[at + 1] = startedAt;
    ring[at + 2] = durationMs;
    ring[at + 3] = attempt;
    ring[at + 4] = OUTCOMES.indexOf(outcome);
    if (error !== undefined || this.errors) (this.errors ??= [])[slot] = error;
    this.count++;
  }

  /** The runs, oldest first. */
  records(): RunRecord[] {
    const records: RunRecord[] = [];
    const ring = this.ring;
    if (!ring) return records;
    for (let n = Math.max(0, this.count - HISTORY_SIZE); n < this.count; n++) {
      const slot = n % HISTORY_SIZE;
      const at = slot * FIELDS;
      const error = this.errors?.[slot];
      records.push({
        scheduledAt: new Date(ring[at]),
        startedAt: new Date(ring[at + 1]),
        durationMs: ring[at + 2],
        attempt: ring[at + 3],
        outcome: OUTCOMES[ring[at + 4]],
        ...(error === undefined ? {} : { error }),
      });
    }
    return records;
  }
}

/**
 * The state of a job that few jobs need — a start delay, a store, retries, held-back runs, callers
 * waiting for it to be idle — kept apart, so that the many jobs that never need it do without.
 */
class JobExtras {
  startDelayMs = 0;
  persisted = false;
  pausedByStore = false;
  nameHash = -1;
  holds: number[] | null = null;
  retries: Map<QueueEntry, PendingRun> | null = null;
  backlog: PendingRun[] | null = null;
  idleWaiters: Array<() => void> | null = null;
}

/**
 * A job's definition and state, owned by the {@link Scheduler}. It is its own timer-queue entry.
 * Kept small: an application may have a hundred thousand.
 */
export class Job implements QueueEntry {
  at = 0;
  index = -1;
  seq = 0;
  /** Where an interval counts from. */
  anchor = NaN;
  /** The tick the job waits for; `null` when not armed or exhausted. */
  nextTick: number | null = null;
  /** When that tick is due (the tick, or later with jitter); the job is woken a little ahead. */
  dueAt = 0;
  /** A tick prepared ahead whose run has not started yet. */
  planned: number | null = null;
  running = 0;
  /** What few jobs need (see {@link JobExtras}), made on first use. */
  private extras: JobExtras | null = null;
  runs = 0;
  completed = false;
  removed = false;
  private stats: JobStats | null = null;
  private readonly givenMeta: Readonly<Record<string, unknown>> | null;

  readonly name: string;

  constructor(
    name: string,
    public trigger: Trigger,
    readonly handler: JobHandler,
    public options: ResolvedJobOptions,
    public paused: boolean,
    public waker: Waker,
    meta: Readonly<Record<string, unknown>> | undefined,
    /** See {@link JobDefinition.source}. */
    readonly source: object | undefined,
  ) {
    this.name = internalize(name);
    this.givenMeta = meta ?? null;
  }

  /** The definition's `meta`, or what the job's source says of it (see {@link DescribingSource}). */
  get meta(): Readonly<Record<string, unknown>> {
    if (this.givenMeta) return this.givenMeta;
    const source = this.source as Partial<DescribingSource> | undefined;
    return typeof source?.describe === 'function' ? source.describe() : EMPTY_META;
  }

  /** Delay before the first tick counts, used once. */
  get startDelayMs(): number {
    return this.extras?.startDelayMs ?? 0;
  }
  set startDelayMs(value: number) {
    if (value !== 0 || this.extras) this.extra().startDelayMs = value;
  }

  /** Paused because the store says so (see {@link JobStatus.pausedByStore}). */
  get pausedByStore(): boolean {
    return this.extras?.pausedByStore ?? false;
  }
  set pausedByStore(value: boolean) {
    if (value || this.extras) this.extra().pausedByStore = value;
  }

  /** Kept in the store (see {@link JobDefinition.persisted}). */
  get persisted(): boolean {
    return this.extras?.persisted ?? false;
  }
  set persisted(value: boolean) {
    if (value || this.extras) this.extra().persisted = value;
  }

  /** A hash of the name, for spreading the job's ticks over the instances of a cluster; -1 until needed. */
  get nameHash(): number {
    return this.extras?.nameHash ?? -1;
  }
  set nameHash(value: number) {
    this.extra().nameHash = value;
  }

  /** In a cluster, the leases this instance holds for the job (see `ClusterCoordinator.hold`). */
  get holds(): number[] | null {
    return this.extras?.holds ?? null;
  }
  set holds(value: number[] | null) {
    if (value || this.extras) this.extra().holds = value;
  }

  /** Retries waiting for their time, as timer-queue entries, with the fencing token of the lease they hold. */
  get retries(): Map<QueueEntry, PendingRun> | null {
    return this.extras?.retries ?? null;
  }
  set retries(value: Map<QueueEntry, PendingRun> | null) {
    if (value || this.extras) this.extra().retries = value;
  }

  /** Runs held back, waiting for their turn. */
  get backlog(): PendingRun[] | null {
    return this.extras?.backlog ?? null;
  }
  set backlog(value: PendingRun[] | null) {
    if (value || this.extras) this.extra().backlog = value;
  }

  /** Called once no run is in flight (see `Scheduler.whenIdle`). */
  get idleWaiters(): Array<() => void> | null {
    return this.extras?.idleWaiters ?? null;
  }
  set idleWaiters(value: Array<() => void> | null) {
    if (value || this.extras) this.extra().idleWaiters = value;
  }

  private extra(): JobExtras {
    return (this.extras ??= new JobExtras());
  }

  /** Whether the job's timers keep the process alive. */
  get ref(): boolean {
    return !this.options.unref;
  }

  /** Whether a run is going or a retry is waiting: what `overlap` looks at. */
  get busy(): boolean {
    return this.running > 0 || (this.retries?.size ?? 0) > 0;
  }

  get lastRunAt(): number | null {
    return this.stats?.lastRunAt ?? null;
  }

  /**
   * When the job last had a tick: a run started, or a tick was skipped by the overlap policy
   * because a run was still going (what `cron`'s `lastDate()` tells).
   */
  get lastTickAt(): number | null {
    return this.stats?.lastTickAt ?? null;
  }

  /** A run starts at `at`. */
  started(at: number): void {
    const stats = (this.stats ??= new JobStats());
    stats.skipped = 0;
    stats.lastRunAt = at;
    stats.lastTickAt = at;
  }

  /**
   * A tick is skipped; returns how many in a row. `tickAt` is when, for a tick that came and was
   * skipped by the overlap policy: it counts as the job's last tick.
   */
  countSkip(tickAt?: number): number {
    const stats = (this.stats ??= new JobStats());
    if (tickAt !== undefined) stats.lastTickAt = tickAt;
    return ++stats.skipped;
  }

  /** A run ended. `error` is the error's message, for a failed run. */
  record(scheduledAt: number, startedAt: number, durationMs: number, attempt: number, outcome: RunOutcome, error?: string): void {
    (this.stats ??= new JobStats()).record(scheduledAt, startedAt, durationMs, attempt, outcome, error);
  }

  status(): JobStatus {
    const { trigger, paused, pausedByStore, completed, running, lastTickAt, source, meta } = this;
    return { trigger, scope: this.options.scope, paused, pausedByStore, completed, running, lastTickAt, source, meta };
  }

  info(): JobInfo {
    const stats = this.stats;
    return {
      name: this.name,
      kind: this.trigger.kind,
      trigger: this.trigger.toString(),
      options: this.options,
      nextRunAt: this.planned !== null ? new Date(this.planned) : this.nextTick === null || this.paused || this.completed ? null : new Date(this.nextTick),
      lastRunAt: stats?.lastRunAt == null ? null : new Date(stats.lastRunAt),
      lastOutcome: stats?.lastOutcome ?? null,
      running: this.running,
      runs: this.runs,
      paused: this.paused,
      completed: this.completed,
      history: stats ? stats.records() : [],
      meta: this.meta,
    };
  }
}

/**
 * The engine's own copy of a name: a name built by concatenation (`Class.method`) is a tree of
 * pieces, hashed and compared piece by piece on every map lookup; a property key is one flat,
 * unique string, compared by identity.
 */
function internalize(name: string): string {
  return Object.keys({ [name]: true })[0];
}
