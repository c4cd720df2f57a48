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
 * The schedules of each decorated method: one, or several in source order. A WeakMap rather than
 * `reflect-metadata`, which costs two Maps per method; kept on `globalThis` so that two copies of
 * the package in one application see the same decorators.
 */
const schedulesByMethod = ((globalThis as Record<symbol, unknown>)[Symbol.for(SCHEDULES_METADATA)] ??= new WeakMap()) as WeakMap<object, ScheduleMetadata | ScheduleMetadata[]>;

/**
 * A method decorator that adds one schedule to the method's metadata, so that a method may carry
 * several. Stacked decorators apply bottom-up; prepending keeps them in source order.
 */
export function addSchedule(schedule: ScheduleMetadata): MethodDecorator {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const existing = schedulesByMethod.get(method);
    schedulesByMethod.set(method, existing === undefined ? schedule : [schedule, ...getSchedules(method)]);
    return descriptor;
  };
}

const NONE: readonly ScheduleMetadata[] = Object.freeze([]);

/** The schedules a method carries, in source order. */
export function getSchedules(method: unknown): readonly ScheduleMetadata[] {
  if (typeof method !== 'function') return NONE;
  const schedules = schedulesByMethod.get(method);
  return schedules === undefined ? NONE : Array.isArray(schedules) ? schedules : [schedules];
}

/** The options of a decorator given none, shared. */
export const NO_OPTIONS: Readonly<CronOptions> = Object.freeze({});

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
    ? { kind, name: nameOrTimeout, ms: timeoutOrOptions, options: options ?? NO_OPTIONS }
    : { kind, ms: nameOrTimeout, options: (timeoutOrOptions as JobOptions | undefined) ?? NO_OPTIONS };
}
