import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { CronJob } from '../compat/cron-job';
import { CronPackageJob } from '../compat/cron-package';
import { CronTime } from '../compat/cron-time';
import { NameHolder } from '../compat/messages';
import { cronScheduleOf } from '../discovery/decorated-job';
import { TimerDriver } from '../compat/timer-driver';
import { errorMessage, InvalidScheduleError, WorkerTargetError } from '../errors';
import { logEvents } from '../engine/log-events';
import { assertMilliseconds, resolveJobOptions } from '../engine/job-options';
import { Scheduler } from '../engine/scheduler';
import { ScheduleModuleOptions } from '../interfaces/schedule-module-options.interface';
import { WorkerPool } from '../workers/worker-pool';
import { TimerHandle } from '../engine/clock';
import { JobTargets } from '../discovery/job-targets';
import { JobStore } from '../stores/job-store';
import { MemoryJobStore } from '../stores/memory.store';
import { WorkerTarget } from './job-definition';
import { PersistentJobs } from './persistent-jobs';

/**
 * A name in the interval or timeout registry: a timer the user added, or a decorated job, which
 * rides the shared timer queue until someone asks for its Node timer (`driver`, made then).
 */
export type TimerEntry = { driver: TimerDriver | null } | { handle: unknown };

/** The options of `cluster` in the module options. */
const CLUSTER_TIMING = ['leaseMs', 'syncEveryMs', 'claimAheadMs'];

/** The module options with defaults filled in. */
export interface ResolvedModuleOptions extends ScheduleModuleOptions {
  cronJobs: boolean;
  intervals: boolean;
  timeouts: boolean;
  instanceId: string;
}

/**
 * The state of one application's scheduling: the engine and the names `@nestjs/schedule`'s
 * registry knows (cron jobs, intervals, timeouts). One per application, however many times
 * `ScheduleModule.forRoot()` is imported, so that no job runs twice.
 *
 * It ties the engine to Nest's lifecycle: jobs start on `onApplicationBootstrap` (after every
 * `onModuleInit`, so connections are ready) and stop first thing on `onModuleDestroy`, waiting for
 * runs in flight while the rest of the application is still up. Both hooks are idempotent.
 */
export class SchedulerCore implements OnApplicationBootstrap, OnModuleDestroy {
  private static readonly byApplication = new WeakMap<object, SchedulerCore>();

  readonly scheduler: Scheduler;
  /**
   * `CronJob` handles by name: those added with `addCronJob`, and those of decorated `@Cron`s made
   * on first use (see {@link cronJob}): a hundred thousand decorated jobs need no handles.
   */
  readonly cronJobs = new Map<string, CronJob | CronPackageJob>();
  readonly intervals = new Map<string, TimerEntry>();
  readonly timeouts = new Map<string, TimerEntry>();
  /** Set once decorated methods were discovered, so a second module instance does not add them again. */
  discovered = false;
  /** Where jobs are kept: the store given, or one in memory. */
  readonly store: JobStore;
  readonly persistent: PersistentJobs;
  private pool: WorkerPool | undefined;
  private readonly logger = new Logger('Scheduler');
  /** The options as the first import gave them. */
  private given: ScheduleModuleOptions | undefined;
  private connected = false;
  private connecting: Promise<void> | null = null;
  private syncFailing = false;
  private unwatch: (() => Promise<void>) | null = null;
  private syncTimer: TimerHandle | undefined;
  private syncSoon: TimerHandle | undefined;

