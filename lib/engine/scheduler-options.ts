import { Clock } from './clock';
import { CoordinationOptions } from './coordinators';
import { JobOptions } from './job-options';

/** Where the scheduler is in its life. */
export type SchedulerState = 'idle' | 'running' | 'stopping' | 'stopped';

/** Options of the engine, and where jobs are coordinated with other instances (without a store, or with one that is not shared, every tick runs here). */
export interface SchedulerOptions extends CoordinationOptions {
  /** Time source; the default reads `Date.now()` and the global timers at call time. */
  clock?: Clock;
  /** How long shutdown waits for runs in flight, in ms. Default 10 000. */
  shutdownTimeout?: number;
  /** Job options applied to every job, under each job's own. */
  defaults?: JobOptions;
  /** Source of randomness for `jitterMs`, returning [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Receives errors thrown by event listeners. Default `console.error`. */
  onListenerError?: (error: unknown) => void;
}
