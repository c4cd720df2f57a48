import { TestingInstant } from './instant';

/**
 * Options of `ScheduleTestingModule.forRoot()`.
 * @publicApi
 */
export interface ScheduleTestingOptions {
  /** Where time starts: a `Date`, ms since the epoch, or an ISO 8601 string. Default: the time when the clock is made. */
  now?: TestingInstant;
  /**
   * Called with the clock's time (ms since the epoch) when it starts and each time it moves, so
   * that `Date.now()` in your code can follow it under fake timers: `(now) => jest.setSystemTime(now)`
   * or `(now) => vi.setSystemTime(now)`. Default: `Date` is left alone.
   */
  setSystemTime?: (now: number) => void;
}