  private constructor(
    readonly options: ResolvedModuleOptions,
    targets: JobTargets,
  ) {
    assertMilliseconds('', 'shutdownTimeout', options.shutdownTimeout);
    if (options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers >= 1)) {
      throw new InvalidScheduleError('', 'workers', options.workers, 'must be a whole number, 1 or more.');
    }
    for (const [field, value] of Object.entries(options.cluster ?? {})) {
      if (!CLUSTER_TIMING.includes(field))
        throw new InvalidScheduleError('', `cluster.${field}`, value, `is not an option; expected one of ${CLUSTER_TIMING.join(', ')}.`);
      assertMilliseconds('', `cluster.${field}`, value, field === 'claimAheadMs' ? 0 : 1);
    }
    try {
      resolveJobOptions('', options.defaults);
    } catch (error) {
      if (!(error instanceof InvalidScheduleError)) throw error;
      throw new InvalidScheduleError('', `defaults.${error.field}`, error.value, error.reason);
    }
    this.store = options.store ?? new MemoryJobStore();
    this.scheduler = new Scheduler({
      clock: options.clock,
      shutdownTimeout: options.shutdownTimeout,
      defaults: options.defaults,
      store: this.store,
      instanceId: options.instanceId,
      cluster: options.cluster,
      onListenerError: (error) => this.logger.error(`An event listener failed: ${String(error)}`, error instanceof Error ? error.stack : undefined),
    });
    this.persistent = new PersistentJobs(this.scheduler, this.store, targets, options.instanceId);
    logEvents(this.scheduler, this.logger);
  }

  /**
   * The core of the application that `modules` (Nest's `ModulesContainer`) belongs to, made on
   * first call. When `forRoot()` is imported twice with different options, the first call wins.
   */
  static for(modules: object, options: ScheduleModuleOptions | undefined, targets: JobTargets): SchedulerCore {
    let core = SchedulerCore.byApplication.get(modules);
    if (core && core.given !== options && !sameOptions(core.given, options)) {
      core.logger.warn(
        'ScheduleModule is imported more than once with different options; only one set is used. Import ScheduleModule.forRoot() once, in the root module.',
      );
    }
    if (!core) {
      core = new SchedulerCore(
        {
          cronJobs: true,
          intervals: true,
          timeouts: true,
          instanceId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
          ...options,
        },
        targets,
      );
      core.given = options;
      SchedulerCore.byApplication.set(modules, core);
    }
    return core;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.scheduler.state !== 'idle') return;
    // Stored jobs are loaded before the scheduler starts; a store that cannot be reached now is
    // tried again at every sync, and meanwhile ticks are reported missed, not run unclaimed.
    await this.connect();
    this.scheduler.start();
    if (this.store.shared) {
      const every = this.options.cluster?.syncEveryMs ?? 5_000;
      this.syncTimer = this.scheduler.clock.setTimer(() => void this.connect(), every, { repeat: true, unref: true });
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.syncTimer !== undefined) this.scheduler.clock.clearTimer(this.syncTimer);
    if (this.syncSoon !== undefined) this.scheduler.clock.clearTimer(this.syncSoon);
    this.syncTimer = this.syncSoon = undefined;
    if (this.scheduler.state === 'running' || this.scheduler.state === 'stopping') await this.scheduler.shutdown();
    await this.pool?.close();
    this.pool = undefined;
    const unwatch = this.unwatch;
    this.unwatch = null;
    await unwatch?.().catch(() => undefined);
    if (this.connected || this.options.store) {
      this.connected = false;
      await this.store.close().catch((error: unknown) => this.logger.warn(`Closing the job store failed: ${String(error)}`));
    }
    for (const entries of [this.intervals, this.timeouts]) {
      for (const entry of entries.values()) if ('handle' in entry) clearTimeout(entry.handle as ReturnType<typeof setTimeout>);
      entries.clear();
    }
    this.cronJobs.clear();
  }

  /**
   * Connects to the store if it is not yet, watches it for changes made by the other instances,
   * and brings the stored jobs in line. Failures are logged, and tried again at the next sync.
   */
  private connect(): Promise<void> {
    // One at a time: a slow store must not pile up connections and listeners.
    return (this.connecting ??= this.connectOnce().finally(() => {
      this.connecting = null;
    }));
  }

  private async connectOnce(): Promise<void> {
    try {
      if (!this.connected) {
        await this.store.connect();
        this.connected = true;
        this.unwatch = await this.store.watch((change) => {
          if (change.origin !== this.options.instanceId) this.syncSoonAfter(50);
        });
      }
      await this.persistent.sync();
      if (this.syncFailing) this.logger.warn(`The job store (${this.store.kind}) can be read again; stored jobs are in line.`);
      this.syncFailing = false;
    } catch (error) {
      // Once per outage: the sync is tried again every few seconds.
      if (!this.syncFailing) {
        this.logger.error(`The job store (${this.store.kind}) cannot be read; stored jobs are brought in line once it can: ${errorMessage(error)}`);
      }
      this.syncFailing = true;
    }
  }

  /** Changes announced by other instances arrive in bursts: read the store once after them. */
  private syncSoonAfter(ms: number): void {
    if (this.syncSoon !== undefined) return;
    this.syncSoon = this.scheduler.clock.setTimer(
      () => {
        this.syncSoon = undefined;
        void this.connect();
      },
      ms,
      { unref: true },
    );
  }

  /** Worker threads alive now. */
  get workerThreads(): number {
    return this.pool?.threads ?? 0;
  }

  /** The pool of worker threads for off-thread jobs, started on first use. */
  workerPool(): WorkerPool {
    return (this.pool ??= new WorkerPool(this.options.workers));
  }

  /**
   * Resolves a worker module from the working directory and checks, in a worker thread, that it
   * exports the function. Throws `InvalidScheduleError` naming `worker.module` or `worker.export`.
   */
  async workerTarget(job: string, worker: WorkerTarget): Promise<{ module: string; exportName: string }> {
    if (typeof worker !== 'object' || worker === null || typeof worker.module !== 'string') {
      throw new InvalidScheduleError(job, 'worker', worker, 'must be { module, export? } with module a path or package name.');
    }
    const exportName = worker.export ?? 'default';
    let module: string;
    try {
      module = require.resolve(worker.module, { paths: [process.cwd()] });
    } catch {
      throw new InvalidScheduleError(job, 'worker.module', worker.module, `cannot be found from ${process.cwd()}.`);
    }
    try {
      await WorkerPool.check(module, exportName);
    } catch (error) {
      if (!(error instanceof WorkerTargetError)) throw error;
      const field = error.missing === 'export' ? 'worker.export' : 'worker.module';
      throw new InvalidScheduleError(job, field, field === 'worker.export' ? exportName : worker.module, `cannot be used: ${error.message}.`);
    }
    return { module, exportName };
  }

  /** The `CronJob` of a cron job by name, made on first use for a decorated `@Cron`. */
  cronJob(name: string): CronJob | CronPackageJob | undefined {
    const known = this.cronJobs.get(name);
    if (known) return known;
    const job = this.scheduler.job(name);
    const schedule = cronScheduleOf(job);
    if (!job || !schedule) return undefined;
    const { timeZone, utcOffset, waitForCompletion, threshold, unrefTimeout } = schedule.options;
    const source = job.trigger.at !== null ? new Date(job.trigger.at) : (schedule.cronTime as string);
    const handle = CronJob.attached(this.scheduler, name, {
      trigger: job.trigger,
      cronTime: new CronTime(source, timeZone, utcOffset),
      waitForCompletion: Boolean(waitForCompletion),
      threshold,
      unrefTimeout,
    });
    this.cronJobs.set(name, handle);
    return handle;
  }

  /** Names of the cron jobs: decorated, then added with `addCronJob`. */
  cronJobNames(): string[] {
    const decorated = this.scheduler.jobsWhere((job) => cronScheduleOf(job) !== undefined).map((job) => job.name);
    return [...new Set([...decorated, ...this.cronJobs.keys()])];
  }

  /**
   * The Node timer of a decorated interval or timeout, as `clearInterval`/`clearTimeout` accept
   * it: the job is moved onto a timer of its own the first time it is asked for.
   */
  timerHandle(name: string, entry: { driver: TimerDriver | null }): unknown {
    if (!entry.driver && this.scheduler.has(name)) {
      entry.driver = new TimerDriver(this.scheduler);
      this.scheduler.attachWaker(name, entry.driver);
    }
    return entry.driver?.current;
  }

  /** What holds a name, for messages about a name that is taken; `undefined` if it is free. */
  nameHolder(name: string): NameHolder | undefined {
    const target = this.scheduler.job(name)?.meta.target;
    const label = typeof target === 'string' ? target : undefined;
    if (this.hasCronJob(name)) return { kind: 'Cron Job', label };
    if (this.intervals.has(name)) return { kind: 'Interval', label };
    if (this.timeouts.has(name)) return { kind: 'Timeout', label };
    return this.scheduler.has(name) ? { kind: 'Job', label } : undefined;
  }

  /** Whether a cron job of that name is registered. */
  hasCronJob(name: string): boolean {
    return this.cronJobs.has(name) || cronScheduleOf(this.scheduler.job(name)) !== undefined;
  }

  /** Removes the engine job `name` and every registry name that points at it. */
  forget(name: string): void {
    if (this.scheduler.has(name)) this.scheduler.remove(name);
    this.cronJobs.delete(name);
    for (const entries of [this.intervals, this.timeouts]) {
      const entry = entries.get(name);
      if (entry && 'driver' in entry) entries.delete(name);
    }
  }
}

function sameOptions(a: ScheduleModuleOptions = {}, b: ScheduleModuleOptions = {}): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ScheduleModuleOptions>;
  return [...keys].every((key) => a[key] === b[key] || JSON.stringify(a[key]) === JSON.stringify(b[key]));
}
