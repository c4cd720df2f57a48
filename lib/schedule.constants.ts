/** Injection token of the resolved module options. */
export const SCHEDULE_MODULE_OPTIONS = Symbol('SCHEDULE_MODULE_OPTIONS');

/**
 * Injection token of a clock that replaces the `clock` module option, whatever the options say:
 * `ScheduleTestingModule` provides it. Optional: without it, the options' clock is used.
 */
export const SCHEDULE_CLOCK = Symbol('SCHEDULE_CLOCK');
