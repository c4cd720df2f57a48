import { Controller, Injectable, Module, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Cron,
  CronExpression,
  Interval,
  InvalidScheduleError,
  JobContext,
  ScheduleModule,
  ScheduleModuleOptions,
  ScheduleModuleOptionsFactory,
  SchedulerRegistry,
  Timeout,
  VirtualClock,
} from '../../lib';
import { CronExpression as PeerCronExpression } from '@nestjs/schedule';
import { closeWhileRunning, RecordingLogger, startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

/** Records each call of a decorated method: which method, at which (fake) time, with which context. */
class Calls {
  readonly list: Array<{ method: string; at: number; context?: JobContext }> = [];
  add(method: string, context?: JobContext) {
    this.list.push({ method, at: Date.now() - T0, context });
  }
  of(method: string) {
    return this.list.filter((c) => c.method === method).map((c) => c.at);
  }
}

describe('CronExpression', () => {
  it("has the same 83 members and values as @nestjs/schedule's", () => {
    expect(Object.keys(CronExpression)).toHaveLength(83);
    expect({ ...CronExpression }).toEqual({ ...PeerCronExpression });
  });
});

describe('@Cron, @Interval and @Timeout', () => {
  it('fire on their schedules, each method with a JobContext', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron(CronExpression.EVERY_SECOND)
      everySecond(context: JobContext) {
        calls.add('cron', context);
      }
      @Interval(1_500)
      interval() {
        calls.add('interval');
      }
      @Timeout(2_500)
      timeout() {
        calls.add('timeout');
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(calls.of('cron')).toEqual([1_000, 2_000, 3_000, 4_000]);
    expect(calls.of('interval')).toEqual([1_500, 3_000]);
    expect(calls.of('timeout')).toEqual([2_500]);
    const context = calls.list.find((c) => c.method === 'cron')!.context!;
    expect(context).toMatchObject({ name: 'Jobs.everySecond', attempt: 1 });
    expect(context.scheduledAt.getTime()).toBe(T0 + 1_000);
    await app.close();
  });

  it('describe their jobs: the kind of decorator and the method, in getJob().meta', async () => {
    @Injectable()
    class Described {
      @Cron('* * * * * *', { name: 'described-cron' })
      @Interval(5_000)
      @Timeout('described-timeout', 1_000)
      run() {}
    }
    const { app } = await startApp([Described]);
    const registry = app.get(SchedulerRegistry);
    expect(registry.listJobs().map((job) => [job.name, job.kind, job.meta])).toEqual([
      ['described-cron', 'cron', { kind: 'cron', target: 'Described.run' }],
      ['Described.run', 'interval', { kind: 'interval', target: 'Described.run' }],
      ['described-timeout', 'delay', { kind: 'timeout', target: 'Described.run' }],
    ]);
    await app.close();
  });

  it('are found on controllers too', async () => {
    const calls = new Calls();
    @Controller()
    class TasksController {
      @Interval('from-controller', 1_000)
      tick() {
        calls.add('tick');
      }
    }
    const { app } = await startApp([], {}, { controllers: [TasksController] });
    await jest.advanceTimersByTimeAsync(2_000);
    expect(calls.of('tick')).toEqual([1_000, 2_000]);
    await app.close();
  });

  it('may be stacked on one method, each a job of its own', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('*/2 * * * * *')
      @Interval('every-3s', 3_000)
      @Timeout(500)
      work(context: JobContext) {
        calls.add(context.name);
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(6_000);
    expect(calls.of('Jobs.work')).toEqual([2_000, 4_000, 6_000]);
    expect(calls.of('every-3s')).toEqual([3_000, 6_000]);
    expect(calls.of('Jobs.work#2')).toEqual([500]);
    await app.close();
  });

  it('call the live instance from the container at each run', async () => {
    @Injectable()
    class Jobs {
      @Interval('live', 1_000)
      tick() {
        return 'original';
      }
    }
    const { app } = await startApp([Jobs]);
    const spy = jest.spyOn(app.get(Jobs), 'tick');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(spy).toHaveBeenCalledTimes(1);
    await app.close();
  });

  it('run once when ScheduleModule.forRoot() is imported by two modules', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('* * * * * *')
      tick() {
        calls.add('tick');
      }
    }
    @Module({ imports: [ScheduleModule.forRoot()], providers: [Jobs] })
    class FeatureModule {}
    @Module({ imports: [ScheduleModule.forRoot(), FeatureModule] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await jest.advanceTimersByTimeAsync(3_000);
    expect(calls.of('tick')).toEqual([1_000, 2_000, 3_000]);
    expect(app.get(SchedulerRegistry).getCronJobs().size).toBe(1);
    await app.close();
  });

  it('warn when the imports of ScheduleModule disagree on options', async () => {
    @Module({ imports: [ScheduleModule.forRoot({ shutdownTimeout: 1 })] })
    class FeatureModule {}
    @Module({ imports: [ScheduleModule.forRoot({ shutdownTimeout: 5_000 }), FeatureModule] })
    class AppModule {}
    const logger = new RecordingLogger();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(logger)
      .compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    expect(
      logger.find(
        'warn',
        'ScheduleModule is imported more than once with different options; only one set is used. Import ScheduleModule.forRoot() once, in the root module.',
      ),
    ).toHaveLength(1);
    await app.close();
  });

  it.each([
    ['cronJobs', 'cron'],
    ['intervals', 'interval'],
    ['timeouts', 'timeout'],
  ] as const)('are not discovered when %s is false', async (option, kind) => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'cron' })
      cron() {
        calls.add('cron');
      }
      @Interval('interval', 1_000)
      interval() {
        calls.add('interval');
      }
      @Timeout('timeout', 1_000)
      timeout() {
        calls.add('timeout');
      }
    }
    const { app } = await startApp([Jobs], { [option]: false });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(calls.of(kind)).toEqual([]);
    expect(calls.list).toHaveLength(2);
    expect(app.get(SchedulerRegistry).doesExist(kind, kind)).toBe(false);
    await app.close();
  });

  it('skip request-scoped and transient providers with the warning of @nestjs/schedule', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class RequestJobs {
      @Cron('* * * * * *')
      cron() {}
      @Interval(1_000)
      interval() {}
      @Timeout(1_000)
      timeout() {}
    }
    const { app, logger } = await startApp([RequestJobs]);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toEqual([
      { level: 'warn', context: 'Scheduler', message: 'Cannot register cron job "RequestJobs@cron" because it is defined in a non static provider.' },
      { level: 'warn', context: 'Scheduler', message: 'Cannot register interval "RequestJobs@interval" because it is defined in a non static provider.' },
      { level: 'warn', context: 'Scheduler', message: 'Cannot register timeout "RequestJobs@timeout" because it is defined in a non static provider.' },
    ]);
    expect(app.get(SchedulerRegistry).listJobs()).toEqual([]);
    await app.close();
  });

  it('do not trip over providers with a null prototype or no instance', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Interval('ok', 1_000)
      tick() {
        calls.add('tick');
      }
    }
    const { app } = await startApp(
      [Jobs],
      {},
      {
        providers: [
          { provide: 'NULL_PROTO', useValue: Object.create(null) } as never,
          { provide: 'NULL_VALUE', useValue: null } as never,
          { provide: 'NUMBER', useValue: 42 } as never,
        ],
      },
    );
    await jest.advanceTimersByTimeAsync(1_000);
    expect(calls.of('tick')).toEqual([1_000]);
    await app.close();
  });
});

