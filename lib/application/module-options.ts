import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InvalidScheduleError } from '../errors';
import { assertMilliseconds, resolveJobOptions } from '../engine/job-options';
import { ScheduleModuleOptions } from '../interfaces/schedule-module-options.interface';

/** The module options with defaults filled in. */
export interface ResolvedModuleOptions extends ScheduleModuleOptions {
  cronJobs: boolean;
  intervals: boolean;
  timeouts: boolean;
  instanceId: string;
}

/** The options of `cluster` in the module options. */
const CLUSTER_TIMING = ['leaseMs', 'syncEveryMs', 'checkInMs', 'claimAheadMs', 'timeoutMs'];

/**
 * Checks the module options and fills in the defaults. Throws `InvalidScheduleError` naming the
 * option (`shutdownTimeout`, `cluster.leaseMs`, `defaults.overlap`…), so that `app.init()` fails.
 */
export function resolveModuleOptions(options: ScheduleModuleOptions = {}): ResolvedModuleOptions {
  assertMilliseconds('', 'shutdownTimeout', options.shutdownTimeout);
  if (options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers >= 1)) {
    throw new InvalidScheduleError('', 'workers', options.workers, 'must be a whole number, 1 or more.');
  }
  for (const [field, value] of Object.entries(options.cluster ?? {})) {
    if (!CLUSTER_TIMING.includes(field)) {
      throw new InvalidScheduleError('', `cluster.${field}`, value, `is not an option; expected one of ${CLUSTER_TIMING.join(', ')}.`);
    }
    assertMilliseconds('', `cluster.${field}`, value, field === 'claimAheadMs' ? 0 : 1);
  }
  try {
    resolveJobOptions('', options.defaults);
  } catch (error) {
    if (!(error instanceof InvalidScheduleError)) throw error;
    throw new InvalidScheduleError('', `defaults.${error.field}`, error.value, error.reason);
  }
  return {
    cronJobs: true,
    intervals: true,
    timeouts: true,
    instanceId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    ...options,
  };
}

/** Whether two sets of module options say the same (one `forRoot()` imported twice). */
export function sameOptions(a: ScheduleModuleOptions = {}, b: ScheduleModuleOptions = {}): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ScheduleModuleOptions>;
  return [...keys].every((key) => a[key] === b[key] || JSON.stringify(a[key]) === JSON.stringify(b[key]));
}
