import { CronJob } from '../compat/cron-job';
import { adoptCronPackageJob, CronPackageJob, isCronPackageJob } from '../compat/cron-package';
import { CronTime } from '../compat/cron-time';
import { DUPLICATE_SCHEDULER, duplicateName, NameHolder, SchedulerKind } from '../compat/messages';
import { TimerDriver } from '../compat/timer-driver';
import { DecoratedJob } from '../discovery/decorated-job';
import { assertJobName } from '../engine/job-name';
import { Scheduler } from '../engine/scheduler';
import { DuplicateJobError, InvalidScheduleError, RescheduleRefusedError } from '../errors';
import { JobStore } from '../stores/job-store';

/** The two kinds of Node timer `@nestjs/schedule` hands out by name. */
export type TimerKind = 'interval' | 'timeout';

/**
 * A name in the interval or timeout registry: a timer the user added, or a decorated job, which
 * rides the shared timer queue until someone asks for its Node timer (`driver`, made then).
 */
type TimerEntry = { driver: TimerDriver | null } | { handle: unknown };

const TIMER_KIND: Record<TimerKind, SchedulerKind> = { interval: 'Interval', timeout: 'Timeout' };

/**
 * The names `@nestjs/schedule`'s registry knows, and the handles it hands out: `CronJob`s,
 * intervals and timeouts. The only owner of these maps: discovery and the registry ask it.
 *
 * `CronJob` handles of decorated `@Cron`s are made on first use, and so are the Node timers of
 * decorated `@Interval`s and `@Timeout`s: a hundred thousand decorated jobs need no handles.
 */
export class ScheduleHandles {
  /** `CronJob` handles by name: those added with `addCronJob`, and those of decorated `@Cron`s asked for. */
  private readonly cronJobs = new Map<string, CronJob | CronPackageJob>();
  private readonly timers: Record<TimerKind, Map<string, TimerEntry>> = { interval: new Map(), timeout: new Map() };

  constructor(
    private readonly scheduler: Scheduler,
    /** Where jobs are kept: with a shared one, a job's trigger is not this instance's alone to change. */
    private readonly store: Pick<JobStore, 'shared'>,
  ) {}

  /**
   * Throws {@link RescheduleRefusedError} when giving `name` a new trigger here would not reach the
   * other instances: a cluster-wide job that each instance defines for itself (a decorator,
   * `addCronJob`, `addJob` without `persist`) while the store is shared. A persistent job is
   * rescheduled in the store instead; a job of `scope: 'instance'` is this instance's own.
   */
  assertReschedulable(name: string): void {
    if (this.store.shared && this.scheduler.status(name)?.scope === 'cluster') throw new RescheduleRefusedError(name);
  }

  /** A decorated `@Interval` or `@Timeout` is known by its name; its Node timer is made if someone asks for it. */
  addDecoratedTimer(kind: TimerKind, name: string): void {
    this.timers[kind].set(name, { driver: null });
  }

  /** Registers a timer the user made (`addInterval`, `addTimeout`). Throws `DuplicateJobError` with `@nestjs/schedule`'s message. */
  addTimer(kind: TimerKind, name: string, handle: unknown): void {
    assertJobName(name);
    if (this.timers[kind].has(name)) throw new DuplicateJobError(name, DUPLICATE_SCHEDULER(TIMER_KIND[kind], name));
    this.timers[kind].set(name, { handle });
  }

  hasTimer(kind: TimerKind, name: string): boolean {
    return this.timers[kind].has(name);
  }

  timerNames(kind: TimerKind): string[] {
    return [...this.timers[kind].keys()];
  }

  /**
   * The timer of that name, as `clearInterval`/`clearTimeout` accept it: the user's, or the Node
   * timer of a decorated job, which from now on wakes the job. `undefined` if there is none.
   */
  timer(kind: TimerKind, name: string): unknown {
    const entry = this.timers[kind].get(name);
    if (entry === undefined) return undefined;
    if ('handle' in entry) return entry.handle;
    if (!entry.driver && this.scheduler.has(name)) {
      entry.driver = new TimerDriver(this.scheduler);
      this.scheduler.attachWaker(name, entry.driver);
    }
    return entry.driver?.current ?? undefined;
  }

