import { InvalidScheduleError } from '../errors';
import { Trigger } from './trigger';

/** Fires once, at a given instant. */
export class DateTrigger implements Trigger {
  readonly kind = 'date' as const;
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

/** A date trigger after checking that the instant is valid and, unless `allowPast`, still ahead. */
export function dateTrigger(job: string, field: string, value: unknown, now: number, allowPast = false): DateTrigger {
  const at = toEpochMs(value);
  if (Number.isNaN(at)) throw new InvalidScheduleError(job, field, value, 'is not a valid date.');
  if (!allowPast && at <= now) {
    throw new InvalidScheduleError(job, field, value, `is in the past (now is ${new Date(now).toISOString()}); it would never fire.`);
  }
  return new DateTrigger(at);
}

/** Fires once, `delayMs` after the anchor (the job's start): what `@Timeout` uses. */
export class DelayTrigger implements Trigger {
  readonly kind = 'date' as const;
  constructor(readonly delayMs: number) {}

  next(after: number, anchor: number): number | null {
    const at = anchor + this.delayMs;
    return at > after ? at : null;
  }

  toString(): string {
    return `once, ${this.delayMs} ms after start`;
  }
}
