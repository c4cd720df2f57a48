import { InvalidScheduleError } from '../../lib/errors';
import { IntervalTrigger, validateDelay } from '../../lib/triggers/interval.trigger';

describe('IntervalTrigger', () => {
  const trigger = new IntervalTrigger(1_000);
  const anchor = 10_000;

  it('fires on the grid anchor + k × period, k ≥ 1', () => {
    expect(trigger.next(anchor, anchor)).toBe(11_000);
    expect(trigger.next(10_999, anchor)).toBe(11_000);
    expect(trigger.next(11_000, anchor)).toBe(12_000);
    expect(trigger.next(11_001, anchor)).toBe(12_000);
  });

  it('never drifts: a late run finds the next tick on the same grid', () => {
    expect(trigger.next(15_432, anchor)).toBe(16_000);
    expect(trigger.next(anchor + 86_400_000 + 1, anchor)).toBe(anchor + 86_401_000);
  });

  it('before the anchor, first fires one period after it', () => {
    expect(trigger.next(0, anchor)).toBe(11_000);
    expect(trigger.next(anchor - 1, anchor)).toBe(11_000);
  });

  it('keeps a fractional period as given', () => {
    const fractional = new IntervalTrigger(2.5);
    expect(fractional.next(0, 0)).toBe(2.5);
    expect(fractional.next(2.5, 0)).toBe(5);
  });

  it('describes itself', () => {
    expect(trigger).toMatchObject({ kind: 'interval', periodMs: 1_000, at: null });
    expect(trigger.toString()).toBe('every 1000 ms');
  });
});

describe('validateDelay', () => {
  it('takes a finite number above zero, fractions included', () => {
    expect(validateDelay('j', 'interval', 1)).toBe(1);
    expect(validateDelay('j', 'interval', 0.5)).toBe(0.5);
  });

  it.each([
    [0, '0 must be a finite number of milliseconds above 0.'],
    [-1, '-1 must be a finite number of milliseconds above 0.'],
    [NaN, 'NaN must be a finite number of milliseconds above 0.'],
    [Infinity, 'Infinity must be a finite number of milliseconds above 0.'],
    ['1000', '"1000" is not a number of milliseconds.'],
    [null, 'null is not a number of milliseconds.'],
  ])('refuses %p, naming the job, the field and the value', (value, reason) => {
    let error: unknown;
    try {
      validateDelay('poll', 'trigger.every', value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect(error).toMatchObject({ jobName: 'poll', field: 'trigger.every', value, message: `Invalid trigger.every for job "poll": ${reason}` });
  });
});