  /** Stops a timer and forgets it: clears the user's, removes a decorated job. Returns whether there was one. */
  deleteTimer(kind: TimerKind, name: string): boolean {
    const entry = this.timers[kind].get(name);
    if (!entry) return false;
    if ('handle' in entry) {
      clearTimeout(entry.handle as ReturnType<typeof setTimeout>);
      this.timers[kind].delete(name);
    } else {
      this.forget(name);
    }
    return true;
  }

  /**
   * Adds a cron job: this package's `CronJob` or one from the `cron` package, which then runs on
   * the application's scheduler. Throws `DuplicateJobError` (saying which kind holds a taken name)
   * or `InvalidScheduleError` for anything else.
   */
  addCronJob(name: string, job: CronJob<unknown> | CronPackageJob): void {
    assertJobName(name);
    if (this.hasCronJob(name)) throw new DuplicateJobError(name, DUPLICATE_SCHEDULER('Cron Job', name));
    if (this.scheduler.has(name)) throw new DuplicateJobError(name, duplicateName('Cron Job', name, this.holder(name)));
    const guard = (jobName: string) => this.assertReschedulable(jobName);
    if (job instanceof CronJob) job.attachTo(this.scheduler, name, guard);
    else if (isCronPackageJob(job)) adoptCronPackageJob(job, this.scheduler, name, guard);
    else throw new InvalidScheduleError(name, 'job', job, "is not a CronJob (from this package or from 'cron').");
    this.cronJobs.set(name, job);
  }

  /** The `CronJob` of a cron job by name, made on first use for a decorated `@Cron`. */
  cronJob(name: string): CronJob | CronPackageJob | undefined {
    const known = this.cronJobs.get(name);
    if (known) return known;
    const status = this.scheduler.status(name);
    const schedule = DecoratedJob.cronOf(status?.source);
    if (!status || !schedule) return undefined;
    const { timeZone, utcOffset, waitForCompletion, threshold, unrefTimeout } = schedule.options;
    const source = status.trigger.at !== null ? new Date(status.trigger.at) : (schedule.cronTime as string);
    const handle = CronJob.attached(
      this.scheduler,
      name,
      {
        trigger: status.trigger,
        cronTime: new CronTime(source, timeZone, utcOffset),
        waitForCompletion: Boolean(waitForCompletion),
        threshold,
        unrefTimeout,
      },
      (job) => this.assertReschedulable(job),
    );
    this.cronJobs.set(name, handle);
    return handle;
  }

  /** The `CronJob` handle of a job if one was made, without making one. */
  existingCronJob(name: string): CronJob | CronPackageJob | undefined {
    return this.cronJobs.get(name);
  }

  /** Names of the cron jobs: decorated, then added with `addCronJob`. */
  cronJobNames(): string[] {
    const decorated = this.scheduler.names().filter((name) => DecoratedJob.cronOf(this.scheduler.status(name)?.source) !== undefined);
    return [...new Set([...decorated, ...this.cronJobs.keys()])];
  }

  /** Whether a cron job of that name is registered. */
  hasCronJob(name: string): boolean {
    return this.cronJobs.has(name) || (this.scheduler.has(name) && DecoratedJob.cronOf(this.scheduler.status(name)?.source) !== undefined);
  }

  /** What holds a name, for messages about a name that is taken; `undefined` if it is free. */
  holder(name: string): NameHolder | undefined {
    const known = this.scheduler.has(name);
    if (!known && !this.cronJobs.has(name) && !this.timers.interval.has(name) && !this.timers.timeout.has(name)) return undefined;
    const target = known ? this.scheduler.status(name)?.meta.target : undefined;
    const label = typeof target === 'string' ? target : undefined;
    if (this.hasCronJob(name)) return { kind: 'Cron Job', label };
    if (this.timers.interval.has(name)) return { kind: 'Interval', label };
    if (this.timers.timeout.has(name)) return { kind: 'Timeout', label };
    return { kind: 'Job', label };
  }

  /** Removes the engine job `name` and every registry name that points at it. */
  forget(name: string): void {
    if (this.scheduler.has(name)) this.scheduler.remove(name);
    this.cronJobs.delete(name);
    for (const entries of Object.values(this.timers)) {
      const entry = entries.get(name);
      if (entry && 'driver' in entry) entries.delete(name);
    }
  }

  /** When the application closes: clears the user's timers and forgets every handle. */
  clear(): void {
    for (const entries of Object.values(this.timers)) {
      for (const entry of entries.values()) if ('handle' in entry) clearTimeout(entry.handle as ReturnType<typeof setTimeout>);
      entries.clear();
    }
    this.cronJobs.clear();
  }
}
