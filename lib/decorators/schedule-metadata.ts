import { JobOptions } from '../engine/job-options';
import { CronOptions } from './cron-options';

/** Metadata key of the schedules a method carries. */
export const SCHEDULES_METADATA = 'nestjs-metronome:schedules';
/** Metadata key of `@JobHandler()`: the method may be the target of stored jobs. */
export const JOB_HANDLER_METADATA = 'nestjs-metronome:job-handler';

/** What `@Cron` records. */
export interface CronScheduleMetadata {
  kind: 'cron';
  cronTime: unknown;
  options: CronOptions;
}

/** What `@Interval` and `@Timeout` record. */
export interface DelayScheduleMetadata {
  kind: 'interval' | 'timeout';
  name?: string;
  ms: unknown;
  options: JobOptions;
}

export type ScheduleMetadata = CronScheduleMetadata | DelayScheduleMetadata;

/** What `@JobHandler()` records. */
export interface JobHandlerMetadata {
  /** The name stored jobs use to refer to the method; the method's own name if not given. */
  name?: string;
}

/**
 * A method decorator that appends one schedule to the method's metadata, so that a method may
 * carry several. Stacked decorators apply bottom-up; prepending keeps them in source order.
 */
export function addSchedule(schedule: ScheduleMetadata): MethodDecorator {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const existing: ScheduleMetadata[] = Reflect.getMetadata(SCHEDULES_METADATA, method) ?? [];
    Reflect.defineMetadata(SCHEDULES_METADATA, [schedule, ...existing], method);
    return descriptor;
  };
}

/** The schedules a method carries, in source order. */
export function getSchedules(method: unknown): ScheduleMetadata[] {
  if (typeof method !== 'function') return [];
  return Reflect.getMetadata(SCHEDULES_METADATA, method) ?? [];
}

/** The `@JobHandler()` metadata of a method, if it has any. */
export function getJobHandler(method: unknown): JobHandlerMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(JOB_HANDLER_METADATA, method);
}

/** Reads the `(timeout, options?)` and `(name, timeout, options?)` forms of `@Interval` and `@Timeout`. */
export function delaySchedule(
  kind: 'interval' | 'timeout',
  nameOrTimeout: string | number,
  timeoutOrOptions?: number | JobOptions,
  options?: JobOptions,
): DelayScheduleMetadata {
  return typeof nameOrTimeout === 'string'
    ? { kind, name: nameOrTimeout, ms: timeoutOrOptions, options: options ?? {} }
    : { kind, ms: nameOrTimeout, options: (timeoutOrOptions as JobOptions | undefined) ?? {} };
}
