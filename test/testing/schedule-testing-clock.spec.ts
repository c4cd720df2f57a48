import { ClockBackwardsError, InvalidTimeError, ScheduleTestingClock } from '../../lib';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (clock: ScheduleTestingClock) => clock.now() - T0;

/** Resolves after `turns` turns of the event loop: work a run does that is made of promises, but more than one turn long. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('ScheduleTestingClock', () => {
  it('starts at `now`, given as an ISO string, a Date or ms', () => {
    expect(new ScheduleTestingClock({ now: '2026-01-01T00:00:00Z' }).now()).toBe(T0);
    expect(new ScheduleTestingClock({ now: new Date(T0) }).now()).toBe(T0);
    expect(new ScheduleTestingClock({ now: T0 }).now()).toBe(T0);
  });

  it('fires timers in order, each with now() at its due time, and stops at the end of the window', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`c@${at(clock)}`), 3_000);
    clock.setTimer(() => fired.push(`a@${at(clock)}`), 1_000);
    clock.setTimer(() => fired.push(`r@${at(clock)}`), 2_000, { repeat: true });
    clock.setTimer(() => fired.push(`late@${at(clock)}`), 5_001);
    await clock.advanceBy('5s');
    expect(fired).toEqual(['a@1000', 'r@2000', 'c@3000', 'r@4000']);
    expect(at(clock)).toBe(5_000);
    await clock.advanceBy(1);
    expect(fired.slice(4)).toEqual(['late@5001']);
  });

  it('lets what each timer started settle before the next fires, async work made of promises included', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const log: string[] = [];
    const run = async (name: string) => {
      log.push(`${name} start@${at(clock)}`);
      await Promise.resolve();
      await turns(2);
      log.push(`${name} end@${at(clock)}`);
    };
    clock.setTimer(() => void run('a'), 1_000);
    clock.setTimer(() => void run('b'), 1_000);
    clock.setTimer(() => void run('c'), 2_000);
    await clock.advanceBy(2_000);
    expect(log).toEqual(['a start@1000', 'a end@1000', 'b start@1000', 'b end@1000', 'c start@2000', 'c end@2000']);
  });

  it('runs timers set on the way that fall due in the window, and keeps those that do not', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const fired: number[] = [];
    const chain = () => {
      fired.push(at(clock));
      // The next link is set after some async work, as a retry after a failed run is.
      void Promise.resolve().then(() => clock.setTimer(chain, 400));
    };
    clock.setTimer(chain, 400);
    await clock.advanceBy(1_000);
    expect(fired).toEqual([400, 800]);
    expect(clock.nextDue()).toBe(T0 + 1_200);
  });

  it('advanceTo moves to an instant; advanceBy(0) and runDue run what is due now', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`x@${at(clock)}`), 60_000);
    await clock.advanceTo('2026-01-01T00:01:00Z');
    expect(fired).toEqual(['x@60000']);
    clock.setTimer(() => fired.push(`now@${at(clock)}`), 0);
    await clock.runDue();
    clock.setTimer(() => fired.push(`zero@${at(clock)}`), 0);
    await clock.advanceBy(0);
    await clock.advanceTo(new Date(clock.now()));
    expect(fired).toEqual(['x@60000', 'now@60000', 'zero@60000']);
    expect(at(clock)).toBe(60_000);
  });

  it('advanceToNext moves to the next due timer, or reports that there is none', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const fired: number[] = [];
    clock.setTimer(() => fired.push(at(clock)), 20 * 86_400_000 - 1);
    await expect(clock.advanceToNext()).resolves.toEqual(new Date(T0 + 20 * 86_400_000 - 1));
    expect(fired).toEqual([20 * 86_400_000 - 1]);
    await expect(clock.advanceToNext()).resolves.toBeNull();
    expect(at(clock)).toBe(20 * 86_400_000 - 1);
  });

  it('settle lets async work finish without moving time or firing timers', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const done: string[] = [];
    clock.setTimer(() => done.push('timer'), 0);
    void turns(3).then(() => done.push('work'));
    await clock.settle();
    expect(done).toEqual(['work']);
    expect(at(clock)).toBe(0);
  });

  it('carries out calls one after the other, in the order they were made', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const fired: number[] = [];
    clock.setTimer(() => fired.push(at(clock)), 1_000, { repeat: true });
    const first = clock.advanceBy('2s');
    const second = clock.advanceTo(T0 + 3_000);
    const third = clock.advanceBy('1s');
    await Promise.all([first, second, third]);
    expect(fired).toEqual([1_000, 2_000, 3_000, 4_000]);
    expect(at(clock)).toBe(4_000);
  });

  it('calls setSystemTime with its time when it starts and each time it moves', async () => {
    const times: number[] = [];
    const clock = new ScheduleTestingClock({ now: T0, setSystemTime: (now) => times.push(now - T0) });
    clock.setTimer(() => undefined, 1_000);
    await clock.advanceBy(1_500);
    clock.jump(500);
    expect(times).toEqual([0, 1_000, 1_500, 2_000]);
  });

  it('refuses to move back, and goes on working after a refusal', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    const backwards = clock.advanceBy(-1);
    await expect(backwards).rejects.toThrow(ClockBackwardsError);
    await expect(backwards).rejects.toThrow(
      'ScheduleTestingClock.advanceBy cannot move time back from 2026-01-01T00:00:00.000Z to 2025-12-31T23:59:59.999Z: the clock only moves forward.',
    );
    await clock.advanceBy('1m');
    const before = clock.advanceTo('2026-01-01T00:00:30Z');
    await expect(before).rejects.toMatchObject({
      code: 'CLOCK_BACKWARDS',
      now: new Date(T0 + 60_000),
      target: new Date(T0 + 30_000),
      message: 'ScheduleTestingClock.advanceTo cannot move time back from 2026-01-01T00:01:00.000Z to 2026-01-01T00:00:30.000Z: the clock only moves forward.',
    });
    await clock.advanceBy('1m');
    expect(at(clock)).toBe(120_000);
  });

  it('refuses what is not a duration or an instant, naming the call and the value', async () => {
    const clock = new ScheduleTestingClock({ now: T0 });
    await expect(clock.advanceBy('an hour')).rejects.toThrow(InvalidTimeError);
    await expect(clock.advanceBy('an hour')).rejects.toThrow('Invalid time given to ScheduleTestingClock.advanceBy: "an hour" is not a duration;');
    await expect(clock.advanceTo('soon')).rejects.toThrow('Invalid time given to ScheduleTestingClock.advanceTo: "soon" is not an instant;');
    expect(() => new ScheduleTestingClock({ now: 'today' })).toThrow(
      'Invalid time given to ScheduleTestingModule.forRoot({ now }): "today" is not an instant;',
    );
    expect(at(clock)).toBe(0);
  });

  describe('under Jest fake timers', () => {
    afterEach(() => jest.useRealTimers());

    it('moves on its own timers, not Jest’s, and settles although setImmediate is faked', async () => {
      jest.useFakeTimers({ now: 0 });
      const clock = new ScheduleTestingClock({ now: T0, setSystemTime: (now) => jest.setSystemTime(now) });
      const seen: number[] = [];
      clock.setTimer(async () => {
        await Promise.resolve();
        seen.push(Date.now() - T0);
      }, 1_000);
      await clock.advanceBy('1s');
      expect(seen).toEqual([1_000]);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
