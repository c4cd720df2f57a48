import { DateTime } from 'luxon';
import { InvalidScheduleError } from '../errors';
import { JobOptions } from '../engine/job-options';
import { Scheduler } from '../engine/scheduler';
import { DECORATOR_FIELDS } from '../triggers/field-names';
import { Trigger } from '../triggers/trigger';
import { assertOneZone } from '../triggers/zone-options';
import { assertDateAhead, CronTime, CronTimeLike, CronTimeSource, nextDates, triggerOfCronTime } from './cron-time';
import { logEvents } from '../engine/log-events';
import { isJobName } from '../engine/job-name';
import { isPromiseLike } from '../engine/runner';

/** Called when a job is stopped; passed to `onTick` as its argument, as in `cron`. */
export type CronOnComplete = () => void | Promise<void>;
/** The function a `CronJob` runs on each tick. `this` is the job's `context`. */
export type CronCallback<C> = (this: C, onComplete?: CronOnComplete) => void | Promise<void>;

/** The parameters of `CronJob.from`, as in the `cron` package. */
export interface CronJobParams<C = null> {
  cronTime: CronTimeSource;
  onTick: CronCallback<C extends null ? CronJob<C> : C>;
  onComplete?: CronOnComplete | null;
  start?: boolean | null;
  context?: C;
  runOnInit?: boolean | null;
  unrefTimeout?: boolean | null;
  waitForCompletion?: boolean | null;
  errorHandler?: ((error: unknown) => void) | null;
  threshold?: number | null;
  name?: string | null;
  timeZone?: string | null;
  utcOffset?: number | null;
}

interface Binding {
  scheduler: Scheduler;
  job: string;
  /** On the process-wide scheduler of jobs not added to a registry: there only while started. */
  standalone: boolean;
  /** Throws if the job's trigger may not be changed here (a cluster-wide job, with a shared store). */
  guard?: RescheduleGuard;
}

/** Throws if the named job may not be given a new trigger on this instance. @internal */
export type RescheduleGuard = (job: string) => void;

let standalone: Scheduler | undefined;
let standaloneIds = 0;

/**
 * The scheduler of `CronJob`s not (yet) added to a `SchedulerRegistry`, started on first use.
 * A job is on it only while started or running, so stopped jobs can be garbage-collected.
 */
function standaloneScheduler(): Scheduler {
  if (!standalone) {
    const scheduler = (standalone = new Scheduler());
    logEvents(scheduler, { error: console.error, warn: console.warn });
    scheduler.on((event) => event.type === 'job.completed' && releaseWhenIdle(scheduler, event.job), ['job.completed']);
    scheduler.start();
  }
  return standalone;
}

/** Removes a stopped or completed standalone job once its runs in flight are over. */
function releaseWhenIdle(scheduler: Scheduler, name: string): void {
  const source = scheduler.status(name)?.source;
  if (!source) return;
  void scheduler.whenIdle(name).then(() => {
    const current = scheduler.status(name);
    if (current?.source === source && (current.paused || current.completed) && current.running === 0) (source as CronJob<unknown>).detach();
  });
}

/**
 * The `cron` package's `CronJob`, same constructor, `CronJob.from()` and methods, running on this
 * package's scheduler. On its own it fires like `cron`'s; added with
 * `SchedulerRegistry.addCronJob(name, job)` it moves to the application's scheduler and shares its
 * lifecycle: graceful shutdown, events, logging.
 *
 * Differences from `cron`: `onTick` must be a function (no shell commands), and time zones follow
 * the daylight-saving rules in the README (a time that happens twice fires once).
 * @publicApi
 */
export class CronJob<C = null> {
  cronTime!: CronTime;
  context!: C extends null ? CronJob<C> : C;
  onComplete?: CronOnComplete;
  waitForCompletion = false;
  threshold = 250;
  unrefTimeout = false;
  name?: string;
  errorHandler?: (error: unknown) => void;
  /** Whether the job fires once, at a date. */
  runOnce = false;
  /** When the job last fired, or `null`. */
  lastExecution: Date | null = null;
  private callbacks: Array<CronCallback<unknown>> = [];
  private binding!: Binding;
  private trigger!: Trigger;

