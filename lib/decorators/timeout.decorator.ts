import { JobOptions } from '../engine/job-options';
import { addSchedule, delaySchedule } from './schedule-metadata';

/**
 * Runs the method once, `timeout` ms after the application starts. Delays above 2^31-1 ms
 * (about 24.8 days) work. `SchedulerRegistry.getTimeout(name)` returns a handle that `clearTimeout` stops.
 * @publicApi
 */
export function Timeout(timeout: number, options?: JobOptions): MethodDecorator;
/** Runs the method once, `timeout` ms after the application starts, as the timeout named `name`. */
export function Timeout(name: string, timeout: number, options?: JobOptions): MethodDecorator;
export function Timeout(nameOrTimeout: string | number, timeoutOrOptions?: number | JobOptions, options?: JobOptions): MethodDecorator {
  return addSchedule(delaySchedule('timeout', nameOrTimeout, timeoutOrOptions, options));
}
