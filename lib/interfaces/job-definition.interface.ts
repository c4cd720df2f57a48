import { Type } from '@nestjs/common';
import { JobContext } from '../engine/job-context';
import { JobOptions } from '../engine/job-options';
import { TriggerDefinition } from '../triggers/trigger-factory';

/** A provider method, named by the provider's class or injection token. */
export interface ProviderTarget {
  /** The provider's class, or its injection token (a string, or a symbol for jobs that are not stored). */
  provider: Type<unknown> | string | symbol;
  /** The handler: the name given to `@JobHandler(name)`, or the method's own name. */
  method: string;
}

/** A function exported by a module, run in a worker thread. */
export interface WorkerTarget {
  /** The module: an absolute path, or a package name resolvable from the working directory. */
  module: string;
  /** The exported function's name. Default `'default'`. */
  export?: string;
}

/**
 * A job added at run time with `SchedulerRegistry.addJob()`: a name, a trigger, exactly one of
 * `target`, `handler` or `worker`, and any job options.
 *
 * ```ts
 * await registry.addJob({ name: 'cleanup', trigger: { cron: '0 3 * * *' }, target: { provider: CleanupService, method: 'run' }, args: [30] });
 * await registry.addJob({ name: 'ping', trigger: { every: 5_000 }, handler: () => this.ping() });
 * await registry.addJob({ name: 'hash', trigger: { every: 60_000 }, worker: { module: require.resolve('./hash.worker') }, args: ['/data'] });
 * ```
 */
export interface AddJobDefinition extends JobOptions {
  name: string;
  trigger: TriggerDefinition;
  /**
   * A provider method marked `@JobHandler()` (or carrying a schedule decorator), called as
   * `method(context, ...args)` if it asks for its context (first parameter typed `JobContext`, or
   * marked `@JobCtx()`), else as `method(...args)`.
   */
  target?: ProviderTarget;
  /** A function in this process, called as `handler(context, ...args)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- so that a handler may type its arguments
  handler?: (context: JobContext, ...args: any[]) => unknown;
  /** A function run in a worker thread, called as `fn(context, ...args)`; see the README on off-thread jobs. */
  worker?: WorkerTarget;
  /** Arguments after the context: JSON values for a `target`, values that survive `structuredClone` for a `worker`. */
  args?: unknown[];
  /** Add the job paused; start it with `resumeJob`. */
  paused?: boolean;
  /**
   * Keep the job in the store, as data (a provider reference, JSON arguments): every instance runs
   * it, and it survives restarts. Needs a provider `target`.
   */
  persist?: boolean;
}