  constructor(
    cronTime: CronTimeSource,
    onTick: CronCallback<C extends null ? CronJob<C> : C>,
    onComplete?: CronOnComplete | null,
    start?: boolean | null,
    timeZone?: string | null,
    context?: C,
    runOnInit?: boolean | null,
    utcOffset?: number | null,
    unrefTimeout?: boolean | null,
    waitForCompletion?: boolean | null,
    errorHandler?: ((error: unknown) => void) | null,
    name?: string | null,
    threshold?: number | null,
  ) {
    const label = name ?? 'CronJob';
    if (typeof onTick !== 'function') {
      throw new InvalidScheduleError(label, 'onTick', onTick, 'must be a function.');
    }
    // Its name on the process-wide scheduler: `cron` takes any name, a job name has rules.
    const id = ++standaloneIds;
    const job = isJobName(`${label}#${id}`) ? `${label}#${id}` : `CronJob#${id}`;
    const time = { source: cronTime, timeZone, utcOffset };
    let trigger = triggerOfCronTime(label, time);
    // `H` fields are hashed by job name; give each job its own, not the shared label.
    if (typeof cronTime === 'string' && cronTime.includes('H')) trigger = triggerOfCronTime(job, time);
    this.init({ trigger, cronTime: new CronTime(cronTime, timeZone, utcOffset), name, waitForCompletion, threshold, unrefTimeout });
    this.context = (context ?? this) as C extends null ? CronJob<C> : C;
    if (onComplete) this.onComplete = onComplete;
    if (errorHandler) this.errorHandler = errorHandler;
    this.callbacks.push(onTick as CronCallback<unknown>);
    this.binding = { scheduler: standaloneScheduler(), job, standalone: true };
    if (runOnInit) void this.fireOnTick();
    if (start) this.start();
  }

  /** Creates a job from named parameters. */
  static from<C = null>(params: CronJobParams<C>): CronJob<C> {
    assertOneZone(params.name ?? 'CronJob', params, DECORATOR_FIELDS);
    return new CronJob<C>(
      params.cronTime,
      params.onTick,
      params.onComplete,
      params.start,
      params.timeZone,
      params.context,
      params.runOnInit,
      params.utcOffset,
      params.unrefTimeout,
      params.waitForCompletion,
      params.errorHandler,
      params.name,
      params.threshold,
    );
  }

  /**
   * A handle on a job the scheduler already runs (a decorated `@Cron`), sharing its trigger.
   * @internal
   */
  static attached(
    scheduler: Scheduler,
    job: string,
    fields: { trigger: Trigger; cronTime: CronTime; waitForCompletion: boolean; threshold?: number; unrefTimeout?: boolean },
    guard?: RescheduleGuard,
  ): CronJob {
    const handle = Object.create(CronJob.prototype) as CronJob;
    Object.assign(handle, { waitForCompletion: false, threshold: 250, unrefTimeout: false, runOnce: false, lastExecution: null, callbacks: [] });
    handle.init({ ...fields, name: job });
    handle.context = handle;
    handle.binding = { scheduler, job, standalone: false, guard };
    return handle;
  }

  /** Whether the job is started: its ticks run. */
  get isActive(): boolean {
    const job = this.status();
    return job !== undefined && !job.paused && !job.completed;
  }

  /** Whether a run is in flight now. */
  get isCallbackRunning(): boolean {
    return (this.status()?.running ?? 0) > 0;
  }

  /** Starts the job; ticks missed while it was stopped are not caught up. Throws for a date already past. */
  start(): void {
    if (this.isActive) return;
    const { scheduler, job } = this.binding;
    assertDateAhead(this.name ?? job, this.trigger, scheduler.clock.now());
    this.ensureJob();
    if (this.status()!.completed) scheduler.reschedule(job, this.trigger);
    scheduler.resume(job, { skipMissed: true });
  }

  /**
   * Stops the job and calls `onComplete`. With `waitForCompletion`, returns a promise that resolves
   * once the run in flight finished.
   */
  stop(): Promise<void> | undefined {
    const { scheduler, job, standalone } = this.binding;
    if (scheduler.has(job)) {
      scheduler.pause(job);
      if (standalone) releaseWhenIdle(scheduler, job);
    }
    const complete = async () => {
      try {
        await this.onComplete?.call(this.context);
      } catch (error) {
        console.error('[Cron] error in onComplete callback:', error);
      }
    };
    if (!this.waitForCompletion) {
      void complete();
      return undefined;
    }
    return (scheduler.has(job) ? scheduler.whenIdle(job) : Promise.resolve()).then(complete);
  }

  /**
   * When the job last fired, or `null`. As in `cron`, with `waitForCompletion` a tick skipped
   * because a run was still going counts; a stopped job has no ticks.
   */
  lastDate(): Date | null {
    const at = this.status()?.lastTickAt;
    return at == null ? this.lastExecution : new Date(at);
  }

  /** The next fire time, in the job's zone. */
  nextDate(): DateTime {
    return this.nextDates(1)[0];
  }

  /** The next `count` fire times, in the job's zone. */
  nextDates(count = 0): DateTime[] {
    const { scheduler, job } = this.binding;
    // The scheduler's trigger, if the job was given another one with rescheduleJob().
    const trigger = this.status()?.trigger ?? this.trigger;
    return nextDates(this.name ?? job, trigger, this.cronTime.zoneName(), scheduler.clock.now(), count);
  }

  /** Runs the job now, whether started or not; resolves when the run settles. */
  fireOnTick(): Promise<void> {
    const { scheduler, job, standalone } = this.binding;
    this.ensureJob();
    const run = scheduler.trigger(job);
    if (standalone && !this.isActive) void run.then(() => releaseWhenIdle(scheduler, job));
    return run;
  }

