import { JobOptions } from '../engine/job-options';
import { addSchedule, delaySchedule } from './schedule-metadata';

/**
 * Runs the method every `timeout` ms, on a grid counted from the application's start: ticks do not
 * drift however long runs take. `SchedulerRegistry.getInterval(name)` returns a handle that
 * `clearInterval` stops.
 * @publicApi
 */
export function Interval(timeout: number, options?: JobOptions): MethodDecorator;
/** Runs the method every `timeout` ms, as the interval named `name`. */
export function Interval(name: string, timeout: number, options?: JobOptions): MethodDecorator;
export function Interval(nameOrTimeout: string | number, timeoutOrOptions?: number | JobOptions, options?: JobOptions): MethodDecorator {
  return addSchedule(delaySchedule('interval', nameOrTimeout, timeoutOrOptions, options));
}