describe('CronOptions', () => {
  it('name, timeZone and utcOffset decide what the job is called and when it fires', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('0 0 9 * * *', { name: 'paris', timeZone: 'Europe/Paris' })
      paris() {
        calls.add('paris');
      }
      @Cron('0 0 9 * * *', { name: 'kolkata', utcOffset: 330 })
      kolkata() {
        calls.add('kolkata');
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(86_400_000);
    expect(calls.of('paris')).toEqual([8 * 3_600_000]);
    expect(calls.of('kolkata')).toEqual([3.5 * 3_600_000]);
    const registry = app.get(SchedulerRegistry);
    expect(registry.getCronJob('paris').nextDate().toISO()).toBe('2026-01-02T09:00:00.000+01:00');
    await app.close();
  });

  it('disabled registers the job stopped until start()', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'off', disabled: true })
      off() {
        calls.add('off');
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(2_000);
    const job = app.get(SchedulerRegistry).getCronJob('off');
    expect(calls.of('off')).toEqual([]);
    expect(job.isActive).toBe(false);
    job.start();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(calls.of('off')).toEqual([3_000, 4_000]);
    await app.close();
  });

  it('waitForCompletion skips ticks while a run is going; false lets runs overlap', async () => {
    let running = 0;
    const peaks: Record<string, number> = { wait: 0, overlap: 0 };
    const slow = async (key: string) => {
      running++;
      peaks[key] = Math.max(peaks[key], running);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      running--;
    };
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'wait', waitForCompletion: true })
      wait() {
        return slow('wait');
      }
    }
    const first = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(6_000);
    expect(peaks.wait).toBe(1);
    await closeWhileRunning(first.app);

    @Injectable()
    class Overlapping {
      @Cron('* * * * * *', { name: 'overlap', waitForCompletion: false })
      overlap() {
        return slow('overlap');
      }
    }
    const second = await startApp([Overlapping]);
    await jest.advanceTimersByTimeAsync(6_000);
    expect(peaks.overlap).toBe(3);
    await closeWhileRunning(second.app);
  });

  it('initialDelay holds the first tick back after start; unrefTimeout does not disturb firing', async () => {
    const calls = new Calls();
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'delayed', initialDelay: 2_500, unrefTimeout: true })
      delayed() {
        calls.add('delayed');
      }
    }
    const { app } = await startApp([Jobs]);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls.of('delayed')).toEqual([3_000, 4_000, 5_000]);
    await app.close();
  });

  it('threshold reports a tick found later than it as missed, naming the job, and runs it once', async () => {
    jest.useRealTimers();
    const clock = new VirtualClock(T0);
    const runs: Array<[tick: number, at: number]> = [];
    @Injectable()
    class Jobs {
      @Cron('* * * * * *', { name: 'strict', threshold: 100 })
      strict({ scheduledAt }: JobContext) {
        runs.push([scheduledAt.getTime() - T0, clock.now() - T0]);
        // The first run blocks the event loop for 1.5 s: the tick of second 2 is found 500 ms late.
        if (runs.length === 1) clock.jump(1_500);
      }
    }
    const { app, logger } = await startApp([Jobs], { clock });
    await clock.advanceAsync(4_000);
    expect(runs).toEqual([
      [1_000, 1_000],
      [2_000, 2_500],
      [3_000, 3_000],
      [4_000, 4_000],
    ]);
    expect(logger.find('warn', 'Job "strict" missed 1 tick (from 2026-01-01T00:00:02.000Z, found 500 ms late).')).toHaveLength(1);
    await app.close();
  });
});

