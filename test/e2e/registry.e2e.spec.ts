import { Injectable } from '@nestjs/common';
import { CronJob as CronPackageJob } from 'cron';
import { DateTime } from 'luxon';
import { Cron, CronJob, CronTime, DuplicateJobError, Interval, JobNotFoundError, SchedulerEvent, SchedulerRegistry, Timeout } from '../../lib';
import { expectErrorsLikeCron, expectLastDatesLikeCron, failing, taking } from '../support/cron-compat';
import { closeWhileRunning, startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

const missing = (kind: string, name: string) =>
  `No ${kind} was found with the given name (${name}). Check that you created one with a decorator or with the create API.`;
const duplicate = (kind: string, name: string) => `${kind} with the given name (${name}) already exists. Ignored.`;

let fired: string[] = [];

@Injectable()
class Jobs {
  @Cron('* * * * * *', { name: 'cron' })
  cron() {
    fired.push(`cron@${Date.now() - T0}`);
  }
  @Interval('interval', 1_000)
  interval() {
    fired.push(`interval@${Date.now() - T0}`);
  }
  @Timeout('timeout', 1_500)
  timeout() {
    fired.push(`timeout@${Date.now() - T0}`);
  }
}

async function setup() {
  fired = [];
  const { app, logger } = await startApp([Jobs]);
  return { app, logger, registry: app.get(SchedulerRegistry) };
}

describe('SchedulerRegistry: lookups and messages', () => {
  it('finds decorated jobs by kind and name', async () => {
    const { app, registry } = await setup();
    expect(registry.doesExist('cron', 'cron')).toBe(true);
    expect(registry.doesExist('interval', 'interval')).toBe(true);
    expect(registry.doesExist('timeout', 'timeout')).toBe(true);
    expect(registry.doesExist('cron', 'interval')).toBe(false);
    expect(registry.doesExist('nonsense' as 'cron', 'cron')).toBe(false);
    expect(registry.getCronJobs()).toBeInstanceOf(Map);
    expect([...registry.getCronJobs().keys()]).toEqual(['cron']);
    expect(registry.getIntervals()).toEqual(['interval']);
    expect(registry.getTimeouts()).toEqual(['timeout']);
    await app.close();
  });

  it.each([
    ['getCronJob', 'Cron Job'],
    ['getInterval', 'Interval'],
    ['getTimeout', 'Timeout'],
    ['deleteCronJob', 'Cron Job'],
    ['deleteInterval', 'Interval'],
    ['deleteTimeout', 'Timeout'],
  ] as const)('%s of an unknown name throws the message of @nestjs/schedule', async (method, kind) => {
    const { app, registry } = await setup();
    expect(() => registry[method]('nope')).toThrow(new Error(missing(kind, 'nope')));
    expect(() => registry[method]('nope')).toThrow(JobNotFoundError);
    await app.close();
  });

  it.each([
    ['addCronJob', 'Cron Job', 'cron', () => new CronJob('* * * * * *', () => undefined)],
    ['addInterval', 'Interval', 'interval', () => setInterval(() => undefined, 1_000)],
    ['addTimeout', 'Timeout', 'timeout', () => setTimeout(() => undefined, 1_000)],
  ] as const)('%s of a taken name throws the message of @nestjs/schedule and changes nothing', async (method, kind, name, make) => {
    const { app, registry } = await setup();
    const value = make();
    expect(() => (registry[method] as (n: string, v: unknown) => void)(name, value)).toThrow(new Error(duplicate(kind, name)));
    expect(() => (registry[method] as (n: string, v: unknown) => void)(name, value)).toThrow(DuplicateJobError);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(fired.sort()).toEqual(['cron@1000', 'interval@1000']);
    if (value instanceof CronJob) value.stop();
    else clearTimeout(value as ReturnType<typeof setTimeout>);
    await app.close();
  });

  it('rejects app.init() when two providers use the same job name', async () => {
    @Injectable()
    class One {
      @Cron('* * * * * *', { name: 'same' })
      run() {}
    }
    @Injectable()
    class Two {
      @Cron('*/5 * * * * *', { name: 'same' })
      run() {}
    }
    await expect(startApp([One, Two])).rejects.toThrow(new Error(duplicate('Cron Job', 'same')));

    @Injectable()
    class Three {
      @Interval('same-interval', 1_000)
      run() {}
    }
    @Injectable()
    class Four {
      @Interval('same-interval', 2_000)
      run() {}
    }
    await expect(startApp([Three, Four])).rejects.toThrow(new Error(duplicate('Interval', 'same-interval')));
  });

  it('says which kinds collide when jobs of different kinds share a name', async () => {
    @Injectable()
    class Crons {
      @Cron('* * * * * *', { name: 'shared' })
      run() {}
    }
    @Injectable()
    class Timers {
      @Timeout('shared', 1_000)
      later() {}
    }
    await expect(startApp([Crons, Timers])).rejects.toThrow(
      new Error(
        `${duplicate('Timeout', 'shared')} The name is taken by a cron job (Crons.run): cron jobs, intervals, timeouts and jobs added with addJob share one set of names.`,
      ),
    );
  });
});

describe('SchedulerRegistry: cron job handles', () => {
  it('behave like a cron CronJob: stop, start, isActive, lastDate, nextDate(s)', async () => {
    const { app, registry } = await setup();
    const job = registry.getCronJob('cron');
    expect(job.isActive).toBe(true);
    expect(job.lastDate()).toBeNull();
    expect(job.nextDate()).toBeInstanceOf(DateTime);
    expect(job.nextDate().toMillis()).toBe(T0 + 1_000);
    expect(job.nextDates(3).map((d) => d.toMillis() - T0)).toEqual([1_000, 2_000, 3_000]);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(job.lastDate()).toEqual(new Date(T0 + 2_000));
    job.stop();
    expect(job.isActive).toBe(false);
    await jest.advanceTimersByTimeAsync(3_000);
    job.start();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(fired.filter((f) => f.startsWith('cron'))).toEqual(['cron@1000', 'cron@2000', 'cron@6000']);
    await app.close();
  });

  it('fireOnTick() runs the job now and reports isCallbackRunning while it runs', async () => {
    let release!: () => void;
    @Injectable()
    class Slow {
      @Cron('0 0 * * * *', { name: 'slow' })
      run() {
        return new Promise<void>((resolve) => (release = resolve));
      }
    }
    const { app } = await startApp([Slow]);
    const job = app.get(SchedulerRegistry).getCronJob('slow');
    const done = job.fireOnTick();
    expect(job.isCallbackRunning).toBe(true);
    release();
    await done;
    expect(job.isCallbackRunning).toBe(false);
    expect(job.lastDate()).toEqual(new Date(T0));
    await app.close();
  });

  it('addCallback() adds a function that runs after the decorated method on each tick', async () => {
    const { app, registry } = await setup();
    const extra: number[] = [];
    registry.getCronJob('cron').addCallback(() => void extra.push(Date.now() - T0));
    await jest.advanceTimersByTimeAsync(2_000);
    expect(extra).toEqual([1_000, 2_000]);
    expect(fired.filter((f) => f.startsWith('cron'))).toEqual(['cron@1000', 'cron@2000']);
    await app.close();
  });

  it('nextDate() agrees with when the job fires, also for hashed (H) expressions', async () => {
    @Injectable()
    class Hashed {
      @Cron('H H * * * *', { name: 'spread' })
      spread() {
        fired.push(`spread@${Date.now() - T0}`);
      }
    }
    fired = [];
    const { app } = await startApp([Hashed]);
    const registry = app.get(SchedulerRegistry);
    const next = registry.getCronJob('spread').nextDate().toMillis();
    expect(registry.getJob('spread').nextRunAt!.getTime()).toBe(next);
    await jest.advanceTimersByTimeAsync(next - T0);
    expect(fired).toEqual([`spread@${next - T0}`]);
    await app.close();
  });

  it('setTime() moves the job to a new CronTime', async () => {
    const { app, registry } = await setup();
    const job = registry.getCronJob('cron');
    job.setTime(new CronTime('*/10 * * * * *'));
    await jest.advanceTimersByTimeAsync(20_000);
    expect(fired.filter((f) => f.startsWith('cron'))).toEqual(['cron@10000', 'cron@20000']);
    expect(() => job.setTime('* * * * *' as never)).toThrow('must be an instance of CronTime');
    await app.close();
  });
});

describe('SchedulerRegistry: addCronJob', () => {
  it("takes a CronJob from the cron package, which start() then runs on the app's scheduler", async () => {
    const { app, registry } = await setup();
    const ticks: number[] = [];
    const job = new CronPackageJob('*/2 * * * * *', () => void ticks.push(Date.now() - T0));
    registry.addCronJob('from-cron', job);
    expect(registry.getCronJob('from-cron')).toBe(job);
    expect(job.isActive).toBe(false);
    job.start();
    expect(job.isActive).toBe(true);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(ticks).toEqual([2_000, 4_000]);
    expect(registry.getJob('from-cron')).toMatchObject({ name: 'from-cron', runs: 2 });
    registry.deleteCronJob('from-cron');
    await jest.advanceTimersByTimeAsync(4_000);
    expect(ticks).toEqual([2_000, 4_000]);
    expect(registry.doesExist('cron', 'from-cron')).toBe(false);
    await app.close();
  });

  it("takes this package's CronJob, made with new or CronJob.from, keeping it started", async () => {
    const { app, registry } = await setup();
    const ticks: string[] = [];
    const viaNew = new CronJob('*/2 * * * * *', () => void ticks.push(`new@${Date.now() - T0}`));
    const viaFrom = CronJob.from({ cronTime: '*/3 * * * * *', onTick: () => void ticks.push(`from@${Date.now() - T0}`), start: true });
    registry.addCronJob('via-new', viaNew);
    registry.addCronJob('via-from', viaFrom);
    expect(viaFrom.isActive).toBe(true);
    viaNew.start();
    await jest.advanceTimersByTimeAsync(6_000);
    expect(ticks.sort()).toEqual(['from@3000', 'from@6000', 'new@2000', 'new@4000', 'new@6000']);
    await app.close();
    expect(registry.getCronJobs().size).toBe(0);
  });

  it('refuses something that is not a CronJob', async () => {
    const { app, registry } = await setup();
    expect(() => registry.addCronJob('odd', { start() {} } as never)).toThrow(
      'Invalid job for job "odd": {} is not a CronJob (from this package or from \'cron\').',
    );
    await app.close();
  });
});

@Injectable()
class SlowJobs {
  @Cron('* * * * * *', { name: 'slow', waitForCompletion: true })
  slow() {
    return taking(10_000)();
  }
}

/** The kinds of cron job handles, each started as `slow`: every second, taking 10 s, with waitForCompletion. */
const slowJobs = {
  '@Cron': async () => (await startApp([SlowJobs])).app,
  "cron's CronJob": async () => addSlow(CronPackageJob.from({ cronTime: '* * * * * *', onTick: taking(10_000), waitForCompletion: true })),
  "this package's CronJob": async () => addSlow(CronJob.from({ cronTime: '* * * * * *', onTick: taking(10_000), waitForCompletion: true })),
};

async function addSlow(job: CronJob | CronPackageJob) {
  const { app } = await startApp([]);
  app.get(SchedulerRegistry).addCronJob('slow', job);
  job.start();
  return app;
}

/** Unhandled rejections seen during each test. */
function watchUnhandled(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  return unhandled;
}

/** Each kind of cron job, beside the same job of the `cron` package, which gives the expected values. */
describe("SchedulerRegistry: cron jobs beside cron's", () => {
  const unhandled = watchUnhandled();

  it.each(Object.keys(slowJobs) as Array<keyof typeof slowJobs>)(
    '%s with waitForCompletion: lastDate() counts skipped ticks, not those while stopped',
    async (kind) => {
      const app = await slowJobs[kind]();
      const theirs = CronPackageJob.from({ cronTime: '* * * * * *', onTick: taking(10_000), waitForCompletion: true, start: true });
      const ours = app.get(SchedulerRegistry).getCronJob('slow');
      await expectLastDatesLikeCron(ours, theirs);
      const stopped = theirs.stop();
      await closeWhileRunning(app);
      await stopped;
      expect(theirs.lastDate()).toEqual(new Date(T0 + 6_000));
    },
  );

  it.each([
    ["cron's CronJob", (errorHandler?: (error: unknown) => void) => CronPackageJob.from({ cronTime: '* * * * * *', onTick: failing(), errorHandler })],
    [
      "this package's CronJob, its onTick then a callback",
      (errorHandler?: (error: unknown) => void) => {
        const job = CronJob.from({ cronTime: '* * * * * *', onTick: () => undefined, errorHandler });
        job.addCallback(failing());
        return job;
      },
    ],
  ] as const)(
    '%s added with addCronJob hands a synchronous throw to errorHandler within the timer callback, a rejection a moment later',
    async (_kind, make) => {
      const { app } = await startApp([]);
      const ourErrors = jest.fn();
      const theirErrors = jest.fn();
      const ours = make(ourErrors);
      const theirs = CronPackageJob.from({ cronTime: '* * * * * *', onTick: failing(), errorHandler: theirErrors, start: true });
      app.get(SchedulerRegistry).addCronJob('failing', ours);
      ours.start();
      await expectErrorsLikeCron(ourErrors, theirErrors);
      theirs.stop();
      await app.close();
    },
  );

  it.each([
    ["cron's CronJob", () => CronPackageJob.from({ cronTime: '* * * * * *', onTick: failing() })],
    ["this package's CronJob", () => CronJob.from({ cronTime: '* * * * * *', onTick: failing() })],
  ] as const)(
    '%s added with addCronJob, without errorHandler: a throw is a failed run at once, and nothing reaches unhandledRejection',
    async (_kind, make) => {
      const { app, logger } = await startApp([]);
      const registry = app.get(SchedulerRegistry);
      const events: SchedulerEvent[] = [];
      registry.events$.subscribe((event) => events.push(event));
      const job = make();
      registry.addCronJob('failing', job);
      job.start();
      jest.advanceTimersByTime(1_000);
      expect(events.filter((event) => event.type === 'run.failed')).toMatchObject([{ job: 'failing', error: new Error('thrown') }]);
      expect(logger.find('error', 'Job "failing" failed (attempt 1): thrown')).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1_000);
      await new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));
      expect(logger.find('error', 'Job "failing" failed (attempt 1): rejected')).toHaveLength(1);
      expect(registry.getJob('failing')).toMatchObject({ lastOutcome: 'failed', runs: 2 });
      expect(unhandled).toEqual([]);
      await app.close();
    },
  );
});

