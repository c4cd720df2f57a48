import { ModuleMetadata, Type } from '@nestjs/common';
import { Clock } from '../engine/clock';
import { JobOptions } from '../engine/job-options';
import { JobStore } from '../stores/job-store';

/**
 * Options of `ScheduleModule.forRoot()`. The first three are `@nestjs/schedule`'s.
 * @publicApi
 */
export interface ScheduleModuleOptions {
  /** Discover `@Cron` methods. Default `true`. */
  cronJobs?: boolean;
  /** Discover `@Interval` methods. Default `true`. */
  intervals?: boolean;
  /** Discover `@Timeout` methods. Default `true`. */
  timeouts?: boolean;
  /** Job options applied to every job, under each job's own. */
  defaults?: JobOptions;
  /** How long `app.close()` waits for runs in flight, in ms. Default 10 000. */
  shutdownTimeout?: number;
  /** This instance's name in events and in a shared store. Default `host:pid:random`. */
  instanceId?: string;
  /** The time source; inject a `VirtualClock` in tests. Default: `Date.now()` and the global timers. */
  clock?: Clock;
  /** How many worker threads off-thread jobs may use at once. Default: the CPU count less one (at least 1). */
  workers?: number;
  /**
   * Where jobs are kept and coordinated: `new PostgresJobStore(...)` or `new RedisJobStore(...)`
   * make every job cluster-wide (each tick runs on one instance) and keep persistent jobs across
   * restarts. Default: in this process's memory.
   */
  store?: JobStore;
  /** Timing of the cluster protocol, with a shared store. */
  cluster?: {
    /** How long a run's lease lasts without a heartbeat (heartbeats come every third of it). Default 30 000 ms. */
    leaseMs?: number;
    /**
     * How often the store is read again (stored jobs, paused flags) if it changed since, as a
     * safety net for missed notifications. Default 5 000 ms.
     */
    syncEveryMs?: number;
    /**
     * How often each instance checks in: one write, with its look for expired leases. An instance
     * that misses three check-ins in a row is dead, and its leases go at once: an at-least-once run
     * of a killed instance runs again elsewhere within about 4 × this. Default 2 000 ms.
     */
    checkInMs?: number;
    /**
     * How long before its tick each cluster-wide tick is claimed, so that the round trip to the
     * store is over when the run is due (say 250). Each instance then claims a share of the jobs
     * (by a hash of the job, the instance and the tick) up to 1.75 times earlier, so that the runs
     * of a tick are spread over the instances. Many ticks due at one instant (a herd: every job on
     * `0 * * * *`) are claimed earlier still, by 0.05 ms for each tick armed for that instant
     * before (at most 5 s more), so that the store has answered every claim when the herd is due.
     * Never more than seven eighths of half the time since the job's previous tick (437 ms for a
     * job due every second), so that the previous run has started and, as a rule, released its
     * lease. A tick claimed ahead is marked started in the store as its run is due (one call for
     * the runs of an instant, sent ahead of it by as long as its answer took lately, at most
     * 50 ms, and 5 µs more for each run: see docs/clustering.md); if this instance dies before,
     * another takes the tick over and runs it. 0: ticks are claimed when due, and runs start after the round trip. Default 250.
     */
    claimAheadMs?: number;
    /**
     * How long a call to the store may take: connecting, a claim, any query or script. A call
     * with no answer by then counts as failed (its ticks are reported missed) and is cancelled,
     * not left to run: on PostgreSQL the server cancels the statement (`statement_timeout`) and a
     * connection that does not answer is closed. `app.init()` waits this long at most for the
     * store; if it is not there by then, the application starts without it and connects when it
     * can. Default 5 000 ms.
     */
    timeoutMs?: number;
  };
}

/** A class that provides the module options, for `forRootAsync({ useClass })`. */
export interface ScheduleModuleOptionsFactory {
  createScheduleOptions(): Promise<ScheduleModuleOptions> | ScheduleModuleOptions;
}

/** Options of `ScheduleModule.forRootAsync()`. */
export interface ScheduleModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useExisting?: Type<ScheduleModuleOptionsFactory>;
  useClass?: Type<ScheduleModuleOptionsFactory>;
  // As in `@nestjs/schedule` and Nest's own async options: the factory's arguments are the injected providers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory?: (...args: any[]) => Promise<ScheduleModuleOptions> | ScheduleModuleOptions;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inject?: any[];
}
