/**
 * How the callers that make triggers name their fields in error messages: `@Cron` says `cronTime`,
 * `addJob` says `trigger.cron`.
 */
export interface TriggerFieldNames {
  /** The cron expression. */
  readonly cron: string;
  /** The IANA time zone of a cron expression. */
  readonly timeZone: string;
  /** The fixed UTC offset of a cron expression, in minutes. */
  readonly utcOffset: string;
  /** The period of an interval. */
  readonly every: string;
  /** The instant of a one-off date. */
  readonly at: string;
  /** The delay of a one-off after the job's start. */
  readonly after: string;
  /** Whether one field takes either a cron expression or a date (`cronTime`): errors then say so. */
  readonly cronOrDate: boolean;
}

/** The names of `@Cron`, `@Interval` and `@Timeout`, which `CronJob` and `CronTime` share (as in `cron`). */
export const DECORATOR_FIELDS: TriggerFieldNames = {
  cron: 'cronTime',
  timeZone: 'timeZone',
  utcOffset: 'utcOffset',
  every: 'interval',
  at: 'cronTime',
  after: 'timeout',
  cronOrDate: true,
};

/** The names of a trigger definition given to `addJob` and `rescheduleJob` (and kept in the store). */
export const DEFINITION_FIELDS: TriggerFieldNames = {
  cron: 'trigger.cron',
  timeZone: 'trigger.timeZone',
  utcOffset: 'trigger.utcOffset',
  every: 'trigger.every',
  at: 'trigger.at',
  after: 'trigger.after',
  cronOrDate: false,
};
