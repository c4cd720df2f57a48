import { JobOptions } from '../engine/job-options';

/**
 * Options of `@Cron`: every field of `@nestjs/schedule`'s `CronOptions`, plus the job options.
 */
export type CronOptions = JobOptions & {
  /** The job's name, to find it in `SchedulerRegistry`. Default `ClassName.methodName`. */
  name?: string;
  /** Register the job stopped; start it with `getCronJob(name).start()`. */
  disabled?: boolean;
  /** Skip ticks while a run is still going (`overlap: 'skip'`); `false` allows overlap (`'allow'`). */
  waitForCompletion?: boolean;
  /**
   * Ticks found later than this many ms are missed: reported, then handled by the misfire policy
   * (run once by default, as `cron` does with a late timer). The same as `misfire.graceMs`.
   */
  threshold?: number;
  /** Wait this many ms after the application starts before the first tick counts. */
  initialDelay?: number;
  /** Do not keep the process alive for this job (`unref: true`). */
  unrefTimeout?: boolean;
} & (
    | {
        /** IANA time zone the expression is read in. Default: the process's zone. */
        timeZone?: string;
        utcOffset?: never;
      }
    | {
        timeZone?: never;
        /** Fixed offset from UTC in minutes, instead of a time zone. */
        utcOffset?: number;
      }
  );
