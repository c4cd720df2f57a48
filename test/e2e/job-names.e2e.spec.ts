import { Injectable } from '@nestjs/common';
import { CronJob as CronPackageJob } from 'cron';
import { Cron, CronJob, InvalidScheduleError, Interval, JobContext, JobHandler, SchedulerRegistry, Timeout } from '../../lib';
import { startApp, useFakeTime } from '../support/nest';

useFakeTime();

/**
 * Every way a job name comes in is checked by the one rule (lib/engine/job-name.ts): a bad name is
 * refused with an InvalidScheduleError before anything is added, and what is scheduled runs on.
 */
const BAD: Array<[string, string]> = [
  ['NUL', 'nightly\u0000'],
  ['a lone surrogate', 'report \ud800'],
  ['3 KB', 'x'.repeat(3_000)],
];

let ticks = 0;

@Injectable()
class Ticker {
  @Interval('ticker', 1_000)
  tick() {
    ticks++;
  }

  @JobHandler()
  build(_context: JobContext) {}
}

beforeEach(() => {
  ticks = 0;
});

function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** A provider whose `build` method carries the given decorator. */
function decorated(decorator: MethodDecorator) {
  @Injectable()
  class Reports {
    build() {}
  }
  decorator(Reports.prototype, 'build', Object.getOwnPropertyDescriptor(Reports.prototype, 'build')!);
  return Reports;
}

describe.each(BAD)('a name with %s', (_label, name) => {
  it.each<[string, MethodDecorator]>([
    ['@Cron', Cron('* * * * * *', { name })],
    ['@Interval', Interval(name, 1_000)],
    ['@Timeout', Timeout(name, 1_000)],
  ])('on %s fails app.init(), saying where it is declared', async (_decorator, decorator) => {
    const error = await startApp([decorated(decorator)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect((error as InvalidScheduleError).field).toBe('name');
    expect((error as Error).message).toMatch(/It is declared on Reports\.build\.$/);
  });

  it('is refused by every registry call that names a job, and what is scheduled runs on', async () => {
    const { app } = await startApp([Ticker]);
    const registry = app.get(SchedulerRegistry);
    const own = setInterval(() => undefined, 1_000);
    let theirTicks = 0;
    const theirs = new CronPackageJob('* * * * * *', () => void theirTicks++, null, true);
    const refusals: Array<[string, () => unknown]> = [
      ['addCronJob', () => registry.addCronJob(name, new CronJob('* * * * * *', () => undefined))],
      ["addCronJob (the cron package's CronJob)", () => registry.addCronJob(name, theirs)],
      ['addInterval', () => registry.addInterval(name, own)],
      ['addTimeout', () => registry.addTimeout(name, own)],
    ];
    for (const [call, refusal] of refusals) expect({ call, thrown: thrownBy(refusal) }).toEqual({ call, thrown: expect.any(InvalidScheduleError) });
    for (const definition of [
      { name, trigger: { every: 1_000 }, handler: () => undefined },
      { name, trigger: { every: 1_000 }, target: { provider: Ticker, method: 'build' } },
      { name, trigger: { every: 1_000 }, target: { provider: Ticker, method: 'build' }, persist: true },
    ]) {
      await expect(registry.addJob(definition)).rejects.toThrow(InvalidScheduleError);
    }
    await jest.advanceTimersByTimeAsync(3_000);
    expect(registry.listJobs().map((job) => job.name)).toEqual(['ticker']);
    expect([registry.getIntervals(), registry.getTimeouts(), [...registry.getCronJobs().keys()]]).toEqual([['ticker'], [], []]);
    expect(ticks).toBe(3);
    // The cron package's job was left as it was: still running on its own timer.
    expect(theirs.isActive).toBe(true);
    expect(theirTicks).toBe(3);
    void theirs.stop();
    clearInterval(own);
    await app.close();
  });
});
