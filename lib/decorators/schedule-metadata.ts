import { isJobContextType } from '../engine/job-context';
import { JobOptions } from '../engine/job-options';
import { CronOptions } from './cron-options';

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

/** What the decorators of this package record, by method (the function itself). */
interface MethodMetadata {
  /** The schedules of each decorated method: one, or several in source order. */
  schedules: WeakMap<object, ScheduleMetadata | ScheduleMetadata[]>;
  /** `@JobHandler()`: the method may be the target of stored jobs. */
  handlers: WeakMap<object, JobHandlerMetadata>;
  /** `@JobCtx()`: the method's first parameter receives the run's context. */
  contextParams: WeakSet<object>;
}

/**
 * The one place decorators record what they say about a method: WeakMaps keyed by the method,
 * rather than `reflect-metadata`, which costs two Maps per method. Kept on `globalThis`, so that
 * two copies of the package in one application see the same decorators.
 */
const metadata = ((globalThis as Record<symbol, unknown>)[Symbol.for('nestjs-metronome:decorators')] ??= {
  schedules: new WeakMap(),
  handlers: new WeakMap(),
  contextParams: new WeakSet(),
}) as MethodMetadata;
const schedulesByMethod = metadata.schedules;

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

/** Records `@JobHandler()` on a method. */
export function setJobHandler(method: object, handler: JobHandlerMetadata): void {
  metadata.handlers.set(method, handler);
}

/** The `@JobHandler()` metadata of a method, if it has any. */
export function getJobHandler(method: unknown): JobHandlerMetadata | undefined {
  return typeof method === 'function' ? metadata.handlers.get(method) : undefined;
}

/** Records `@JobCtx()` on a method's first parameter. */
export function setContextParam(method: object): void {
  metadata.contextParams.add(method);
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

/**
 * Whether a handler method asks for the run's context as its first argument: its first parameter
 * is marked `@JobCtx()`, or typed `JobContext` in the decorator metadata TypeScript emits. A method
 * that does not ask is called as `@nestjs/schedule` calls it, without the context. `undefined`
 * when it cannot be told: the method takes parameters but has no decorator metadata (the code was
 * compiled without `emitDecoratorMetadata`).
 */
export function wantsContext(prototype: object, method: string): boolean | undefined {
  const fn = (prototype as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return false;
  if (metadata.contextParams.has(fn)) return true;
  // What TypeScript emits with `emitDecoratorMetadata`: not this package's, read where it puts it.
  const types: unknown = Reflect.getMetadata('design:paramtypes', prototype, method);
  if (Array.isArray(types)) return types.length > 0 && isJobContextType(types[0]);
  return fn.length > 0 ? undefined : false;
}
