import { Injectable, Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import { CronJob } from '../compat/cron-job';
import { CronPackageJob } from '../compat/cron-package';
import { duplicateName, NO_SCHEDULER_FOUND, SchedulerKind } from '../compat/messages';
import { DuplicateJobError, errorMessage, InvalidScheduleError, JobNotFoundError, SchedulerNotRunningError } from '../errors';
import { JobHandler, JobInfo } from '../engine/job';
import { assertKnownJobOptionKeys } from '../engine/job-options';
import { assertJobName } from '../engine/job-name';
import { JobTargets } from '../discovery/job-targets';
import { InstanceInfo } from '../interfaces/instance-info.interface';
import { RunHistoryEntry } from '../interfaces/run-history.interface';
import { assertHistoryLimit, historyEntry, historyInStore, localHistory } from '../application/run-history';
import { HISTORY_SIZE } from '../engine/job';
import { clusterTiming } from '../engine/cluster-timing';
import { operatorRead } from '../engine/store-calls';
import { assertCloneableArgs, assertJsonArgs } from '../application/job-args';
import { AddJobDefinition } from '../interfaces/job-definition.interface';
import { SchedulerEvent } from '../events';
import { storedTrigger, TriggerDefinition, triggerFromDefinition } from '../triggers/trigger-factory';
import { AppScheduler } from '../application/app-scheduler';
import { TimerKind } from '../application/schedule-handles';

const TIMER_KIND: Record<TimerKind, SchedulerKind> = { interval: 'Interval', timeout: 'Timeout' };

/** The kinds `doesExist` takes, as in `@nestjs/schedule`. */
export type SchedulerType = 'cron' | 'interval' | 'timeout';

/**
 * Manages jobs at run time. Every method of `@nestjs/schedule`'s `SchedulerRegistry`, with the same
 * names, return shapes and messages, and the richer job control of this package.
 *
 * ```ts
 * constructor(private readonly registry: SchedulerRegistry) {}
 *
 * stopNotifications() {
 *   this.registry.getCronJob('notifications').stop();
 * }
 * ```
 * @publicApi
 */
@Injectable()
export class SchedulerRegistry {
  /** Every event of the scheduler: job added, run started, failed, missed… */
  readonly events$: Observable<SchedulerEvent>;
  private readonly logger = new Logger('Scheduler');

  constructor(
    private readonly app: AppScheduler,
    private readonly targets: JobTargets,
  ) {
    this.events$ = new Observable<SchedulerEvent>((subscriber) => app.scheduler.on((event) => subscriber.next(event)));
  }

  /** Whether a cron job, interval or timeout of that name is registered. */
  doesExist(type: SchedulerType, name: string): boolean {
    switch (type) {
      case 'cron':
        return this.app.handles.hasCronJob(name);
      case 'interval':
        return this.app.handles.hasTimer('interval', name);
      case 'timeout':
        return this.app.handles.hasTimer('timeout', name);
      default:
        return false;
    }
  }

  /** The cron job of that name: a decorated `@Cron`, or one added with {@link addCronJob}. */
  getCronJob(name: string): CronJob {
    const job = this.app.handles.cronJob(name);
    if (!job) throw new JobNotFoundError(name, NO_SCHEDULER_FOUND('Cron Job', name));
    return job as CronJob;
  }

  /** The timer of an interval: for a decorated `@Interval`, a handle that `clearInterval` stops. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @nestjs/schedule's signature
  getInterval<T = any>(name: string): T {
    return this.timer('interval', name) as T;
  }

  /** The timer of a timeout: for a decorated `@Timeout`, a handle that `clearTimeout` stops. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @nestjs/schedule's signature
  getTimeout<T = any>(name: string): T {
    return this.timer('timeout', name) as T;
  }

  /**
   * Adds a cron job: this package's `CronJob` or one from the `cron` package. It then runs on the
   * application's scheduler (graceful shutdown, events) and is started with `job.start()`.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @nestjs/schedule's signature
  addCronJob(name: string, job: CronJob<any> | CronPackageJob): void {
    this.app.handles.addCronJob(name, job);
  }

  /** Registers an interval you started yourself (`setInterval`), so it can be found and deleted by name. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @nestjs/schedule's signature
  addInterval<T = any>(name: string, intervalId: T): void {
    this.app.handles.addTimer('interval', name, intervalId);
  }

  /** Registers a timeout you started yourself (`setTimeout`), so it can be found and deleted by name. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @nestjs/schedule's signature
  addTimeout<T = any>(name: string, timeoutId: T): void {
    this.app.handles.addTimer('timeout', name, timeoutId);
  }

  /** Every cron job by name. */
  getCronJobs(): Map<string, CronJob> {
    const { handles } = this.app;
    return new Map(handles.cronJobNames().map((name) => [name, handles.cronJob(name) as CronJob]));
  }

  /** Stops a cron job and removes it. */
  deleteCronJob(name: string): void {
    const job = this.getCronJob(name);
    void job.stop();
    this.app.handles.forget(name);
  }

  /** Names of every interval. */
  getIntervals(): string[] {
    return this.app.handles.timerNames('interval');
  }

  /** Stops an interval and removes it. */
  deleteInterval(name: string): void {
    this.deleteTimer('interval', name);
  }

  /** Names of every timeout. */
  getTimeouts(): string[] {
    return this.app.handles.timerNames('timeout');
  }

  /** Stops a timeout and removes it. */
  deleteTimeout(name: string): void {
    this.deleteTimer('timeout', name);
  }

  /**
   * Adds a job at run time: a trigger (`{ cron }`, `{ every }` or `{ at }`), exactly one of a
   * provider method (`target`), a function (`handler`) or a worker module (`worker`), and any job
   * options. Rejects with `InvalidScheduleError` (naming the field), `JobTargetNotAllowedError` or
   * `DuplicateJobError`; nothing is added then.
   */
  async addJob(definition: AddJobDefinition): Promise<JobInfo> {
    const { name, trigger, target, handler, worker, args = [], paused, persist, ...options } = definition;
    const { scheduler } = this.app;
    if (scheduler.state === 'stopping' || scheduler.state === 'stopped') throw new SchedulerNotRunningError('add a job', scheduler.state);
    assertJobName(name);
    if (scheduler.has(name)) throw new DuplicateJobError(name, duplicateName('Job', name, this.app.handles.holder(name)));
    assertKnownJobOptionKeys(name, options);
    if (persist) {
      await this.app.persistent.save(this.app.persistent.toStored(definition), Boolean(paused));
      return scheduler.info(name);
    }
    const built = triggerFromDefinition(name, trigger, this.app.scheduler.clock.now());
    const given = [target, handler, worker].filter((value) => value !== undefined);
    if (given.length !== 1) {
      throw new InvalidScheduleError(name, 'target', given.length, 'targets were given: give exactly one of target, handler or worker.');
    }
    let run: JobHandler;
    let description: string;
    if (target !== undefined) {
      assertJsonArgs(name, args);
      const resolved = this.targets.resolve(name, target);
      // Each run gets its own copy: neither the caller nor a run can change what the next run gets.
      const json = JSON.stringify(args);
      run = (context) => resolved.invoke(context, JSON.parse(json));
      description = resolved.description;
    } else if (handler !== undefined) {
      if (typeof handler !== 'function') throw new InvalidScheduleError(name, 'handler', handler, 'must be a function.');
      run = (context) => handler(context, ...args);
      description = 'handler';
    } else {
      assertCloneableArgs(name, args);
      const copy = structuredClone(args);
      const { module, exportName } = await this.app.workers.resolve(name, worker!);
      const pool = this.app.workers.workers;
      run = (context) => pool.run(module, exportName, copy, context);
      description = `worker ${module}#${exportName}`;
    }
    return scheduler.add({ name, trigger: built, handler: run, options, paused, meta: { kind: 'dynamic', target: description } });
  }

  /**
   * Gives a job of any kind a new trigger (`{ cron }`, `{ every }` or `{ at }`); an interval counts
   * from now. A persistent job is changed in the store, for every instance. With a shared store,
   * any other cluster-wide job is refused with `RescheduleRefusedError`: each instance defines it
   * for itself, and the others would keep the old trigger.
   */
  rescheduleJob(name: string, trigger: TriggerDefinition): Promise<JobInfo> {
    const { scheduler, persistent } = this.app;
    if (!scheduler.has(name)) throw new JobNotFoundError(name);
    const stored = persistent.stored(name);
    if (!stored) this.app.handles.assertReschedulable(name);
    const built = triggerFromDefinition(name, trigger, scheduler.clock.now());
    if (!stored) {
      scheduler.reschedule(name, built);
      return Promise.resolve(scheduler.info(name));
    }
    return this.settle(persistent.save({ ...stored, trigger: storedTrigger(name, trigger) }, scheduler.info(name).paused).then(() => scheduler.info(name)));
  }

  /** A snapshot of one job (any kind): trigger, options, next and last run, recent history. */
  getJob(name: string): JobInfo {
    return this.app.scheduler.info(name);
  }

  /** Snapshots of every job. */
  listJobs(): JobInfo[] {
    return this.app.scheduler.list();
  }

  /**
   * Pauses a job: its ticks stop running until {@link resumeJob}. With a shared store, a
   * cluster-wide job is paused on every instance (and stays paused across restarts); if that
   * cannot be written to the store, the pause is undone here too and the promise rejects.
   */
  pauseJob(name: string): Promise<void> {
    return this.setPaused(name, true);
  }

  /**
   * Resumes a paused job; ticks that fell in the pause go through its misfire policy. With a
   * shared store, a cluster-wide job is resumed on every instance once the store has it, or, if
   * that cannot be written, on none: it stays paused here too and the promise rejects.
   */
  resumeJob(name: string): Promise<void> {
    return this.setPaused(name, false);
  }

  /**
   * The live instances of the application: with a shared store, those that checked in lately
   * (every `cluster.checkInMs`; one silent for three check-ins is dead and not listed), each with
   * its host, pid, start, last check-in and the runs it has in flight; without one, this instance.
   * Rejects with a `StoreUnavailableError` when the store cannot be asked.
   */
  instances(): Promise<InstanceInfo[]> {
    return this.app.scheduler.instances().then((records) =>
      records.map(({ id, host, pid, startedAt, checkedInAt, running, runningJobs }) => ({
        id,
        host,
        pid,
        startedAt: new Date(startedAt),
        lastCheckIn: new Date(checkedInAt),
        running,
        runningJobs,
      })),
    );
  }

  /**
   * The last runs of a job, newest first: who ran it (instance id), when it was due and started,
   * how long it took, its attempt, outcome and error. With a shared store that keeps a run history
   * (`historySize` above 0, the default), a cluster-wide job's runs are read from the store, made
   * by every instance: at most the store's `historySize`, the default. Otherwise, and for a job with
   * `scope: 'instance'`, this instance's own (`JobInfo.history`): at most 10.
   *
   * Rejects with `JobNotFoundError` when no job has that name, `InvalidScheduleError` for a
   * `limit` that is not a whole number from 1, and the store's `StoreUnavailableError` when it
   * cannot be asked.
   */
  async runHistory(name: string, limit?: number): Promise<RunHistoryEntry[]> {
    const { scheduler, store, options } = this.app;
    const job = scheduler.status(name);
    if (!job) throw new JobNotFoundError(name);
    assertHistoryLimit(name, limit);
    if (!historyInStore(store, job)) return localHistory(scheduler.info(name), options.instanceId, Math.min(limit ?? HISTORY_SIZE, HISTORY_SIZE));
    const size = store.historySize!;
    const runs = await operatorRead(store, () => store.runHistory!(name, Math.min(limit ?? size, size)), clusterTiming(options.cluster).timeoutMs);
    return runs.map(historyEntry);
  }

  /** Runs a job now, under its overlap policy; resolves when that run settles. */
  triggerJob(name: string): Promise<void> {
    return this.app.scheduler.trigger(name);
  }

  /** Removes a job of any kind; runs in flight finish. A persistent job leaves the store, for every instance. */
  removeJob(name: string): Promise<void> {
    const { scheduler, persistent, store, options } = this.app;
    if (!scheduler.has(name)) throw new JobNotFoundError(name);
    const stored = persistent.stored(name);
    this.app.handles.forget(name);
    return stored ? this.settle(store.remove(name, options.instanceId)) : Promise.resolve();
  }

  /** Pauses the whole scheduler; ticks that fall in the pause go through each job's misfire policy on {@link resume}. */
  pause(): void {
    this.app.scheduler.pauseAll();
  }

  /** Resumes the scheduler after {@link pause}. */
  resume(): void {
    this.app.scheduler.resumeAll();
  }

  /**
   * Pauses or resumes a job, and, for a cluster-wide one, writes the flag to the store, where every
   * instance reads it. A pause takes effect here at once, and is undone if the write fails; a
   * resume takes effect here once written (a tick claimed before would be refused as paused). So
   * a failed write leaves this instance as the others, and the promise rejects with the store's error.
   */
  private setPaused(name: string, paused: boolean): Promise<void> {
    const { scheduler, persistent, store, options } = this.app;
    const job = scheduler.status(name);
    if (!job || !(persistent.stored(name) || (store.shared && job.scope === 'cluster'))) {
      // Throws JobNotFoundError for a name that is not a job.
      if (paused) scheduler.pause(name);
      else scheduler.resume(name);
      return Promise.resolve();
    }
    // The same job still, not another added since under its name.
    const same = () => scheduler.status(name)?.source === job.source && scheduler.has(name);
    if (!paused) {
      const write = store.setPaused(name, false, options.instanceId).then(() => {
        if (same()) scheduler.resume(name);
      });
      return this.settle(write, 'The job stays paused.');
    }
    scheduler.pause(name);
    const write = store.setPaused(name, true, options.instanceId).catch((error: unknown) => {
      // Undone unless it was paused before, or something changed it since.
      if (!job.paused && same() && scheduler.status(name)!.paused) scheduler.resume(name);
      throw error;
    });
    return this.settle(write, 'The pause was undone here.');
  }

  /**
   * A store write behind a control call. If the store cannot be reached the returned promise
   * rejects, and the failure is logged even when nobody awaits it (with `outcome`, what became of
   * the change here), so a call made and forgotten during an outage cannot bring the application down.
   */
  private settle<T>(write: Promise<T>, outcome?: string): Promise<T> {
    write.catch((error: unknown) => this.logger.warn(`A change could not be written to the job store: ${errorMessage(error)}${outcome ? ` ${outcome}` : ''}`));
    return write;
  }

  private timer(kind: TimerKind, name: string): unknown {
    const handle = this.app.handles.timer(kind, name);
    if (handle === undefined || handle === null) throw new JobNotFoundError(name, NO_SCHEDULER_FOUND(TIMER_KIND[kind], name));
    return handle;
  }

  private deleteTimer(kind: TimerKind, name: string): void {
    if (!this.app.handles.deleteTimer(kind, name)) throw new JobNotFoundError(name, NO_SCHEDULER_FOUND(TIMER_KIND[kind], name));
  }
}
