import { InvalidScheduleError } from '../errors';
import { Trigger } from './trigger';

/** Fires once, at a given instant. */
export class DateTrigger implements Trigger {
  readonly kind = 'date' as const;
  readonly periodMs = null;
  constructor(readonly at: number) {}

  next(after: number): number | null {
    return this.at > after ? this.at : null;
  }

  toString(): string {
    return `at ${new Date(this.at).toISOString()}`;
  }
}

/** Something that names an instant: a `Date`, ms since the epoch, or an object with `toMillis()` (luxon). */
export type DateLike = Date | number | { toMillis(): number };

/** Reads a {@link DateLike} as ms since the epoch, or `NaN` if it names no valid instant. */
export function toEpochMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (value && typeof (value as { toMillis?: unknown }).toMillis === 'function') {
    return (value as { toMillis(): number }).toMillis();
  }
  return NaN;
}

/**
 * The instant of a date trigger, checked: `value` must name a valid instant, after `now` (else it
 * would never fire; `-Infinity` takes any date). Throws {@link InvalidScheduleError} naming `job`
 * and `field`; `invalid` is the reason given for a value that names no instant.
 */
export function checkedInstant(job: string, field: string, value: unknown, now: number, invalid = 'is not a valid date.'): number {
  const at = toEpochMs(value);
  if (Number.isNaN(at)) throw new InvalidScheduleError(job, field, value, invalid);
  if (at <= now) {
    throw new InvalidScheduleError(job, field, value, `is in the past (now is ${new Date(now).toISOString()}); it would never fire.`);
  }
  return at;
}
