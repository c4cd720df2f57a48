import { TimerHandle } from '../engine/clock';
import { Job, Waker } from '../engine/job';
import { Scheduler } from '../engine/scheduler';

interface RephasableTimer {
  _repeat?: unknown;
  _destroyed?: unknown;
  refresh?(): unknown;
}

/**
 * Wakes a decorated `@Interval` or `@Timeout` with a timer of its own instead of the shared queue.
 *
 * Why: `@nestjs/schedule` hands out the Node timer behind each decorated interval and timeout, and
 * the NestJS docs stop one with `clearInterval(registry.getInterval(name))`. Neither Node nor fake
 * timers let anyone notice that a handle was cleared, so the handle itself must be what wakes the
 * job: once cleared, the job is never woken again.
 *
 * Why it is safe: the timer only wakes the job. The engine still decides which tick is due (the
 * grid anchor + k × period), applies overlap, misfire, pause and shutdown, and cancels the timer
 * when the job is removed or the scheduler stops. Node re-arms an interval from the moment its
 * callback ran, which drifts by about a millisecond a tick; after each wake-up the driver sets the
 * next period so that the timer lands on the grid again (Node's `_repeat`; fake timers do not drift),
 * so the handle stays the same for the life of the job. Where re-phasing is not possible (a wake-up
 * off the period, as with jitter, under fake timers) it falls back to one-shot timers, and the
 * handle changes; the next one is armed before the run starts, so a handler can still stop its job.
 */
export class TimerDriver implements Waker {
  private handle: TimerHandle | null = null;
  private repeating = false;
  /** When the repeating timer first fires: it fires every period from then. */
  private phase = 0;

  /** The period of the repeating timer, when there is one. */
  private periodMs = 0;

  constructor(private readonly scheduler: Scheduler) {}

  /** The timer that wakes the job now (or last did), as `clearInterval`/`clearTimeout` accept it. */
  get current(): TimerHandle | null {
    return this.handle;
  }

  /** Arms the timer for `at` (a timer of its own wakes the job at the tick, not ahead of it). */
  schedule(job: Job, at: number): void {
    job.at = at;
    const { clock } = this.scheduler;
    const delay = Math.max(0, at - clock.now());
    // An interval (as rescheduled, maybe) repeats on one timer; anything else wakes once.
    const period = job.trigger.periodMs;
    const timer = this.handle as RephasableTimer | null;
    // A Node timer cleared with clearInterval is replaced only when the job is armed again (resumed).
    if (this.repeating && period === this.periodMs && timer !== null && timer._destroyed !== true) {
      // Node re-arms an interval `_repeat` ms after its callback began: aim that at the next tick.
      // Set on every wake-up, so that one off-period correction never outlives its tick.
      if (typeof timer._repeat === 'number') {
        timer._repeat = Math.min(Math.max(1, Math.round(delay)), clock.maxDelay);
        return;
      }
      // A timer that does not drift (fake timers) still fires on its own grid: keep it if `at` is on it.
      if ((at - this.phase) % this.periodMs === 0) return;
    }
    this.cancel();
    if (period !== null && delay <= clock.maxDelay) {
      // A repeating timer whose first wake-up is `delay` away. Node's can be re-phased at every
      // wake-up; a timer that cannot (fake timers) is only kept when it is on the grid already.
      const handle = clock.setTimer(() => this.scheduler.wake(job), Math.max(1, delay), { repeat: true, unref: job.options.unref });
      if (typeof (handle as RephasableTimer)._repeat === 'number' || delay === period) {
        this.handle = handle;
        this.repeating = true;
        this.periodMs = period;
        this.phase = at;
        return;
      }
      clock.clearTimer(handle);
    }
    this.once(job, delay);
  }

  cancel(): void {
    if (this.handle !== null) this.scheduler.clock.clearTimer(this.handle);
    this.repeating = false;
  }

  /**
   * A paused job keeps its timer: the handle handed out stays the one that `clearInterval` stops.
   * Its wake-ups are ignored while it is paused.
   */
  pause(): void {}

  /** One wake-up after `delay`, in equal segments when it exceeds the clock's longest delay. */
  private once(job: Job, delay: number): void {
    const { clock } = this.scheduler;
    const segments = Math.max(1, Math.ceil(delay / clock.maxDelay));
    const segment = Math.ceil(delay / segments);
    let left = segments;
    const fire = (): void => {
      if (--left === 0) return this.scheduler.wake(job);
      // Re-arm the same handle when the timer allows it, so that it stays the one handed out.
      const timer = this.handle as RephasableTimer;
      if (typeof timer.refresh === 'function') timer.refresh();
      else this.handle = clock.setTimer(fire, segment, { unref: job.options.unref });
    };
    this.handle = clock.setTimer(fire, segment, { unref: job.options.unref });
  }
}
