import { INestApplication, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TESTING_IN_PRODUCTION_WARNING } from '../../lib/testing/production-notice';
import { RecordingLogger } from '../support/nest';
import {
  Cron,
  InvalidTimeError,
  Interval,
  JobContext,
  MemoryJobStore,
  ScheduleModule,
  ScheduleModuleOptions,
  ScheduleModuleOptionsFactory,
  ScheduleTestingClock,
  ScheduleTestingModule,
  ScheduleTestingOptions,
  SchedulerRegistry,
  Timeout,
  VirtualClock,
} from '../../lib';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const NOW = '2026-01-01T00:00:00Z';
const MINUTE = 60_000;

/** What the jobs of a test did, as `what@minutes after T0`. */
let log: string[];
const minutes = (date: Date | number) => ((typeof date === 'number' ? date : date.getTime()) - T0) / MINUTE;

/** Work made of promises that takes a few turns of the event loop, as a handler's calls to mocked services do. */
async function work(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

@Injectable()
class ReportJobs {
  sent = 0;

  @Cron('0 */15 * * * *', { name: 'report', timeZone: 'UTC' })
  async report({ scheduledAt }: JobContext) {
    log.push(`report start@${minutes(scheduledAt)}`);
    await work();
    this.sent++;
    log.push(`report end@${minutes(scheduledAt)}`);
  }

  @Interval('poll', 25 * MINUTE)
  async poll() {
    await work();
    log.push('poll');
  }

  @Timeout('warm-up', 35 * MINUTE)
  warmUp() {
    log.push('warm-up');
  }
}

@Module({ imports: [ScheduleModule.forRoot()], providers: [ReportJobs] })
class AppModule {}

type Imports = NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>;

let app: INestApplication | undefined;

beforeEach(() => {
  log = [];
});

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The test's application: `imports` and the testing module, initialized. */
async function start(imports: Imports, options: ScheduleTestingOptions = { now: NOW }) {
  const moduleRef = await Test.createTestingModule({ imports: [...imports, ScheduleTestingModule.forRoot(options)] }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, clock: moduleRef.get(ScheduleTestingClock), registry: app.get(SchedulerRegistry) };
}

const outcomes = (registry: SchedulerRegistry) =>
  registry
    .listJobs()
    .map(({ name, runs, running, lastOutcome }) => ({ name, runs, running, lastOutcome }))
    .sort((a, b) => a.name.localeCompare(b.name));

describe('ScheduleTestingModule next to the application module', () => {
  it('puts the scheduler on its clock: cron, interval and timeout run in order, each async run awaited', async () => {
    const { app, clock, registry } = await start([AppModule]);
    expect(registry.getJob('report').nextRunAt).toEqual(new Date('2026-01-01T00:15:00Z'));
    await clock.advanceBy('1h');
    expect(log).toEqual([
      'report start@15',
      'report end@15',
      'poll',
      'report start@30',
      'report end@30',
      'warm-up',
      'report start@45',
      'report end@45',
      'poll',
      'report start@60',
      'report end@60',
    ]);
    expect(app.get(ReportJobs).sent).toBe(4);
    expect(clock.now()).toBe(T0 + 60 * MINUTE);
    expect(outcomes(registry)).toEqual([
      { name: 'poll', runs: 2, running: 0, lastOutcome: 'succeeded' },
      { name: 'report', runs: 4, running: 0, lastOutcome: 'succeeded' },
      { name: 'warm-up', runs: 1, running: 0, lastOutcome: 'succeeded' },
    ]);
  });

  it('runs a whole day in one call, then on to an instant, and nothing before its time', async () => {
    const { app, clock } = await start([AppModule]);
    await clock.advanceBy('14m59s999ms');
    expect(app.get(ReportJobs).sent).toBe(0);
    await clock.advanceBy('1ms');
    expect(app.get(ReportJobs).sent).toBe(1);
    await clock.advanceTo('2026-01-02T00:00:00Z');
    expect(app.get(ReportJobs).sent).toBe(96);
    await clock.advanceTo(new Date('2026-01-02T06:00:00Z'));
    expect(app.get(ReportJobs).sent).toBe(96 + 24);
  });

  it('runs retries with their backoff within the window, each failed attempt awaited', async () => {
    const attempts: string[] = [];
    @Injectable()
    class Flaky {
      @Cron('0 10 * * * *', { name: 'flaky', timeZone: 'UTC', retry: { attempts: 3, backoffMs: MINUTE } })
      async sync({ attempt, firedAt }: JobContext) {
        attempts.push(`attempt ${attempt}@${minutes(firedAt)}`);
        await work();
        if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
      }
    }
    @Module({ imports: [ScheduleModule.forRoot()], providers: [Flaky] })
    class FlakyModule {}
    const { clock, registry } = await start([FlakyModule]);
    const failed: string[] = [];
    registry.events$.subscribe((event) => event.type === 'run.failed' && failed.push(`${event.attempt}: ${String(event.error)} retry=${event.willRetry}`));
    await clock.advanceBy('12m');
    // 00:10 fails, 00:11 (after 1 minute) fails, the third waits 2 minutes.
    expect(attempts).toEqual(['attempt 1@10', 'attempt 2@11']);
    expect(failed).toEqual(['1: Error: attempt 1 failed retry=true', '2: Error: attempt 2 failed retry=true']);
    await clock.advanceBy('1m');
    expect(attempts).toEqual(['attempt 1@10', 'attempt 2@11', 'attempt 3@13']);
    expect(outcomes(registry)).toEqual([{ name: 'flaky', runs: 1, running: 0, lastOutcome: 'succeeded' }]);
  });

  it('ends, within the window, a run that outlives its timeoutMs, as the scheduler does', async () => {
    @Injectable()
    class Slow {
      @Interval('slow', 10 * MINUTE, { timeoutMs: 2 * MINUTE })
      async crawl({ signal, firedAt }: JobContext) {
        log.push(`start@${minutes(firedAt)}`);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        log.push(`aborted: ${String(signal.reason)}`);
      }
    }
    @Module({ imports: [ScheduleModule.forRoot()], providers: [Slow] })
    class SlowModule {}
    const { clock, registry } = await start([SlowModule]);
    await clock.advanceBy('11m');
    expect(log).toEqual(['start@10']);
    expect(outcomes(registry)).toEqual([{ name: 'slow', runs: 1, running: 1, lastOutcome: null }]);
    await clock.advanceBy('1m');
    expect(log).toEqual(['start@10', 'aborted: RunTimeoutError: Job "slow" timed out after 120000 ms']);
    expect(outcomes(registry)).toEqual([{ name: 'slow', runs: 1, running: 0, lastOutcome: 'timed-out' }]);
  });

  it('runs jobs added at run time; runDue lets a run triggered now settle', async () => {
    const { clock, registry } = await start([AppModule]);
    await registry.addJob({ name: 'added', trigger: { every: 5 * MINUTE }, handler: async () => void log.push(`added@${minutes(clock.now())}`) });
    await clock.advanceBy('10m');
    expect(log).toEqual(['added@5', 'added@10']);
    void registry.triggerJob('report');
    await clock.runDue();
    expect(log).toEqual(['added@5', 'added@10', 'report start@10', 'report end@10']);
  });

  it('jump stands for a suspended process: ticks found late are missed, and handled as the misfire policy says', async () => {
    const { app, clock, registry } = await start([AppModule]);
    const missed: string[] = [];
    registry.events$.subscribe((event) => event.type === 'run.missed' && missed.push(`${event.job} ${event.count} ${event.reason}`));
    clock.jump(40 * MINUTE);
    await clock.runDue();
    // The default policy, 'once': the missed ticks are reported, and each job runs once for them, at once.
    expect(missed).toEqual(['report 2 late', 'poll 1 late', 'warm-up 1 late']);
    expect(log).toEqual(['report start@30', 'warm-up', 'report end@30', 'poll']);
    expect(app.get(ReportJobs).sent).toBe(1);
    expect(clock.now()).toBe(T0 + 40 * MINUTE);
  });

  it('moves to the next due timer with advanceToNext', async () => {
    const { clock } = await start([AppModule]);
    await expect(clock.advanceToNext()).resolves.toEqual(new Date('2026-01-01T00:15:00Z'));
    await expect(clock.advanceToNext()).resolves.toEqual(new Date('2026-01-01T00:25:00Z'));
    expect(log).toEqual(['report start@15', 'report end@15', 'poll']);
  });

  it('lets app.close() wait, on its time, for a run that ignores its signal: close while advancing', async () => {
    let release!: () => void;
    @Injectable()
    class Stuck {
      @Timeout('stuck', MINUTE)
      async hang() {
        await new Promise<void>((resolve) => (release = resolve));
        log.push('ended');
      }
    }
    @Module({ imports: [ScheduleModule.forRoot({ shutdownTimeout: 30_000 })], providers: [Stuck] })
    class StuckModule {}
    const { clock, registry } = await start([StuckModule]);
    await clock.advanceBy('1m');
    expect(outcomes(registry)).toEqual([{ name: 'stuck', runs: 1, running: 1, lastOutcome: null }]);
    let closed = false;
    const closing = app!.close().then(() => (closed = true));
    app = undefined;
    await clock.advanceBy('29s');
    expect(closed).toBe(false);
    await clock.advanceBy('1s');
    await closing;
    expect({ closed, pendingTimers: clock.pendingTimers }).toEqual({ closed: true, pendingTimers: 0 });
    release();
    await clock.settle();
    expect(log).toEqual(['ended']);
  });

  it('leaves no timer behind when the application closes', async () => {
    const { clock } = await start([AppModule]);
    await clock.advanceBy('1h');
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await app!.close();
    app = undefined;
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('ScheduleTestingModule with the application’s own configuration', () => {
  it('works with forRootAsync and a factory that waits for its configuration', async () => {
    @Injectable()
    class Config {
      async shutdownTimeout() {
        await work();
        return 1_000;
      }
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    @Module({
      imports: [
        ScheduleModule.forRootAsync({
          imports: [ConfigModule],
          useFactory: async (config: Config) => ({ shutdownTimeout: await config.shutdownTimeout(), defaults: { retry: { attempts: 1 } } }),
          inject: [Config],
        }),
      ],
      providers: [ReportJobs],
    })
    class AsyncAppModule {}
    const { app, clock, registry } = await start([AsyncAppModule]);
    await clock.advanceBy('30m');
    expect(app.get(ReportJobs).sent).toBe(2);
    expect(registry.getJob('report').options.retry).toMatchObject({ attempts: 1 });
  });

  it('works with forRootAsync({ useClass })', async () => {
    class Options implements ScheduleModuleOptionsFactory {
      createScheduleOptions(): ScheduleModuleOptions {
        return { timeouts: false };
      }
    }
    @Module({ imports: [ScheduleModule.forRootAsync({ useClass: Options })], providers: [ReportJobs] })
    class ClassAppModule {}
    const { clock, registry } = await start([ClassAppModule]);
    await clock.advanceBy('1h');
    expect(outcomes(registry).map((job) => job.name)).toEqual(['poll', 'report']);
    expect(log.filter((line) => line === 'poll')).toHaveLength(2);
  });

  it('replaces the clock the options give, and only the clock: the store given is the one used', async () => {
    const theirClock = new VirtualClock(0);
    const store = new MemoryJobStore({ shared: true });
    @Module({ imports: [ScheduleModule.forRoot({ clock: theirClock, store, instanceId: 'test-instance' })], providers: [ReportJobs] })
    class StoredAppModule {}
    const { app, clock, registry } = await start([StoredAppModule]);
    await registry.addJob({ name: 'stored', trigger: { every: 10 * MINUTE }, handler: () => undefined });
    await clock.advanceBy('1h');
    expect(theirClock.pendingTimers).toBe(0);
    expect(app.get(ReportJobs).sent).toBe(4);
    expect(registry.getJob('stored').runs).toBe(6);
    expect((await store.instances(clock.now())).map(({ id, startedAt }) => ({ id, startedAt }))).toEqual([{ id: 'test-instance', startedAt: T0 }]);
  });

  it('serves a ScheduleModule imported in a feature module, and twice, with one scheduler', async () => {
    @Module({ imports: [ScheduleModule.forRoot()], providers: [ReportJobs] })
    class ReportsModule {}
    @Module({ imports: [ReportsModule, ScheduleModule.forRoot()] })
    class RootModule {}
    const { app, clock } = await start([RootModule]);
    await clock.advanceBy('1h');
    expect(app.get(ReportJobs).sent).toBe(4);
  });

  it('keeps Date.now() in step under Jest fake timers, through setSystemTime', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    try {
      const seen: string[] = [];
      @Injectable()
      class Stamps {
        @Cron('0 0 * * * *', { name: 'stamp', timeZone: 'UTC' })
        async stamp({ scheduledAt }: JobContext) {
          await new Promise<void>((resolve) => process.nextTick(resolve));
          seen.push(`${scheduledAt.toISOString()} ${new Date().toISOString()}`);
        }
      }
      @Module({ imports: [ScheduleModule.forRoot()], providers: [Stamps] })
      class StampsModule {}
      const { clock } = await start([StampsModule], { now: NOW, setSystemTime: (now) => jest.setSystemTime(now) });
      expect(Date.now()).toBe(T0);
      await clock.advanceBy('2h');
      expect(seen).toEqual(['2026-01-01T01:00:00.000Z 2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z 2026-01-01T02:00:00.000Z']);
      expect(Date.now()).toBe(T0 + 120 * MINUTE);
    } finally {
      await app?.close();
      app = undefined;
      jest.useRealTimers();
    }
  });

  it('refuses a start time that is not an instant, naming the option and the value', () => {
    expect(() => ScheduleTestingModule.forRoot({ now: '2026-13-01' })).toThrow(InvalidTimeError);
    expect(() => ScheduleTestingModule.forRoot({ now: '2026-13-01' })).toThrow(
      'Invalid time given to ScheduleTestingModule.forRoot({ now }): "2026-13-01" is not an instant; expected a Date, milliseconds since the epoch, or an ISO 8601 date such as "2026-01-01T00:00:00Z".',
    );
  });
});

describe('ScheduleTestingModule imported where NODE_ENV is production', () => {
  const before = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = before;
  });

  it('warns at start-up that no job fires by itself; elsewhere it says nothing', async () => {
    for (const [env, warned] of [
      ['production', true],
      ['test', false],
    ] as const) {
      process.env.NODE_ENV = env;
      const logger = new RecordingLogger();
      const moduleRef = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), ScheduleTestingModule.forRoot({ now: NOW })] }).compile();
      const testApp = moduleRef.createNestApplication({ logger });
      await testApp.init();
      await testApp.close();
      expect(logger.find('warn', TESTING_IN_PRODUCTION_WARNING)).toEqual(
        warned ? [{ level: 'warn', message: TESTING_IN_PRODUCTION_WARNING, context: 'ScheduleTestingModule' }] : [],
      );
    }
  });
});
