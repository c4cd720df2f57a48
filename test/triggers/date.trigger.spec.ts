import { DateTime } from 'luxon';
import { InvalidScheduleError } from '../../lib/errors';
import { checkedInstant, DateTrigger, toEpochMs } from '../../lib/triggers/date.trigger';
import { Trigger } from '../../lib/triggers/trigger';

const T0 = Date.UTC(2026, 0, 1);

describe('DateTrigger', () => {
  const trigger: Trigger = new DateTrigger(T0);

  it('fires once, at its instant, whatever the anchor', () => {
    expect(trigger.next(T0 - 1, 0)).toBe(T0);
    expect(trigger.next(Number.NEGATIVE_INFINITY, T0 + 5_000)).toBe(T0);
  });

  it('is exhausted from its instant on', () => {
    expect(trigger.next(T0, 0)).toBeNull();
    expect(trigger.next(T0 + 1, 0)).toBeNull();
  });

  it('describes itself', () => {
    expect(trigger).toMatchObject({ kind: 'date', at: T0, periodMs: null });
    expect(trigger.toString()).toBe('at 2026-01-01T00:00:00.000Z');
  });
});

describe('toEpochMs', () => {
  it('reads a Date, ms since the epoch and a luxon DateTime', () => {
    expect(toEpochMs(new Date(T0))).toBe(T0);
    expect(toEpochMs(T0)).toBe(T0);
    expect(toEpochMs(DateTime.fromMillis(T0, { zone: 'Asia/Tokyo' }))).toBe(T0);
  });

  it.each([
    ['an invalid Date', new Date('nonsense')],
    ['an invalid DateTime', DateTime.invalid('test')],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a string', '2026-01-01T00:00:00Z'],
    ['null', null],
    ['an object', {}],
  ])('reads %s as NaN', (_label, value) => {
    expect(toEpochMs(value)).toBeNaN();
  });
});

describe('checkedInstant', () => {
  it('returns the instant of a date after now', () => {
    expect(checkedInstant('j', 'trigger.at', new Date(T0 + 1), T0)).toBe(T0 + 1);
  });

  it('refuses a date at or before now, naming the job, the field and now', () => {
    for (const at of [T0, T0 - 1]) {
      expect(() => checkedInstant('mail', 'trigger.at', at, T0)).toThrow(
        new InvalidScheduleError('mail', 'trigger.at', at, 'is in the past (now is 2026-01-01T00:00:00.000Z); it would never fire.'),
      );
    }
  });

  it('takes any date when now is -Infinity', () => {
    expect(checkedInstant('j', 'trigger.at', 0, Number.NEGATIVE_INFINITY)).toBe(0);
  });

  it('refuses what names no instant, with the reason given', () => {
    expect(() => checkedInstant('j', 'trigger.at', 'soon', T0)).toThrow('Invalid trigger.at for job "j": "soon" is not a valid date.');
    expect(() => checkedInstant('j', 'cronTime', new Date('x'), T0, 'is not a cron expression nor a valid date.')).toThrow(
      'Invalid cronTime for job "j": Invalid Date is not a cron expression nor a valid date.',
    );
  });
});
