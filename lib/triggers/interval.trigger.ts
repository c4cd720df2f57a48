import { InvalidScheduleError } from '../errors';
import { Trigger } from './trigger';

/**
 * Fires every `periodMs`, on the grid `anchor + k * periodMs` (k ≥ 1), so ticks never drift however
 * late a run starts. The anchor is the job's start, or in a cluster the instant kept in the store.
 */
export class IntervalTrigger implements Trigger {
  readonly kind = 'interval' as const;
  readonly at = null;
  constructor(readonly periodMs: number) {}

  next(after: number, anchor: number): number {
    const k = after < anchor ? 1 : Math.floor((after - anchor) / this.periodMs) + 1;
    return anchor + k * this.periodMs;
  }

  toString(): string {
    return `every ${this.periodMs} ms`;
  }
}

/**
 * Checks a delay or period in ms: a finite number above zero. `field` names it in the error.
 * Fractions are kept as given (Node rounds them the same way when it arms a timer).
 */
export function validateDelay(job: string, field: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new InvalidScheduleError(job, field, value, 'is not a number of milliseconds.');
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidScheduleError(job, field, value, 'must be a finite number of milliseconds above 0.');
  }
  return value;
}
