import { InvalidTimeError } from '../errors';

/**
 * A length of time: milliseconds as a number, or a string of one or more amounts with a unit each:
 * `ms`, `s`, `m`, `h`, `d` (`'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`, `'1h30m'`, `'1d 12h'`).
 * @publicApi
 */
export type TestingDuration = number | string;

const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)\s*)+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const EXPECTED = 'expected milliseconds (a number) or a string such as "500ms", "30s", "5m", "1h", "1d" or "1h30m".';

/**
 * The milliseconds of `duration`. A negative number is returned as it is, for the caller to refuse
 * with a clearer error; anything else that is not a duration throws {@link InvalidTimeError}
 * naming `where` and the value.
 */
export function parseDuration(duration: unknown, where: string): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration)) throw new InvalidTimeError(where, duration, `is not a finite number of milliseconds; ${EXPECTED}`);
    return duration;
  }
  if (typeof duration !== 'string') throw new InvalidTimeError(where, duration, `is not a duration; ${EXPECTED}`);
  const text = duration.trim();
  if (!WHOLE.test(text)) throw new InvalidTimeError(where, duration, `is not a duration; ${EXPECTED}`);
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * MS_PER_UNIT[unit];
  return ms;
}