describe('SchedulerRegistry: intervals and timeouts', () => {
  it('clearInterval(getInterval(name)) stops a decorated interval, as the NestJS docs show', async () => {
    const { app, registry } = await setup();
    await jest.advanceTimersByTimeAsync(2_000);
    clearInterval(registry.getInterval('interval'));
    await jest.advanceTimersByTimeAsync(3_000);
    expect(fired.filter((f) => f.startsWith('interval'))).toEqual(['interval@1000', 'interval@2000']);
    await app.close();
  });

  it('a decorated interval can stop itself from its handler, jitter or not', async () => {
    const runs: Record<string, number> = { plain: 0, jittered: 0 };
    @Injectable()
    class SelfStopping {
      constructor(private readonly registry: SchedulerRegistry) {}
      @Interval('plain', 1_000)
      plain() {
        runs.plain++;
        clearInterval(this.registry.getInterval('plain'));
      }
      @Interval('jittered', 1_000, { jitterMs: 400 })
      jittered() {
        runs.jittered++;
        clearInterval(this.registry.getInterval('jittered'));
      }
    }
    const { app } = await startApp([SelfStopping]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(runs).toEqual({ plain: 1, jittered: 1 });
    await app.close();
  });

  it('clearTimeout(getTimeout(name)) stops a decorated timeout before it fires', async () => {
    const { app, registry } = await setup();
    clearTimeout(registry.getTimeout('timeout'));
    await jest.advanceTimersByTimeAsync(3_000);
    expect(fired.filter((f) => f.startsWith('timeout'))).toEqual([]);
    await app.close();
  });

  it('deleteInterval and deleteTimeout stop decorated jobs and forget their names', async () => {
    const { app, registry } = await setup();
    registry.deleteInterval('interval');
    registry.deleteTimeout('timeout');
    expect(registry.getIntervals()).toEqual([]);
    expect(registry.getTimeouts()).toEqual([]);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(fired.filter((f) => !f.startsWith('cron'))).toEqual([]);
    await app.close();
  });

  it('addInterval and addTimeout keep your own Node timers, and delete clears them', async () => {
    const { app, registry } = await setup();
    let ticks = 0;
    const own = setInterval(() => ticks++, 500);
    const once = setTimeout(() => ticks++, 10_000);
    registry.addInterval('own', own);
    registry.addTimeout('once', once);
    expect(registry.getInterval('own')).toBe(own);
    expect(registry.getTimeout('once')).toBe(once);
    await jest.advanceTimersByTimeAsync(1_000);
    registry.deleteInterval('own');
    registry.deleteTimeout('once');
    await jest.advanceTimersByTimeAsync(10_000);
    expect(ticks).toBe(2);
    await app.close();
  });
});

describe('after app.close()', () => {
  it('every registry is empty and no timer is left', async () => {
    const { app, registry } = await setup();
    registry.addInterval(
      'own',
      setInterval(() => undefined, 500),
    );
    registry.addTimeout(
      'own',
      setTimeout(() => undefined, 500_000),
    );
    registry.addCronJob('added', new CronPackageJob('* * * * * *', () => undefined, null, true));
    await jest.advanceTimersByTimeAsync(1_000);
    await closeWhileRunning(app);
    expect(registry.getCronJobs().size).toBe(0);
    expect(registry.getIntervals()).toEqual([]);
    expect(registry.getTimeouts()).toEqual([]);
    expect(registry.listJobs()).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('closing twice is fine', async () => {
    const { app } = await setup();
    await app.close();
    await expect(app.close()).resolves.toBeUndefined();
  });
});
