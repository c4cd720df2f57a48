import { InvalidTimeError, SchedulerError } from '../../lib';
import { parseDuration } from '../../lib/testing/duration';
import { parseInstant } from '../../lib/testing/instant';

const EXPECTED = 'expected milliseconds (a number) or a string such as "500ms", "30s", "5m", "1h", "1d" or "1h30m".';

describe('durations', () => {
  it.each([
    [0, 0],
    [1_500, 1_500],
    [-5, -5],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1d 12h', 129_600_000],
    ['  2m 30s ', 150_000],
    ['1.5s', 1_500],
    ['0ms', 0],
    ['1m1m', 120_000],
  ] as const)('%j is %d ms', (duration, ms) => {
    expect(parseDuration(duration, 'here')).toBe(ms);
  });

  it.each([
    ['1x', `Invalid time given to here: "1x" is not a duration; ${EXPECTED}`],
    ['', `Invalid time given to here: "" is not a duration; ${EXPECTED}`],
    ['1500', `Invalid time given to here: "1500" is not a duration; ${EXPECTED}`],
    ['h', `Invalid time given to here: "h" is not a duration; ${EXPECTED}`],
    ['-5m', `Invalid time given to here: "-5m" is not a duration; ${EXPECTED}`],
    ['1h and 30m', `Invalid time given to here: "1h and 30m" is not a duration; ${EXPECTED}`],
    [NaN, `Invalid time given to here: NaN is not a finite number of milliseconds; ${EXPECTED}`],
    [Infinity, `Invalid time given to here: Infinity is not a finite number of milliseconds; ${EXPECTED}`],
    [undefined, `Invalid time given to here: undefined is not a duration; ${EXPECTED}`],
    [{ ms: 5 }, `Invalid time given to here: {"ms":5} is not a duration; ${EXPECTED}`],
  ])('%p is refused with an InvalidTimeError naming the value', (duration, message) => {
    const thrown = catchError(() => parseDuration(duration, 'here'));
    expect(thrown).toBeInstanceOf(InvalidTimeError);
    expect(thrown).toBeInstanceOf(SchedulerError);
    expect(thrown).toMatchObject({ code: 'INVALID_TIME', where: 'here', value: duration, message });
  });
});

describe('instants', () => {
  it.each([
    [new Date('2026-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:00Z')],
    [Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:00Z')],
    ['2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:00Z')],
    ['2026-01-01T01:00:00+01:00', Date.parse('2026-01-01T00:00:00Z')],
  ])('%j is %d', (instant, ms) => {
    expect(parseInstant(instant, 'here')).toBe(ms);
  });

  const INSTANT = 'is not an instant; expected a Date, milliseconds since the epoch, or an ISO 8601 date such as "2026-01-01T00:00:00Z".';
  it.each([
    ['tomorrow', `Invalid time given to here: "tomorrow" ${INSTANT}`],
    [new Date(NaN), `Invalid time given to here: Invalid Date ${INSTANT}`],
    [NaN, `Invalid time given to here: NaN ${INSTANT}`],
    [null, `Invalid time given to here: null ${INSTANT}`],
  ])('%p is refused with an InvalidTimeError naming the value', (instant, message) => {
    const thrown = catchError(() => parseInstant(instant, 'here'));
    expect(thrown).toBeInstanceOf(InvalidTimeError);
    expect(thrown).toMatchObject({ code: 'INVALID_TIME', message });
  });
});

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}