describe('ScheduleModule.forRootAsync', () => {
  @Injectable()
  class Jobs {
    static calls = 0;
    @Interval('async', 1_000)
    tick() {
      Jobs.calls++;
    }
  }

  @Injectable()
  class OptionsFactory implements ScheduleModuleOptionsFactory {
    createScheduleOptions(): ScheduleModuleOptions {
      return { intervals: false };
    }
  }

  @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
  class OptionsModule {}

  const cases: Array<[string, Parameters<typeof ScheduleModule.forRootAsync>[0], number]> = [
    [
      'useFactory with inject and imports',
      { imports: [OptionsModule], useFactory: async (factory: OptionsFactory) => factory.createScheduleOptions(), inject: [OptionsFactory] },
      0,
    ],
    ['useFactory', { useFactory: () => ({}) }, 2],
    ['useClass', { useClass: OptionsFactory }, 0],
    ['useExisting', { imports: [OptionsModule], useExisting: OptionsFactory }, 0],
  ];

  it.each(cases)('reads options with %s', async (_label, asyncOptions, expected) => {
    Jobs.calls = 0;
    const moduleRef = await Test.createTestingModule({ imports: [ScheduleModule.forRootAsync(asyncOptions)], providers: [Jobs] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(Jobs.calls).toBe(expected);
    await app.close();
  });

  it('refuses async options with no way to make them', () => {
    expect(() => ScheduleModule.forRootAsync({ imports: [] })).toThrow(
      new InvalidScheduleError('', 'forRootAsync', ['imports'], 'has none of useFactory, useClass or useExisting: give one, to make the options.'),
    );
    expect(() => ScheduleModule.forRootAsync({ imports: [] })).toThrow(
      'Invalid forRootAsync in the ScheduleModule options: ["imports"] has none of useFactory, useClass or useExisting: give one, to make the options.',
    );
  });
});
