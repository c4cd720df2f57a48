import { DelayTrigger } from '../../lib/triggers/delay.trigger';

describe('DelayTrigger', () => {
  const trigger = new DelayTrigger(2_500);

  it('fires once, the delay after the anchor (the job start)', () => {
    expect(trigger.next(0, 0)).toBe(2_500);
    expect(trigger.next(2_499, 0)).toBe(2_500);
    expect(trigger.next(10_000, 10_000)).toBe(12_500);
  });

  it('fires once even when asked from before the anchor', () => {
    expect(trigger.next(0, 10_000)).toBe(12_500);
  });

  it('is exhausted from its instant on', () => {
    expect(trigger.next(2_500, 0)).toBeNull();
    expect(trigger.next(99_999, 0)).toBeNull();
  });

  it('is a kind of its own, with no fixed instant', () => {
    expect(trigger).toMatchObject({ kind: 'delay', delayMs: 2_500, at: null, periodMs: null });
    expect(trigger.toString()).toBe('once, 2500 ms after start');
  });
});
