import { InvalidTimeError } from '../errors';

/**
 * An instant: a `Date`, milliseconds since the epoch, or a string `Date.parse` reads (an ISO 8601
 * date such as `'2026-01-01T00:00:00Z'`).
 * @publicApi
 */
export type TestingInstant = Date | number | string;

/** The milliseconds since the epoch of `instant`; throws {@link InvalidTimeError} naming `where` and the value when it is not one. */
export function parseInstant(instant: unknown, where: string): number {
  const ms = instant instanceof Date ? instant.getTime() : typeof instant === 'number' ? instant : typeof instant === 'string' ? Date.parse(instant) : NaN;
  if (!Number.isFinite(ms)) {
    throw new InvalidTimeError(
      where,
      instant,
      'is not an instant; expected a Date, milliseconds since the epoch, or an ISO 8601 date such as "2026-01-01T00:00:00Z".',
    );
  }
  return ms;
}
