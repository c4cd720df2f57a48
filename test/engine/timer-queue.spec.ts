import { MAX_TIMER_DELAY } from '../../lib/engine/clock';
import { QueueEntry, TimerQueue } from '../../lib/engine/timer-queue';
import { VirtualClock } from '../../lib/engine/virtual-clock';

class Entry implements QueueEntry {
  at = 0;
  index = -1;
  seq = 0;
  constructor(
    readonly id: number,
    readonly ref = true,
  ) {}
}

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TimerQueue', () => {
  it('keeps one clock timer however many entries it holds', () => {
    const clock = new VirtualClock(0);
    const queue = new TimerQueue<Entry>(clock, () => undefined);
    queue.start();
    for (let i = 0; i < 1_000; i++) queue.schedule(new Entry(i), 1_000 + i);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDue()).toBe(1_000);
  });

  it('hands out due entries in time order, ties in insertion order, under random adds, moves and removals', () => {
    const rand = random(42);
    const clock = new VirtualClock(0);
    const queue = new TimerQueue<Entry>(clock, () => undefined);
    const live = new Map<Entry, number>();
    const entries = Array.from({ length: 2_000 }, (_, i) => new Entry(i));
    for (let step = 0; step < 20_000; step++) {
      const entry = entries[Math.floor(rand() * entries.length)];
      const op = rand();
      if (op < 0.6) {
        const at = Math.floor(rand() * 500);
        queue.schedule(entry, at);
        live.set(entry, at);
      } else {
        queue.cancel(entry);
        live.delete(entry);
      }
    }
    expect(queue.size).toBe(live.size);
    const taken = queue.takeDue(Number.MAX_SAFE_INTEGER);
    expect(taken.map((e) => e.at)).toEqual([...live.values()].sort((a, b) => a - b));
    for (let i = 1; i < taken.length; i++) {
      if (taken[i].at === taken[i - 1].at) expect(taken[i].seq).toBeGreaterThan(taken[i - 1].seq);
    }
    expect(queue.size).toBe(0);
  });

  it('splits waits longer than the clock allows and wakes once, when the entry is due', () => {
    const clock = new VirtualClock(0);
    const wakes: number[] = [];
    const queue: TimerQueue<Entry> = new TimerQueue<Entry>(clock, () => {
      wakes.push(clock.now());
      queue.takeDue(clock.now());
    });
    queue.start();
    const fortyDays = 40 * 86_400_000;
    queue.schedule(new Entry(1), fortyDays);
    expect(clock.nextDue()).toBe(MAX_TIMER_DELAY);
    clock.advance(fortyDays);
    expect(wakes).toEqual([fortyDays]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms for an entry earlier than the armed one, and clears the timer when emptied', () => {
    const clock = new VirtualClock(0);
    const queue = new TimerQueue<Entry>(clock, () => undefined);
    queue.start();
    const late = new Entry(1);
    const early = new Entry(2);
    queue.schedule(late, 5_000);
    queue.schedule(early, 1_000);
    expect(clock.nextDue()).toBe(1_000);
    queue.cancel(early);
    queue.cancel(late);
    expect(clock.pendingTimers).toBe(0);
  });

  it('arms an unref timer only while no entry keeps the process alive', () => {
    const timers: Array<{ unref?: boolean }> = [];
    const clock = new VirtualClock(0);
    const spy = jest.spyOn(clock, 'setTimer').mockImplementation((callback, delay, options) => {
      timers.push({ unref: options?.unref });
      return VirtualClock.prototype.setTimer.call(clock, callback, delay, options);
    });
    const queue = new TimerQueue<Entry>(clock, () => undefined);
    queue.start();
    queue.schedule(new Entry(1, false), 2_000);
    queue.schedule(new Entry(2, true), 3_000);
    expect(timers).toEqual([{ unref: true }, { unref: false }]);
    spy.mockRestore();
  });

  it('does not arm before start() nor after stop()', () => {
    const clock = new VirtualClock(0);
    const queue = new TimerQueue<Entry>(clock, () => undefined);
    queue.schedule(new Entry(1), 1_000);
    expect(clock.pendingTimers).toBe(0);
    queue.start();
    expect(clock.pendingTimers).toBe(1);
    queue.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});
