import { InvalidScheduleError } from '../errors';
import { TriggerFieldNames } from './field-names';
import { fixedZone, isValidTimeZone, namedZone, systemZone, Zone } from './zone';

/**
 * Where a cron expression is evaluated, as given (unchecked): an IANA `timeZone` such as
 * `Europe/London`, or a fixed `utcOffset` in minutes as in `cron`. At most one of the two.
 */
export interface CronZoneOptions {
  timeZone?: unknown;
  utcOffset?: unknown;
}

/** Checks that at most one of `timeZone` and `utcOffset` is given; throws naming `job` and the fields. */
export function assertOneZone(job: string, { timeZone, utcOffset }: CronZoneOptions, fields: TriggerFieldNames): void {
  if (timeZone != null && utcOffset != null) {
    throw new InvalidScheduleError(job, fields.timeZone, { timeZone, utcOffset }, `and ${fields.utcOffset} are mutually exclusive; give one of them.`);
  }
}

/**
 * The zone that zone options name, checked; the process's own zone when they name none (as in
 * `cron`). Throws {@link InvalidScheduleError} naming `job` and the field.
 */
export function zoneOf(job: string, options: CronZoneOptions, fields: TriggerFieldNames): Zone {
  assertOneZone(job, options, fields);
  const { timeZone, utcOffset } = options;
  if (timeZone != null) {
    if (typeof timeZone !== 'string' || !isValidTimeZone(timeZone)) {
      throw new InvalidScheduleError(job, fields.timeZone, timeZone, 'is not a known IANA time zone.');
    }
    return namedZone(timeZone);
  }
  if (utcOffset != null) {
    if (typeof utcOffset !== 'number' || !Number.isInteger(utcOffset) || Math.abs(utcOffset) > 18 * 60) {
      throw new InvalidScheduleError(job, fields.utcOffset, utcOffset, 'must be a whole number of minutes between -1080 and 1080.');
    }
    return fixedZone(utcOffset);
  }
  return systemZone();
}
