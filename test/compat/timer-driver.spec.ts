import { TimerDriver } from '../../lib/compat/timer-driver';
import { Clock, TimerHandle, TimerOptions } from '../../lib/engine/clock';
import { Scheduler } from '../../lib/engine/scheduler';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/**
 * A clock that behaves as Node's timers do: every timer fires `lateness` ms after it is due, and
 * an interval re-arms `_repeat` ms after its callback began. Left alone, that drifts.
 */
class NodeLikeClock implements Clock {
  readonly maxDelay = 2 ** 31 - 1;
  current = 0;
  private timers = new Set<{ due: number; callback: () => void; _repeat: number | null }>();
  constructor(private readonly lateness: number) {}
  now() {
    return this.current;
  }
  setTimer(callback: () => void, delay: number, options?: TimerOptions): TimerHandle {
    const timer = { due: this.current + delay, callback, _repeat: options?.repeat ? delay : null };
    this.timers.add(timer);
    return timer;
  }
  clearTimer(handle: TimerHandle) {
    this.timers.delete(handle as never);
  }
  runUntil(end: number) {
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.due - b.due)[0];
      if (!next || next.due > end) return;
      this.current = next.due + this.lateness;
      const started = this.current;
      if (next._repeat === null) this.timers.delete(next);
      next.callback();
      if (next._repeat !== null && this.timers.has(next)) next.due = started + next._repeat;
    }
  }
}

describe('TimerDriver', () => {
  it('keeps a Node interval on the grid although each wake-up comes late', () => {
    const clock = new NodeLikeClock(3);
    const scheduler = new Scheduler({ clock });
    const fired: Array<[scheduled: number, at: number]> = [];
    const driver = new TimerDriver(scheduler);
    scheduler.add({
      name: 'tick',
      trigger: new IntervalTrigger(1_000),
      handler: (ctx) => void fired.push([ctx.scheduledAt.getTime(), clock.now()]),
      waker: driver,
    });
    scheduler.start();
    const handle = driver.current;
    clock.runUntil(200_000);
    expect(fired).toHaveLength(200);
    fired.forEach(([scheduled, at], i) => {
      expect(scheduled).toBe((i + 1) * 1_000);
      expect(at - scheduled).toBe(3);
    });
    // The same handle all along: clearInterval on it still stops the job.
    expect(driver.current).toBe(handle);
  });

  it('keeps one handle from the start, even when the first wake-up is not one period away', () => {
    const clock = new NodeLikeClock(1);
    const scheduler = new Scheduler({ clock });
    const driver = new TimerDriver(scheduler);
    let runs = 0;
    scheduler.add({ name: 'tick', trigger: new IntervalTrigger(1_000), handler: () => void runs++, waker: driver, options: { startAt: 250 } });
    scheduler.start();
    const handle = driver.current;
    clock.runUntil(20_000);
    expect(runs).toBe(19);
    expect(driver.current).toBe(handle);
  });

  it('stops when a handler clears its own timer, as the NestJS docs do', () => {
    const clock = new NodeLikeClock(2);
    const scheduler = new Scheduler({ clock });
    const driver = new TimerDriver(scheduler);
    let runs = 0;
    scheduler.add({
      name: 'once-then-stop',
      trigger: new IntervalTrigger(1_000),
      handler: () => {
        runs++;
        clock.clearTimer(driver.current);
      },
      waker: driver,
      options: { jitterMs: 300 },
    });
    scheduler.start();
    clock.runUntil(20_000);
    expect(runs).toBe(1);
  });

  it('without the correction the same timer would drift by the lateness on every tick', () => {
    const clock = new NodeLikeClock(3);
    const at: number[] = [];
    const handle = clock.setTimer(() => at.push(clock.now()), 1_000, { repeat: true });
    clock.runUntil(200_000);
    expect(at[99] - 100 * 1_000).toBe(300);
    clock.clearTimer(handle);
  });
});
