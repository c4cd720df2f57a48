import { ModuleMetadata, Type } from '@nestjs/common';
import { Clock } from '../engine/clock';
import { JobOptions } from '../engine/job-options';

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
}

/** A class that provides the module options, for `forRootAsync({ useClass })`. */
export interface ScheduleModuleOptionsFactory {
  createScheduleOptions(): Promise<ScheduleModuleOptions> | ScheduleModuleOptions;
}

/** Options of `ScheduleModule.forRootAsync()`. */
export interface ScheduleModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useExisting?: Type<ScheduleModuleOptionsFactory>;
  useClass?: Type<ScheduleModuleOptionsFactory>;
  useFactory?: (...args: any[]) => Promise<ScheduleModuleOptions> | ScheduleModuleOptions;
  inject?: any[];
}
