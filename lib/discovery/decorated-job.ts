import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CronJob } from '../compat/cron-job';
import { CronPackageJob } from '../compat/cron-package';
import { CronScheduleMetadata, ScheduleMetadata } from '../decorators/schedule-metadata';
import { DescribingSource, JobHandler } from '../engine/job';
import { JobContext } from '../engine/job-context';

/** Where the `CronJob` handle of a job is found, if one was made. */
export interface CronHandles {
  existingCronJob(name: string): CronJob | CronPackageJob | undefined;
}

/**
 * What the job of a decorated method is made from, kept as the job's source. One small object per
 * job, and one handler for all ({@link runDecorated}): an application may have a hundred thousand.
 */
export class DecoratedJob implements DescribingSource {
  /** The method as the instance's class defines it, looked up on first run. */
  private classMethod: ((context?: JobContext) => unknown) | undefined = undefined;

  constructor(
    readonly wrapper: InstanceWrapper,
    readonly method: string,
    readonly schedule: ScheduleMetadata,
    /** The application's `CronJob` handles, where one added callbacks to the job's. */
    readonly handles: CronHandles,
    /** Whether the method asked for its context (see `passesContext`); if not, it is called with no arguments. */
    readonly withContext: boolean,
  ) {}

  /**
   * Calls the method on the live instance: with the context if it asked for it, else with no
   * arguments, as `@nestjs/schedule` does. A method set on the instance itself (a spy in a test)
   * is found at each run; the class's own is looked up once, as a lookup by name is slow on
   * classes with many methods.
   */
  /** What the job's `JobInfo.meta` shows: the kind of decorator and `Class.method`. */
  describe(): Readonly<Record<string, unknown>> {
    const instance = this.wrapper.instance as object | undefined;
    const className = (instance && Object.getPrototypeOf(instance)?.constructor?.name) || String(this.wrapper.name);
    return { kind: this.schedule.kind, target: `${className}.${this.method}` };
  }

  /** The `@Cron` a job was made from, if its source (`JobStatus.source`) is a decorated method's. */
  static cronOf(source: object | undefined): CronScheduleMetadata | undefined {
    return source instanceof DecoratedJob && source.schedule.kind === 'cron' ? source.schedule : undefined;
  }

  call(context: JobContext): unknown {
    const instance = this.wrapper.instance as Record<string, (context?: JobContext) => unknown>;
    const method = Object.hasOwn(instance, this.method) ? instance[this.method] : (this.classMethod ??= instance[this.method]);
    return this.withContext ? method.call(instance, context) : method.call(instance);
  }
}

/**
 * Runs a decorated method's job: calls the method on the live instance, read at each run; for a
 * cron job, then the callbacks added to its handle with `addCallback()`, as with `cron`.
 */
export const runDecorated: JobHandler = (context: JobContext, source: object | undefined) => {
  const decorated = source as DecoratedJob;
  const result = decorated.call(context);
  const { schedule, handles } = decorated;
  if (schedule.kind !== 'cron') return result;
  const handle = handles.existingCronJob(context.name);
  return handle instanceof CronJob ? handle.afterTick(result) : result;
};
