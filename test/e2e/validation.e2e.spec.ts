import { Injectable } from '@nestjs/common';
import { Cron, CronJob, CronOptions, InvalidScheduleError, Interval, JobOptions, SchedulerRegistry, Timeout } from '../../lib';
import { startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

/** A provider class `Reports` whose `build` method carries the given decorator. */
function providerWith(decorator: MethodDecorator) {
  @Injectable()
  class Reports {
    build() {}
  }
  decorator(Reports.prototype, 'build', Object.getOwnPropertyDescriptor(Reports.prototype, 'build')!);
  return Reports;
}

async function initError(decorator: MethodDecorator): Promise<InvalidScheduleError> {
  const error = await startApp([providerWith(decorator)]).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidScheduleError);
  return error as InvalidScheduleError;
}

describe('bad schedules make app.init() reject with a typed error naming the job and the value', () => {
  it.each([
    [
      '61 * * * *',
      'Invalid cronTime for job "Reports.build": "61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59.',
    ],
    ['foo', 'Invalid cronTime for job "Reports.build": "foo" is not a valid cron expression: expected 5 or 6 fields, got 1.'],
    ['', 'Invalid cronTime for job "Reports.build": "" is not a valid cron expression: expected 5 or 6 fields, got 0.'],
    ['* * * *', 'Invalid cronTime for job "Reports.build": "* * * *" is not a valid cron expression: expected 5 or 6 fields, got 4.'],
    ['0 0 30 2 *', 'Invalid cronTime for job "Reports.build": "0 0 30 2 *" is not a valid cron expression: Invalid explicit day of month definition.'],
  ])('cron %j', async (expression, message) => {
    const error = await initError(Cron(expression));
    expect(error.message).toBe(message);
    expect(error).toMatchObject({ code: 'INVALID_SCHEDULE', jobName: 'Reports.build', field: 'cronTime', value: expression });
  });

  it('names the job by its name when it has one', async () => {
    const error = await initError(Cron('61 * * * *', { name: 'nightly' }));
    expect(error.jobName).toBe('nightly');
  });

  it('an unknown time zone', async () => {
    const error = await initError(Cron('* * * * *', { timeZone: 'Mars/Olympus_Mons' }));
    expect(error.message).toBe('Invalid timeZone for job "Reports.build": "Mars/Olympus_Mons" is not a known IANA time zone.');
  });

  it('both timeZone and utcOffset', async () => {
    const error = await initError(Cron('* * * * *', { timeZone: 'Europe/Paris', utcOffset: 60 } as unknown as CronOptions));
    expect(error.message).toBe(
      'Invalid timeZone for job "Reports.build": {"timeZone":"Europe/Paris","utcOffset":60} and utcOffset are mutually exclusive; give one of them.',
    );
  });

  it('a utcOffset that is not a whole number of minutes in range', async () => {
    const error = await initError(Cron('* * * * *', { utcOffset: 5000 }));
    expect(error.message).toBe('Invalid utcOffset for job "Reports.build": 5000 must be a whole number of minutes between -1080 and 1080.');
  });

  it('a @Cron(Date) in the past', async () => {
    const past = new Date(T0 - 1_000);
    const error = await initError(Cron(past));
    expect(error.message).toBe(
      `Invalid cronTime for job "Reports.build": 2025-12-31T23:59:59.000Z is in the past (now is 2026-01-01T00:00:00.000Z); it would never fire.`,
    );
  });

  it('a @Cron(Date) that is not a valid date', async () => {
    const error = await initError(Cron(new Date('nonsense')));
    expect(error.message).toBe('Invalid cronTime for job "Reports.build": Invalid Date is not a cron expression nor a valid date.');
  });

  const delays: Array<[string, unknown, string]> = [
    ['0', 0, '0 must be a finite number of milliseconds above 0.'],
    ['negative', -5, '-5 must be a finite number of milliseconds above 0.'],
    ['NaN', NaN, 'NaN must be a finite number of milliseconds above 0.'],
    ['Infinity', Infinity, 'Infinity must be a finite number of milliseconds above 0.'],
    ['not a number', '1000', '"1000" is not a number of milliseconds.'],
  ];
  it.each(delays)('an interval of %s', async (_label, value, reason) => {
    const error = await initError(Interval('poll', value as number));
    expect(error.message).toBe(`Invalid interval for job "poll": ${reason}`);
    expect(error).toMatchObject({ field: 'interval', value });
  });

  it('an unnamed interval is named after its method', async () => {
    const error = await initError(Interval(-1));
    expect(error.message).toBe('Invalid interval for job "Reports.build": -1 must be a finite number of milliseconds above 0.');
  });
  it.each(delays)('a timeout of %s', async (_label, value, reason) => {
    const error = await initError(Timeout('greeting', value as number));
    expect(error.message).toBe(`Invalid timeout for job "greeting": ${reason}`);
  });

  it.each([
    ['initialDelay', { initialDelay: -1 }, 'Invalid initialDelay for job "Reports.build": -1 must be a finite number of milliseconds, 0 or more.'],
    ['threshold', { threshold: NaN }, 'Invalid threshold for job "Reports.build": NaN must be a finite number of milliseconds, 0 or more.'],
    ['an unknown option', { overlapp: 'skip' }, 'Invalid overlapp for job "Reports.build": "skip" is not a known job option.'],
  ])('%s', async (_label, options, message) => {
    const error = await initError(Cron('* * * * *', options as CronOptions));
    expect(error.message).toBe(message);
  });

  it('job options on intervals are checked too', async () => {
    const error = await initError(Interval(1_000, { misfire: { graceMs: -1 } } as JobOptions));
    expect(error.message).toBe('Invalid misfire.graceMs for job "Reports.build": -1 must not be negative.');
  });

  it('bad module options reject too', async () => {
    await expect(startApp([], { shutdownTimeout: -1 })).rejects.toThrow(
      'Invalid shutdownTimeout in the ScheduleModule options: -1 must be a finite number of milliseconds, 0 or more.',
    );
    await expect(startApp([], { defaults: { overlap: 'sometimes' as 'skip' } })).rejects.toThrow(
      "Invalid defaults.overlap in the ScheduleModule options: \"sometimes\" must be one of 'skip', 'queue', 'allow'.",
    );
    await expect(startApp([], { shutdownTimeout: '30000' as unknown as number })).rejects.toThrow(
      'Invalid shutdownTimeout in the ScheduleModule options: "30000" must be a finite number of milliseconds, 0 or more. It is a string: convert a value read from the environment with Number().',
    );
    await expect(startApp([], { defaults: { jitterMs: '500' as unknown as number } })).rejects.toThrow(
      'Invalid defaults.jitterMs in the ScheduleModule options: "500" must be a finite number. It is a string: convert a value read from the environment with Number().',
    );
    await expect(startApp([], { cluster: { leaseMs: 0 } })).rejects.toThrow(
      'Invalid cluster.leaseMs in the ScheduleModule options: 0 must be a finite number of milliseconds, 1 or more.',
    );
    await expect(startApp([], { cluster: { claimAheadMs: NaN } })).rejects.toThrow(
      'Invalid cluster.claimAheadMs in the ScheduleModule options: NaN must be a finite number of milliseconds, 0 or more.',
    );
    await expect(startApp([], { cluster: { leaseMS: 100 } as never })).rejects.toThrow(
      'Invalid cluster.leaseMS in the ScheduleModule options: 100 is not an option; expected one of leaseMs, syncEveryMs, checkInMs, claimAheadMs, timeoutMs.',
    );
  });
});

