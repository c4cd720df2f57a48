import { Clock, MAX_TIMER_DELAY, TimerHandle, TimerOptions } from './clock';

interface VirtualTimer {
  id: number;
  due: number;
  callback: () => void;
  period: number | null;
}

/**
 * A clock that only moves when told to: for tests of code that schedules jobs.
 *
 * ```ts
 * const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'));
 * ScheduleModule.forRoot({ clock });
 * await clock.advanceAsync(60_000); // fires everything due in the next minute, in order
 * ```
 *
 * Like Node, it refuses delays above {@link Clock.maxDelay} (2^31-1 ms by default), so code that
 * would overflow a real timer fails here too.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  readonly maxDelay: number;
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, VirtualTimer>();

  constructor(start: number | Date = 0, options: { maxDelay?: number } = {}) {
    this.current = typeof start === 'number' ? start : start.getTime();
    this.maxDelay = options.maxDelay ?? MAX_TIMER_DELAY;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    if (!(delayMs >= 0) || delayMs > this.maxDelay) {
      throw new RangeError(`VirtualClock: delay ${delayMs} ms is outside 0..${this.maxDelay}`);
    }
    const id = this.nextId++;
    const period = options?.repeat ? Math.max(1, delayMs) : null;
    this.timers.set(id, { id, due: this.current + delayMs, callback, period });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** How many timers are set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the earliest timer is due, or `null` if none is set. */
  nextDue(): number | null {
    const next = this.earliest();
    return next ? next.due : null;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in order, each with
   * `now()` equal to its due time. Callbacks run synchronously; see {@link advanceAsync}.
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let timer = this.earliest(); timer && timer.due <= target; timer = this.earliest()) {
      this.fire(timer);
    }
    this.current = Math.max(this.current, target);
  }

  /**
   * Like {@link advance}, but lets promises settle after each timer, so async jobs
   * finish (or reach their next await) before the next timer fires.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (let timer = this.earliest(); timer && timer.due <= target; timer = this.earliest()) {
      this.fire(timer);
      await settle();
    }
    this.current = Math.max(this.current, target);
    await settle();
  }

  /** Moves time to an absolute instant, firing what falls due on the way. */
  async advanceToAsync(instant: number | Date): Promise<void> {
    const target = typeof instant === 'number' ? instant : instant.getTime();
    await this.advanceAsync(Math.max(0, target - this.current));
  }

  /**
   * Fires the earliest timer if it is due by `until`, with `now()` moved to its due time (never
   * back). Returns whether a timer fired. Its callback runs synchronously.
   */
  fireNext(until: number): boolean {
    const timer = this.earliest();
    if (!timer || timer.due > until) return false;
    this.fire(timer);
    return true;
  }

  /**
   * Moves time forward without firing anything, as when a process is suspended or the event loop
   * is blocked: timers that fell due fire late, at the next `advance`.
   */
  jump(ms: number): void {
    this.current += ms;
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const timer of this.timers.values()) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    }
    return best;
  }

  private fire(timer: VirtualTimer): void {
    this.current = Math.max(this.current, timer.due);
    if (timer.period === null) this.timers.delete(timer.id);
    else timer.due += timer.period;
    timer.callback();
  }
}

// Taken when this module loads, so that fake timers installed later do not stall `settle`.
const realSetImmediate = globalThis.setImmediate;

/** Lets pending promise callbacks run: a few macrotask turns. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
}
