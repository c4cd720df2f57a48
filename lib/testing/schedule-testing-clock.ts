import { ClockBackwardsError } from '../errors';
import { TimerHandle, TimerOptions } from '../engine/clock';
import { VirtualClock } from '../engine/virtual-clock';
import { TestingDuration, parseDuration } from './duration';
import { TestingInstant, parseInstant } from './instant';
import { ScheduleTestingOptions } from './schedule-testing-options.interface';
import { settle } from './settle';

/**
 * The scheduler's clock in tests: time moves only when told, and each move runs what falls due
 * and waits for those runs. `ScheduleTestingModule` provides it; get it with
 * `moduleRef.get(ScheduleTestingClock)`.
 *
 * ```ts
 * await clock.advanceBy('1h'); // every tick of the hour, in order, each run awaited
 * ```
 *
 * Moving time goes from one due timer to the next, in order, with `now()` at each timer's time,
 * and after each lets the runs it started settle: promise callbacks, async handlers and whatever
 * they await that is itself made of promises, retries and timeouts (they wait on this clock).
 * It does not wait for real timers or I/O (a `setTimeout` of the global timers, a socket, a file,
 * a database or Redis server): mock those in the code your jobs call. Calls are carried out one
 * after the other, in the order they were made.
 *
 * `Date.now()` is not moved, unless `setSystemTime` was given (see {@link ScheduleTestingOptions}).
 * @publicApi
 */
export class ScheduleTestingClock extends VirtualClock {
  /** Grows with each timer set or cleared: a settle lasts while it grows. */
  private activity = 0;
  /** The end of the last call made: calls run one after the other. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly setSystemTime: ((now: number) => void) | undefined;

  constructor(options: ScheduleTestingOptions = {}) {
    super(options.now === undefined ? Date.now() : parseInstant(options.now, 'ScheduleTestingModule.forRoot({ now })'));
    this.setSystemTime = options.setSystemTime;
    this.setSystemTime?.(this.now());
  }

  override setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    const handle = super.setTimer(callback, delayMs, options);
    this.activity++;
    return handle;
  }

  override clearTimer(handle: TimerHandle): void {
    this.activity++;
    super.clearTimer(handle);
  }

  /**
   * Moves time forward by `duration` (`60_000`, `'30s'`, `'1h30m'`…), running everything that
   * falls due on the way, in order, and resolves once the window is over and the runs due in it
   * have settled. `advanceBy(0)` runs what is due now.
   *
   * @throws InvalidTimeError when `duration` is not a duration
   * @throws ClockBackwardsError when it is negative
   */
  async advanceBy(duration: TestingDuration): Promise<void> {
    const ms = parseDuration(duration, 'ScheduleTestingClock.advanceBy');
    if (ms < 0) throw new ClockBackwardsError('ScheduleTestingClock.advanceBy', new Date(this.now()), new Date(this.now() + ms));
    return this.serially(() => this.advanceWindow(this.now() + ms));
  }

  /**
   * Moves time forward to `instant` (a `Date`, ms since the epoch, or an ISO 8601 string), as
   * {@link advanceBy} does. Moving to the current time runs what is due now.
   *
   * @throws InvalidTimeError when `instant` is not an instant
   * @throws ClockBackwardsError when it is before the clock's time (when the call's turn comes)
   */
  async advanceTo(instant: TestingInstant): Promise<void> {
    const target = parseInstant(instant, 'ScheduleTestingClock.advanceTo');
    return this.serially(async () => {
      if (target < this.now()) throw new ClockBackwardsError('ScheduleTestingClock.advanceTo', new Date(this.now()), new Date(target));
      await this.advanceWindow(target);
    });
  }

  /**
   * Moves time to the next due timer, runs what is due then and lets it settle. Resolves with the
   * new time, or `null` (time unmoved) when no timer is set. Handy for a `@Timeout` or a cron
   * expression whose next time you would rather not compute.
   */
  advanceToNext(): Promise<Date | null> {
    return this.serially(async () => {
      const due = this.nextDue();
      if (due === null) {
        await this.settleNow();
        return null;
      }
      await this.advanceWindow(Math.max(due, this.now()));
      return new Date(this.now());
    });
  }

  /**
   * Moves time forward by `ms` at once, firing nothing, as when the process is suspended: timers
   * that fell due fire late, at the next move. For misfire tests.
   */
  override jump(ms: number): void {
    super.jump(ms);
    this.setSystemTime?.(this.now());
  }

  /** Runs what is due now (a job triggered, a timer of no delay) and lets it settle: `advanceBy(0)`. */
  runDue(): Promise<void> {
    return this.advanceBy(0);
  }

  /** Lets runs in flight settle, without moving time or firing timers. */
  settle(): Promise<void> {
    return this.serially(() => this.settleNow());
  }

  private async advanceWindow(target: number): Promise<void> {
    await this.settleNow();
    for (let due = this.nextDue(); due !== null && due <= target; due = this.nextDue()) {
      this.setSystemTime?.(Math.max(due, this.now()));
      this.fireNext(target);
      await this.settleNow();
    }
    this.jump(Math.max(0, target - this.now()));
  }

  private settleNow(): Promise<void> {
    return settle(() => this.activity);
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
