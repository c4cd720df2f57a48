import { Injectable } from '@nestjs/common';
import { Cron, JobContext, ScheduleTestingClock, ScheduleTestingModule, SchedulerRegistry, Timeout } from '../../lib';
import { startApp, T0 } from '../support/nest';

const DAY = 86_400_000;

describe('daylight saving time, through the whole module on the testing clock', () => {
  const cases: Array<[zone: string, expression: string, from: string, expected: string]> = [
    ['America/New_York', '0 30 2 * * *', '2026-03-07T12:00:00Z', '2026-03-08T07:00:00.000Z'],
    ['America/New_York', '0 30 1 * * *', '2026-10-31T12:00:00Z', '2026-11-01T05:30:00.000Z'],
    ['Europe/London', '0 30 2 * * *', '2026-03-28T12:00:00Z', '2026-03-29T01:30:00.000Z'],
    ['Europe/London', '0 30 1 * * *', '2026-10-24T12:00:00Z', '2026-10-25T00:30:00.000Z'],
    ['Australia/Lord_Howe', '0 30 2 * * *', '2026-10-03T00:00:00Z', '2026-10-03T15:30:00.000Z'],
    ['Australia/Lord_Howe', '0 30 1 * * *', '2026-04-04T00:00:00Z', '2026-04-04T14:30:00.000Z'],
  ];

  it.each(cases)('%s "%s" from %s fires exactly once on the day of the change, at %s, then daily', async (zone, expression, from, expected) => {
    const fired: string[] = [];
    @Injectable()
    class Jobs {
      constructor(private readonly clock: ScheduleTestingClock) {}
      @Cron(expression, { timeZone: zone })
      run(context: JobContext) {
        expect(this.clock.now()).toBe(context.scheduledAt.getTime());
        fired.push(context.scheduledAt.toISOString());
      }
    }
    const { app } = await startApp([Jobs], {}, { imports: [ScheduleTestingModule.forRoot({ now: from })] });
    const clock = app.get(ScheduleTestingClock);
    await clock.advanceBy('1d');
    expect(fired).toEqual([expected]);
    await clock.advanceBy('1d');
    expect(fired).toHaveLength(2);
    await app.close();
  });
});

describe('a @Timeout longer than 2^31-1 ms', () => {
  afterEach(() => jest.useRealTimers());

  it('fires once, 40 days after start, under Jest fake timers, and its handle stays clearable', async () => {
    jest.useFakeTimers({ now: T0 });
    const fired: number[] = [];
    @Injectable()
    class Jobs {
      @Timeout('far', 40 * DAY)
      far() {
        fired.push(Date.now() - T0);
      }
      @Timeout('cleared', 30 * DAY)
      cleared() {
        fired.push(-1);
      }
    }
    const { app } = await startApp([Jobs]);
    const registry = app.get(SchedulerRegistry);
    const handle = registry.getTimeout('cleared');
    await jest.advanceTimersByTimeAsync(25 * DAY);
    expect(registry.getTimeout('cleared')).toBe(handle);
    clearTimeout(handle);
    await jest.advanceTimersByTimeAsync(16 * DAY);
    expect(fired).toEqual([40 * DAY]);
    await app.close();
  });

  it('fires once, 40 days after start, on the testing clock, which refuses longer delays than Node as VirtualClock does', async () => {
    const fired: number[] = [];
    @Injectable()
    class Jobs {
      @Timeout(40 * DAY)
      far({ firedAt }: JobContext) {
        fired.push(firedAt.getTime() - T0);
      }
    }
    const { app } = await startApp([Jobs], {}, { imports: [ScheduleTestingModule.forRoot({ now: T0 })] });
    await app.get(ScheduleTestingClock).advanceBy('41d');
    expect(fired).toEqual([40 * DAY]);
    await app.close();
  });
});