describe('bad input at run time throws and leaves what is scheduled alone', () => {
  it('a CronJob with a bad expression, zone or callback', async () => {
    let runs = 0;
    @Injectable()
    class Ticker {
      @Interval('ticker', 1_000)
      tick() {
        runs++;
      }
    }
    const { app } = await startApp([Ticker]);
    expect(() => new CronJob('61 * * * *', () => undefined)).toThrow(
      'Invalid cronTime for job "CronJob": "61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59.',
    );
    expect(() => CronJob.from({ cronTime: '* * * * *', onTick: () => undefined, timeZone: 'Nowhere/Land', name: 'x' })).toThrow(
      'Invalid timeZone for job "x": "Nowhere/Land" is not a known IANA time zone.',
    );
    expect(() => new CronJob('* * * * *', 'rm -rf /' as never)).toThrow('Invalid onTick for job "CronJob": "rm -rf /" must be a function.');
    expect(() => new CronJob(new Date(T0 - 1), () => undefined, null, true)).toThrow('is in the past; it will never fire.');
    await jest.advanceTimersByTimeAsync(2_000);
    expect(runs).toBe(2);
    expect(
      app
        .get(SchedulerRegistry)
        .listJobs()
        .map((j) => j.name),
    ).toEqual(['ticker']);
    await app.close();
  });
});