  /**
   * Gives the job a new time, keeping it started or stopped. Takes this package's or `cron`'s
   * `CronTime`. With a shared store, a cluster-wide job in a registry is refused
   * (`RescheduleRefusedError`): the other instances would keep the old time.
   */
  setTime(time: CronTime | CronTimeLike): void {
    if (!isCronTime(time)) {
      throw new InvalidScheduleError(this.name ?? this.binding.job, 'time', time, 'must be an instance of CronTime.');
    }
    const { scheduler, job, guard } = this.binding;
    if (scheduler.has(job)) guard?.(job);
    const trigger = triggerOfCronTime(job, time);
    this.cronTime = time instanceof CronTime ? time : new CronTime(time.source as CronTimeSource, time.timeZone, time.utcOffset);
    this.trigger = trigger;
    this.runOnce = this.cronTime.realDate;
    if (scheduler.has(job)) scheduler.reschedule(job, trigger);
  }

  /** Adds a function to run on each tick, after the others. */
  addCallback(callback: CronCallback<C extends null ? CronJob<C> : C>): void {
    if (typeof callback === 'function') this.callbacks.push(callback as CronCallback<unknown>);
  }

  /**
   * Moves the job to another scheduler under `name`, keeping it started or stopped.
   * @internal
   */
  attachTo(scheduler: Scheduler, name: string, guard?: RescheduleGuard): void {
    const active = this.isActive;
    // Cron expressions with `H` are hashed by job name: the job gets the one it is known by now.
    const trigger = this.cronTime.realDate ? this.trigger : triggerOfCronTime(name, this.cronTime);
    scheduler.add({ ...this.definition(name, trigger), paused: !active });
    this.trigger = trigger;
    this.detach();
    this.binding = { scheduler, job: name, standalone: false, guard };
  }

  /**
   * Takes the job off its scheduler, keeping the time of its last tick in `lastExecution`.
   * @internal
   */
  detach(): void {
    const { scheduler, job } = this.binding;
    this.lastExecution = this.lastDate();
    if (scheduler.has(job)) scheduler.remove(job);
  }

  /**
   * For a decorated job's handle: runs the callbacks added with `addCallback` after the method
   * (after its promise, if it returns one).
   * @internal
   */
  afterTick(result: unknown): unknown {
    if (this.callbacks.length === 0) return result;
    return isPromiseLike(result) ? Promise.resolve(result).then(() => this.runCallbacks()) : this.runCallbacks();
  }

  private init(fields: {
    trigger: Trigger;
    cronTime: CronTime;
    name?: string | null;
    waitForCompletion?: boolean | null;
    threshold?: number | null;
    unrefTimeout?: boolean | null;
  }): void {
    this.trigger = fields.trigger;
    this.cronTime = fields.cronTime;
    this.runOnce = fields.cronTime.realDate;
    if (fields.name != null) this.name = fields.name;
    this.waitForCompletion = Boolean(fields.waitForCompletion);
    if (fields.threshold != null) this.threshold = Math.abs(fields.threshold);
    this.unrefTimeout = Boolean(fields.unrefTimeout);
  }

  /** Puts the job on its scheduler, stopped, if it is not there. */
  private ensureJob(): void {
    const { scheduler, job } = this.binding;
    if (!scheduler.has(job)) scheduler.add({ ...this.definition(job, this.trigger), paused: true });
  }

  private definition(name: string, trigger: Trigger) {
    const options: JobOptions = {
      overlap: this.waitForCompletion ? 'skip' : 'allow',
      misfire: { graceMs: this.threshold },
      unref: this.unrefTimeout,
    };
    return { name, trigger, handler: () => this.runCallbacks(), options, meta: { kind: 'cron' }, source: this };
  }

  private runCallbacks(): Promise<void> | undefined {
    this.lastExecution = new Date(this.binding.scheduler.clock.now());
    return this.callFrom(0);
  }

  /**
   * Calls the callbacks from `first` on, in order. As in `cron`, synchronous callbacks are called,
   * and their errors handled, before the timer callback returns; from the first callback that
   * returns a promise on, each waits for the one before. Returns that chain's promise, or
   * `undefined` when every callback was synchronous.
   */
  private callFrom(first: number): Promise<void> | undefined {
    const callbacks = this.callbacks;
    for (let i = first; i < callbacks.length; i++) {
      let result: unknown;
      try {
        result = callbacks[i].call(this.context, this.onComplete);
      } catch (error) {
        this.handleError(error);
        continue;
      }
      if (isPromiseLike(result)) {
        const next = () => this.callFrom(i + 1);
        return Promise.resolve(result).then(next, (error: unknown) => {
          this.handleError(error);
          return next();
        });
      }
    }
    return undefined;
  }

  /** Hands a callback's error to `errorHandler`; without one, the error fails the run. */
  private handleError(error: unknown): void {
    if (!this.errorHandler) throw error;
    this.errorHandler(error);
  }

  /** The scheduler's snapshot of the job, if it has it. */
  private status() {
    const { scheduler, job } = this.binding;
    return scheduler.status(job);
  }
}

function isCronTime(value: unknown): value is CronTime | CronTimeLike {
  return value instanceof CronTime || (typeof value === 'object' && value !== null && 'source' in value);
}
