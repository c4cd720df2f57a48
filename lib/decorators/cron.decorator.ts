import { DateLike } from '../triggers/date.trigger';
import { CronOptions } from './cron-options';
import { addSchedule, NO_OPTIONS } from './schedule-metadata';

/**
 * Runs the method on a cron expression (5 fields, or 6 with seconds first) or once at a date.
 * The method is called with no arguments, as in `@nestjs/schedule`, unless it asks for the run's
 * `JobContext`: its first parameter typed `JobContext`, or marked `@JobCtx()`.
 *
 * ```ts
 * @Cron(CronExpression.EVERY_30_SECONDS, { name: 'notifications', timeZone: 'Europe/Paris' })
 * handleCron() { ... }
 * ```
 *
 * A method may carry several `@Cron`, `@Interval` and `@Timeout` decorators.
 * @publicApi
 */
export function Cron(cronTime: string | DateLike, options: CronOptions = NO_OPTIONS): MethodDecorator {
  return addSchedule({ kind: 'cron', cronTime, options });
}
