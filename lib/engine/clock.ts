/**
 * Time, behind one small interface so that the engine can be driven by a controlled clock in tests.
 */
import { AsyncResource } from 'node:async_hooks';

/** An opaque timer handle, as returned by {@link Clock.setTimer}. */
export type TimerHandle = unknown;

/** Options of {@link Clock.setTimer}. */
export interface TimerOptions {
  /** Fire every `delayMs` until cleared, like `setInterval`. */
  repeat?: boolean;
  /** Do not keep the process alive for this timer (Node's `unref()`). */
  unref?: boolean;
}

/** The source of "now" and of timers. One clock is injected everywhere. */
export interface Clock {
  /** The current time, in ms since the epoch. */
  now(): number;
  /** Calls `callback` after `delayMs` (at most {@link Clock.maxDelay}). */
  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle;
  /** Cancels a timer; clearing one twice, or one that already fired, does nothing. */
  clearTimer(handle: TimerHandle): void;
  /** The longest delay `setTimer` accepts. Longer waits are split by the caller. */
  readonly maxDelay: number;
  /** A controlled clock (tests), meant to differ from real time: its time is not measured against the store's. */
  readonly virtual?: boolean;
}

/** The longest delay Node's timers accept: 2^31-1 ms, about 24.8 days. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

interface NodeTimer {
  unref?(): unknown;
}

/**
 * The async context the scheduler's timers fire in: the one this module was loaded in (none, as a
 * rule), not the one that armed them. A timer armed during a request (a job added, a run triggered)
 * would otherwise carry that request's AsyncLocalStorage stores (its tracing span, the tenant of
 * nestjs-cls…) into every run the timer leads to, and every timer re-armed from those.
 */
const timerScope = new AsyncResource('nestjs-metronome.timer');

/**
 * The default clock: `Date.now()` and Node's timers, read from `globalThis` at call time,
 * so Jest or Vitest fake timers installed after the module was compiled still apply.
 * Handles are the Node `Timeout` objects themselves, so `clearInterval`/`clearTimeout` work on them.
 * Callbacks run in {@link timerScope}.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs, options) {
    const fire = () => timerScope.runInAsyncScope(callback);
    const handle: NodeTimer = options?.repeat ? globalThis.setInterval(fire, delayMs) : globalThis.setTimeout(fire, delayMs);
    if (options?.unref) handle.unref?.();
    return handle;
  },
  clearTimer(handle) {
    // Node, and the fake timers of Jest and Vitest, accept clearTimeout for intervals too.
    globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
  maxDelay: MAX_TIMER_DELAY,
};
