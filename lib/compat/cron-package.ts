import { isPromiseLike } from '../engine/runner';
import { Scheduler } from '../engine/scheduler';
import { CronJob, CronOnComplete, RescheduleGuard } from './cron-job';
import { CronTimeSource } from './cron-time';

/** The members of a `CronJob` from the `cron` package (v3, v4) that are read here. */
export interface CronPackageJob {
  cronTime: { source: unknown; timeZone?: string | null; utcOffset?: number | null };
  context: unknown;
  onComplete?: CronOnComplete;
  waitForCompletion?: boolean;
  threshold?: number;
  unrefTimeout?: boolean;
  name?: string;
  errorHandler?: ((error: unknown) => void) | null;
  readonly isActive: boolean;
  start(): void;
  stop(): unknown;
  fireOnTick(): unknown;
}

/** A callback of a `cron` package job. */
type CronPackageCallback = (this: unknown, onComplete?: unknown) => unknown;

interface CronPackageInternals {
  _callbacks?: CronPackageCallback[];
  _timeout?: ReturnType<typeof setTimeout>;
  _isActive?: boolean;
}

/** Whether `job` looks like a `cron` package `CronJob` (and is not this package's own). */
export function isCronPackageJob(job: unknown): job is CronPackageJob {
  if (job instanceof CronJob || typeof job !== 'object' || job === null) return false;
  const candidate = job as Partial<CronPackageJob>;
  return (
    typeof candidate.start === 'function' && typeof candidate.fireOnTick === 'function' && typeof candidate.cronTime === 'object' && candidate.cronTime !== null
  );
}

const DELEGATED = ['start', 'stop', 'fireOnTick', 'lastDate', 'nextDate', 'nextDates', 'setTime', 'addCallback'] as const;

/**
 * Moves a `cron` package job onto `scheduler` under `name`, keeping the object the caller holds:
 * its methods and `isActive`/`isCallbackRunning` then drive the scheduler's job, so the usual
 * `registry.addCronJob(name, job); job.start()` works, with graceful shutdown and events.
 * Returns this package's `CronJob` that now runs it.
 */
export function adoptCronPackageJob(job: CronPackageJob, scheduler: Scheduler, name: string, guard?: RescheduleGuard): CronJob<unknown> {
  const internals = job as unknown as CronPackageInternals;
  const wasActive = job.isActive;
  // Silence the job's own timer. Not through stop(): that would also call onComplete.
  if (internals._timeout !== undefined) clearTimeout(internals._timeout);
  internals._isActive = false;
  const originalFireOnTick = Object.getPrototypeOf(job).fireOnTick as () => Promise<void>;
  const runForeignCallbacks = () => {
    // cron keeps its callbacks in `_callbacks`; call them ourselves so the run can be awaited.
    const callbacks = internals._callbacks;
    return Array.isArray(callbacks) ? callInOrder(callbacks, job.context, job.onComplete, 0) : originalFireOnTick.call(job);
  };
  const adopted = CronJob.from<unknown>({
    cronTime: job.cronTime.source as CronTimeSource,
    timeZone: job.cronTime.utcOffset == null ? job.cronTime.timeZone : null,
    utcOffset: job.cronTime.utcOffset ?? null,
    onTick: runForeignCallbacks,
    onComplete: job.onComplete ? () => job.onComplete!.call(job.context) : null,
    waitForCompletion: job.waitForCompletion,
    threshold: job.threshold,
    unrefTimeout: job.unrefTimeout,
    errorHandler: job.errorHandler,
    name: job.name ?? name,
  });
  adopted.attachTo(scheduler, name, guard);
  if (wasActive) adopted.start();
  const target = job as unknown as Record<string, unknown>;
  for (const method of DELEGATED) {
    const implementation = adopted[method] as (...args: unknown[]) => unknown;
    target[method] = (...args: unknown[]) => implementation.apply(adopted, args);
  }
  Object.defineProperty(job, 'isActive', { get: () => adopted.isActive, configurable: true });
  Object.defineProperty(job, 'isCallbackRunning', { get: () => adopted.isCallbackRunning, configurable: true });
  return adopted;
}

/**
 * Calls a `cron` package job's callbacks from `first` on, in order. Synchronous ones are called
 * before returning, as in `cron`'s `fireOnTick`, so that a throw reaches the `errorHandler` within
 * the timer callback; from the first that returns a promise on, each after the one before, so the
 * run lasts until all are done. The first error, thrown or rejected, ends the calls and is passed
 * on. Returns the chain's promise, or `undefined` when every callback was synchronous.
 */
function callInOrder(callbacks: CronPackageCallback[], context: unknown, onComplete: unknown, first: number): Promise<void> | undefined {
  for (let i = first; i < callbacks.length; i++) {
    const result = callbacks[i].call(context, onComplete);
    if (isPromiseLike(result)) return Promise.resolve(result).then(() => callInOrder(callbacks, context, onComplete, i + 1));
  }
  return undefined;
}
