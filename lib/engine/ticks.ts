import { Trigger } from '../triggers/trigger';

/**
 * Questions about the ticks of a trigger in a span of time, answered without walking every tick:
 * after a long suspension an every-second job has 86,400 ticks a day to account for.
 */

/** How many ticks are counted at most; beyond, a count is a lower bound. */
const MAX_COUNTED_TICKS = 100;

/**
 * The last tick at or before `to`, given `from`, a tick at or before `to`. A binary search over
 * `next()`: about 40 calls for a span of years, at millisecond resolution.
 */
export function lastTickUpTo(trigger: Trigger, anchor: number, from: number, to: number): number {
  // Invariant: next(low) <= to < next(high).
  let low = from - 1;
  let high = to;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    const next = trigger.next(middle, anchor);
    if (next !== null && next <= to) low = middle;
    else high = middle;
  }
  return trigger.next(low, anchor)!;
}

/**
 * The ticks in [from, to], counted up to {@link MAX_COUNTED_TICKS}; `from` is a tick. Returns the
 * count and whether counting stopped early.
 */
export function countTicks(trigger: Trigger, anchor: number, from: number, to: number): { count: number; truncated: boolean } {
  let count = 0;
  for (let tick: number | null = from; tick !== null && tick <= to; tick = trigger.next(tick, anchor)) {
    if (count === MAX_COUNTED_TICKS) return { count, truncated: true };
    count++;
  }
  return { count, truncated: false };
}

/** The last `n` ticks in [from, to], oldest first; `from` is a tick at or before `to`. */
export function lastTicks(trigger: Trigger, anchor: number, from: number, to: number, n: number): number[] {
  const ticks: number[] = [];
  for (let end = to; ticks.length < n && end >= from;) {
    const tick = lastTickUpTo(trigger, anchor, from, end);
    ticks.push(tick);
    end = tick - 1;
  }
  return ticks.reverse();
}
