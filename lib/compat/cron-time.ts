import { DateTime } from 'luxon';
import { InvalidScheduleError, SchedulerError } from '../errors';
import { Trigger } from '../triggers/trigger';
import { cronTimeTrigger } from '../triggers/trigger-factory';
import { systemTimeZone } from '../triggers/zone';

/** What a `CronTime` is made from: a cron expression, a `Date` or a luxon `DateTime`. */
export type CronTimeSource = string | Date | DateTime;

/** The fields of a `CronTime`, ours or the `cron` package's, that describe when it fires. */
export interface CronTimeLike {
  source: unknown;
  timeZone?: string | null;
  utcOffset?: number | null;
}

/**
 * Builds the trigger for a cron time: a `Date` or luxon `DateTime` fires once (even if past, as in
 * `cron`: starting it throws), anything else is read as a cron expression. Throws
 * {@link InvalidScheduleError} naming `job` for a bad expression, zone or date.
 * @internal
 */
export function triggerOfCronTime(job: string, { source, timeZone, utcOffset }: CronTimeLike): Trigger {
  const kind = source instanceof Date || DateTime.isDateTime(source) ? 'date' : 'cron';
  return cronTimeTrigger(job, kind, source, { timeZone, utcOffset }, Number.NEGATIVE_INFINITY);
}

/**
 * Throws, as `cron` does, when `trigger` fires once at a date not after `now`: it will never fire.
 * @internal
 */
export function assertDateAhead(job: string, trigger: Trigger, now: number): void {
  if (trigger.at !== null && trigger.at <= now) {
    throw new InvalidScheduleError(job, 'cronTime', new Date(trigger.at), 'is in the past; it will never fire.');
  }
}

/**
 * When a cron job fires: the `cron` package's `CronTime`, on this package's triggers (so daylight
 * saving time changes are handled as the README describes).
 * @publicApi
 */
export class CronTime {
  /** The expression, or the date for a one-off. */
  readonly source: string | DateTime;
  readonly timeZone?: string;
  readonly utcOffset?: number;
  /** Whether this fires once, at a date. */
  readonly realDate: boolean;
  /** @internal */
  readonly trigger: Trigger;

  constructor(source: CronTimeSource, timeZone?: string | null, utcOffset?: number | null) {
    this.trigger = triggerOfCronTime('CronTime', { source, timeZone, utcOffset });
    this.realDate = this.trigger.at !== null;
    this.source = source instanceof Date ? DateTime.fromJSDate(source) : source;
    if (timeZone != null) this.timeZone = timeZone;
    else if (utcOffset != null) this.utcOffset = utcOffset;
    else this.timeZone = systemTimeZone();
  }

  /** Whether `expression` is a cron expression this package accepts. */
  static validateCronExpression(expression: string): { valid: boolean; error?: SchedulerError } {
    try {
      cronTimeTrigger('CronTime', 'cron', expression, {}, Number.NEGATIVE_INFINITY);
      return { valid: true };
    } catch (error) {
      return { valid: false, error: error as SchedulerError };
    }
  }

  /** The next fire time after now. */
  sendAt(): DateTime;
  /** The next `count` fire times after now. */
  sendAt(count: number): DateTime[];
  sendAt(count?: number): DateTime | DateTime[] {
    const dates = nextDates('CronTime', this.trigger, this.zoneName(), Date.now(), count ?? 1);
    return count === undefined ? dates[0] : dates;
  }

  /** Milliseconds until the next fire time. */
  getTimeout(): number {
    return this.sendAt().toMillis() - Date.now();
  }

  toString(): string {
    return typeof this.source === 'string' ? this.source : (this.source.toISO() ?? '');
  }

  /** @internal The luxon zone name to show dates in. */
  zoneName(): string {
    if (this.utcOffset !== undefined) {
      const sign = this.utcOffset < 0 ? '-' : '+';
      const minutes = Math.abs(this.utcOffset);
      return `UTC${sign}${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
    }
    return this.timeZone ?? 'local';
  }
}

/**
 * The next `count` fire times of a trigger after `after`, as luxon dates in `zone`. Throws, as
 * `cron` does, when a one-off date is already past.
 * @internal
 */
export function nextDates(job: string, trigger: Trigger, zone: string, after: number, count: number): DateTime[] {
  const dates: DateTime[] = [];
  let at: number | null = after;
  while (dates.length < count && (at = trigger.next(at, after)) !== null) dates.push(DateTime.fromMillis(at, { zone }));
  if (dates.length === 0) assertDateAhead(job, trigger, after);
  return dates;
}
