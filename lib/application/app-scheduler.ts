import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { JobTargets } from '../discovery/job-targets';
import { errorMessage } from '../errors';
import { Clock } from '../engine/clock';
import { clusterTiming } from '../engine/cluster-timing';
import { logEvents } from '../engine/log-events';
import { Scheduler } from '../engine/scheduler';
import { ScheduleModuleOptions } from '../interfaces/schedule-module-options.interface';
import { JobStore } from '../stores/job-store';
import { MemoryJobStore } from '../stores/memory.store';
import { ResolvedModuleOptions, resolveModuleOptions, sameOptions } from './module-options';
import { PersistentJobs } from './persistent-jobs';
import { ScheduleHandles } from './schedule-handles';
import { StoreSync } from './store-sync';
import { WorkerJobs } from './worker-jobs';

/**
 * The scheduling of one application: the engine, the names `@nestjs/schedule`'s registry knows
 * ({@link ScheduleHandles}), persistent jobs and their sync with the store, and worker threads.
 * One per application, however many times `ScheduleModule.forRoot()` is imported, so that no job
 * runs twice.
 *
 * It ties the engine to Nest's lifecycle: jobs start on `onApplicationBootstrap` (after every
 * `onModuleInit`, so connections are ready) and stop first thing on `onModuleDestroy`, waiting for
 * runs in flight while the rest of the application is still up. Both hooks are idempotent.
 */
export class AppScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private static readonly byApplication = new WeakMap<object, AppScheduler>();

  readonly scheduler: Scheduler;
  readonly handles: ScheduleHandles;
  /** Where jobs are kept: the store given, or one in memory. */
  readonly store: JobStore;
  readonly persistent: PersistentJobs;
  readonly workers: WorkerJobs;
  /** Set once decorated methods were discovered, so that a second module instance does not add them again. */
  discovered = false;
  private readonly sync: StoreSync;
  private readonly logger = new Logger('Scheduler');
  /** The options as the first import gave them. */
  private given: ScheduleModuleOptions | undefined;

  private constructor(
    readonly options: ResolvedModuleOptions,
    targets: JobTargets,
    clock: Clock | undefined,
  ) {
    this.store = options.store ?? new MemoryJobStore();
    this.scheduler = new Scheduler({
      clock: clock ?? options.clock,
      shutdownTimeout: options.shutdownTimeout,
      defaults: options.defaults,
      store: this.store,
      instanceId: options.instanceId,
      cluster: options.cluster,
      onListenerError: (error) => this.logger.error(`An event listener failed: ${errorMessage(error)}`, error instanceof Error ? error.stack : undefined),
    });
    this.handles = new ScheduleHandles(this.scheduler, this.store);
    this.persistent = new PersistentJobs(this.scheduler, this.store, targets, options.instanceId);
    const { syncEveryMs, timeoutMs } = clusterTiming(options.cluster);
    // Every call of the store is bounded as the scheduler's are; what it finds wrong with its server is logged here.
    this.store.configure?.({ timeoutMs, warn: (message) => this.logger.warn(message) });
    this.sync = new StoreSync(this.store, this.scheduler, this.persistent, options.instanceId, syncEveryMs, timeoutMs);
    this.workers = new WorkerJobs(options.workers);
    logEvents(this.scheduler, this.logger);
  }

  /**
   * The scheduling of the application that `modules` (Nest's `ModulesContainer`) belongs to, made
   * on first call. When `forRoot()` is imported twice with different options, the first call wins.
   * `clock`, when given (by `ScheduleTestingModule`), replaces the options' clock.
   */
  static for(modules: object, options: ScheduleModuleOptions | undefined, targets: JobTargets, clock?: Clock): AppScheduler {
    let app = AppScheduler.byApplication.get(modules);
    if (app && app.given !== options && !sameOptions(app.given, options)) {
      app.logger.warn(
        'ScheduleModule is imported more than once with different options; only one set is used. Import ScheduleModule.forRoot() once, in the root module.',
      );
    }
    if (!app) {
      app = new AppScheduler(resolveModuleOptions(options), targets, clock);
      app.given = options;
      AppScheduler.byApplication.set(modules, app);
    }
    return app;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.scheduler.state !== 'idle') return;
    // Stored jobs are loaded before the scheduler starts, if the store answers within
    // `cluster.timeoutMs`; a store that cannot be reached now is tried again at every sync, and
    // meanwhile ticks are reported missed, not run unclaimed.
    await this.sync.start();
    this.scheduler.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.sync.stop();
    if (this.scheduler.state === 'running' || this.scheduler.state === 'stopping') await this.scheduler.shutdown();
    await this.workers.close();
    if (this.sync.isConnected || this.options.store) {
      await this.store.close().catch((error: unknown) => this.logger.warn(`Closing the job store failed: ${errorMessage(error)}`));
    }
    this.handles.clear();
  }
}
