import { Inject, Injectable, INestApplication } from '@nestjs/common';
import {
  Cron,
  CronJob,
  DuplicateJobError,
  InvalidScheduleError,
  Interval,
  JobContext,
  JobHandler,
  JobNotFoundError,
  JobTargetNotAllowedError,
  SchedulerEvent,
  SchedulerRegistry,
  Timeout,
} from '../../lib';
import { startApp, T0, useFakeTime } from '../support/nest';

useFakeTime();

const calls: string[] = [];
const at = () => Date.now() - T0;

@Injectable()
class Reports {
  @JobHandler()
  build(context: JobContext, kind: string, options: { pages: number }) {
    calls.push(`build:${kind}:${options.pages}@${at()}#${context.attempt}`);
  }

  @JobHandler('purge')
  purgeOlderThan(_context: JobContext, days: number) {
    calls.push(`purge:${days}@${at()}`);
  }

  notAHandler() {
    calls.push('should never run');
  }

  @Cron('*/10 * * * * *', { name: 'decorated' })
  decorated() {
    calls.push(`decorated@${at()}`);
  }

  @Interval('decorated-interval', 4_000)
  decoratedInterval() {
    calls.push(`interval@${at()}`);
  }
}

@Injectable()
class Mailer {
  @JobHandler()
  send(_context: JobContext, to: string) {
    calls.push(`mail:${to}@${at()}`);
  }
}

@Injectable()
class UsesMailer {
  constructor(@Inject('MAILER') readonly mailer: Mailer) {}
}

async function setup() {
  calls.length = 0;
  const { app, logger } = await startApp([Reports, UsesMailer], {}, { providers: [{ provide: 'MAILER', useClass: Mailer }] });
  const registry = app.get(SchedulerRegistry);
  const events: SchedulerEvent[] = [];
  registry.events$.subscribe((event) => events.push(event));
  const log = () => events.map((e) => `${e.type}@${e.at.getTime() - T0}${'job' in e ? `:${e.job}` : ''}`);
  return { app, logger, registry, events, log };
}

async function closed(app: INestApplication) {
  await app.close();
}

describe('addJob', () => {
  it('targets a provider method by class, with JSON arguments after the context', async () => {
    const { app, registry } = await setup();
    const info = await registry.addJob({
      name: 'weekly',
      trigger: { every: 3_000 },
      target: { provider: Reports, method: 'build' },
      args: ['weekly', { pages: 3 }],
    });
    expect(info).toMatchObject({
      name: 'weekly',
      kind: 'interval',
      trigger: 'every 3000 ms',
      nextRunAt: new Date(T0 + 3_000),
      meta: { kind: 'dynamic', target: 'Reports.build' },
    });
    await jest.advanceTimersByTimeAsync(6_000);
    expect(calls.filter((c) => c.startsWith('build'))).toEqual(['build:weekly:3@3000#1', 'build:weekly:3@6000#1']);
    await closed(app);
  });

  it('targets a provider by injection token, and a handler by the name given to @JobHandler()', async () => {
    const { app, registry } = await setup();
    await registry.addJob({ name: 'mail', trigger: { at: new Date(T0 + 1_500) }, target: { provider: 'MAILER', method: 'send' }, args: ['ops@example.com'] });
    await registry.addJob({ name: 'purge', trigger: { cron: '*/2 * * * * *', timeZone: 'UTC' }, target: { provider: 'Reports', method: 'purge' }, args: [30] });
    await jest.advanceTimersByTimeAsync(2_000);
    expect(calls.filter((c) => !c.startsWith('decorated'))).toEqual(['mail:ops@example.com@1500', 'purge:30@2000']);
    expect(registry.getJob('mail')).toMatchObject({ kind: 'date', completed: true, runs: 1 });
    await closed(app);
  });

  it('runs an in-process callback, with its arguments', async () => {
    const { app, registry } = await setup();
    await registry.addJob({
      name: 'callback',
      trigger: { every: 1_000 },
      handler: (context, who: string) => void calls.push(`hello ${who}@${at()}:${context.name}`),
      args: ['world'],
    });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual(['hello world@1000:callback']);
    await closed(app);
  });

  it('takes job options, and module defaults apply under them', async () => {
    const { app } = await startApp([Reports], { defaults: { maxRuns: 2 } });
    const registry = app.get(SchedulerRegistry);
    calls.length = 0;
    await registry.addJob({ name: 'twice', trigger: { every: 1_000 }, handler: () => void calls.push(`twice@${at()}`) });
    await registry.addJob({ name: 'thrice', trigger: { every: 1_000 }, handler: () => void calls.push(`thrice@${at()}`), maxRuns: 3 });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls.filter((c) => c.startsWith('tw'))).toEqual(['twice@1000', 'twice@2000']);
    expect(calls.filter((c) => c.startsWith('th'))).toEqual(['thrice@1000', 'thrice@2000', 'thrice@3000']);
    expect(registry.getJob('twice').options.maxRuns).toBe(2);
    await closed(app);
  });
});

describe('addJob refuses bad input with a typed error naming the job and the field, and adds nothing', () => {
  const cases: Array<[string, Record<string, unknown>, new (...args: never[]) => Error, string]> = [
    [
      'a method that is not a handler',
      { target: { provider: Reports, method: 'notAHandler' } },
      JobTargetNotAllowedError,
      'Job "bad" cannot target Reports.notAHandler: the method is not marked @JobHandler() nor scheduled with a decorator. Handlers of Reports: "build", "purge", "decorated", "decoratedInterval".',
    ],
    [
      'a method that does not exist',
      { target: { provider: Reports, method: 'missing' } },
      InvalidScheduleError,
      'Invalid target.method for job "bad": "missing" is not a method of Reports. Handlers of Reports: "build", "purge", "decorated", "decoratedInterval".',
    ],
    [
      'a misspelled handler name',
      { target: { provider: Reports, method: 'purg' } },
      InvalidScheduleError,
      'Invalid target.method for job "bad": "purg" is not a method of Reports. Handlers of Reports: "build", "purge", "decorated", "decoratedInterval".',
    ],
    [
      'a provider without handlers',
      { target: { provider: UsesMailer, method: 'send' } },
      InvalidScheduleError,
      'Invalid target.method for job "bad": "send" is not a method of UsesMailer. UsesMailer has no job handlers: mark a method @JobHandler().',
    ],
    [
      'a bad cron expression',
      { trigger: { cron: '61 * * * *' }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.cron for job "bad": "61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59.',
    ],
    [
      'a cron expression with 4 fields',
      { trigger: { cron: '* * * *' }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.cron for job "bad": "* * * *" is not a valid cron expression: expected 5 or 6 fields, got 4.',
    ],
    [
      'a cron expression that is not a string',
      { trigger: { cron: 5 }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.cron for job "bad": 5 is not a cron expression (expected a string).',
    ],
    [
      'an unknown time zone',
      { trigger: { cron: '* * * * *', timeZone: 'Mars/Olympus' }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.timeZone for job "bad": "Mars/Olympus" is not a known IANA time zone.',
    ],
    [
      'a time zone and an offset',
      { trigger: { cron: '* * * * *', timeZone: 'UTC', utcOffset: 60 }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.timeZone for job "bad": {"timeZone":"UTC","utcOffset":60} and trigger.utcOffset are mutually exclusive; give one of them.',
    ],
    [
      'an offset out of range',
      { trigger: { cron: '* * * * *', utcOffset: 5_000 }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.utcOffset for job "bad": 5000 must be a whole number of minutes between -1080 and 1080.',
    ],
    [
      'a provider that does not exist',
      { target: { provider: 'NOPE', method: 'send' } },
      InvalidScheduleError,
      'Invalid target.provider for job "bad": "NOPE" is not a provider of this application.',
    ],
    [
      'a method under its own name when @JobHandler gave another',
      { target: { provider: Reports, method: 'purgeOlderThan' } },
      JobTargetNotAllowedError,
      'Job "bad" cannot target Reports.purgeOlderThan: its handler name is "purge".',
    ],
    [
      'arguments that are not JSON',
      { target: { provider: Reports, method: 'build' }, args: ['x', { when: new Date(0) }] },
      InvalidScheduleError,
      'Invalid args[1].when for job "bad": 1970-01-01T00:00:00.000Z is not a plain JSON object (it is a Date).',
    ],
    [
      'a __proto__ key in the arguments',
      { target: { provider: Reports, method: 'build' }, args: [JSON.parse('{"__proto__": {"admin": true}}')] },
      InvalidScheduleError,
      'Invalid args[0].__proto__ for job "bad": "__proto__" is a key that JSON arguments may not use.',
    ],
    ['no target', {}, InvalidScheduleError, 'Invalid target for job "bad": 0 targets were given: give exactly one of target, handler or worker.'],
    [
      'two targets',
      { handler: () => undefined, target: { provider: Reports, method: 'build' } },
      InvalidScheduleError,
      'Invalid target for job "bad": 2 targets were given: give exactly one of target, handler or worker.',
    ],
    [
      'a trigger with two kinds',
      { trigger: { every: 1_000, cron: '* * * * *' }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger for job "bad": {"every":1000,"cron":"* * * * *"} must have exactly one of cron, every or at.',
    ],
    [
      'a date in the past',
      { trigger: { at: T0 - 1 }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.at for job "bad": 1767225599999 is in the past (now is 2026-01-01T00:00:00.000Z); it would never fire.',
    ],
    [
      'an interval of 0',
      { trigger: { every: 0 }, handler: () => undefined },
      InvalidScheduleError,
      'Invalid trigger.every for job "bad": 0 must be a finite number of milliseconds above 0.',
    ],
    [
      'a negative graceMs',
      { handler: () => undefined, misfire: { graceMs: -5 } },
      InvalidScheduleError,
      'Invalid misfire.graceMs for job "bad": -5 must not be negative.',
    ],
    [
      'a NaN graceMs',
      { handler: () => undefined, misfire: { graceMs: NaN } },
      InvalidScheduleError,
      'Invalid misfire.graceMs for job "bad": NaN must be a finite number.',
    ],
    ['a negative jitterMs', { handler: () => undefined, jitterMs: -1 }, InvalidScheduleError, 'Invalid jitterMs for job "bad": -1 must not be negative.'],
    ['a NaN jitterMs', { handler: () => undefined, jitterMs: NaN }, InvalidScheduleError, 'Invalid jitterMs for job "bad": NaN must be a finite number.'],
    ['a negative timeoutMs', { handler: () => undefined, timeoutMs: -100 }, InvalidScheduleError, 'Invalid timeoutMs for job "bad": -100 must be above 0.'],
    ['a NaN timeoutMs', { handler: () => undefined, timeoutMs: NaN }, InvalidScheduleError, 'Invalid timeoutMs for job "bad": NaN must be a finite number.'],
    [
      'negative retry attempts',
      { handler: () => undefined, retry: { attempts: -1 } },
      InvalidScheduleError,
      'Invalid retry.attempts for job "bad": -1 must not be negative.',
    ],
    [
      'NaN retry attempts',
      { handler: () => undefined, retry: { attempts: NaN } },
      InvalidScheduleError,
      'Invalid retry.attempts for job "bad": NaN must be a finite number.',
    ],
    [
      'endAt before startAt',
      { handler: () => undefined, startAt: T0 + 5_000, endAt: T0 + 1_000 },
      InvalidScheduleError,
      'Invalid endAt for job "bad": 1767225601000 is before startAt (1767225605000).',
    ],
    [
      'an unknown overlap policy',
      { handler: () => undefined, overlap: 'sometimes' },
      InvalidScheduleError,
      "Invalid overlap for job \"bad\": \"sometimes\" must be one of 'skip', 'queue', 'allow'.",
    ],
    [
      'an unknown misfire policy',
      { handler: () => undefined, misfire: { policy: 'twice' } },
      InvalidScheduleError,
      "Invalid misfire.policy for job \"bad\": \"twice\" must be one of 'skip', 'once', 'all'.",
    ],
    [
      'a catch-up beyond 1000 runs',
      { handler: () => undefined, misfire: { policy: 'all', maxCatchUp: 1e7 } },
      InvalidScheduleError,
      'Invalid misfire.maxCatchUp for job "bad": 10000000 must be at most 1000.',
    ],
    [
      'a misfire that is not an object',
      { handler: () => undefined, misfire: 'skip' },
      InvalidScheduleError,
      'Invalid misfire for job "bad": "skip" must be an object with graceMs, policy, maxCatchUp.',
    ],
    [
      'an unknown retry field',
      { handler: () => undefined, retry: { attempts: 1, delay: 5 } },
      InvalidScheduleError,
      'Invalid retry.delay for job "bad": 5 is not a known option.',
    ],
    [
      'a constructor key in the arguments',
      { target: { provider: Reports, method: 'build' }, args: [{ constructor: { prototype: 1 } }] },
      InvalidScheduleError,
      'Invalid args[0].constructor for job "bad": "constructor" is a key that JSON arguments may not use.',
    ],
    ['an unknown option', { handler: () => undefined, retries: 3 }, InvalidScheduleError, 'Invalid retries for job "bad": 3 is not a known job option.'],
  ];

  it.each(cases)('%s', async (_label, fields, type, message) => {
    const { app, registry } = await setup();
    await registry.addJob({ name: 'ok', trigger: { every: 1_000 }, handler: () => void calls.push(`ok@${at()}`) });
    const definition = { name: 'bad', trigger: { every: 1_000 }, ...fields } as never;
    const error = await registry.addJob(definition).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toBe(message);
    expect(registry.listJobs().map((j) => j.name)).not.toContain('bad');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(calls.filter((c) => c.startsWith('ok'))).toEqual(['ok@1000']);
    expect(calls).not.toContain('should never run');
    await closed(app);
  });

  it('a name that is taken, by a decorated job or a dynamic one', async () => {
    const { app, registry } = await setup();
    await expect(registry.addJob({ name: 'decorated', trigger: { every: 1_000 }, handler: () => undefined })).rejects.toThrow(
      new DuplicateJobError(
        'decorated',
        'Job with the given name (decorated) already exists. Ignored. The name is taken by a cron job (Reports.decorated): cron jobs, intervals, timeouts and jobs added with addJob share one set of names.',
      ),
    );
    await expect(registry.addJob({ name: 'decorated-interval', trigger: { every: 1_000 }, handler: () => undefined })).rejects.toThrow(
      'Job with the given name (decorated-interval) already exists. Ignored. The name is taken by an interval (Reports.decoratedInterval): cron jobs, intervals, timeouts and jobs added with addJob share one set of names.',
    );
    await registry.addJob({ name: 'dynamic', trigger: { every: 1_000 }, handler: () => undefined });
    await expect(registry.addJob({ name: 'dynamic', trigger: { every: 1_000 }, handler: () => undefined })).rejects.toThrow(
      new DuplicateJobError('dynamic', 'Job with the given name (dynamic) already exists. Ignored.'),
    );
    expect(() => registry.addCronJob('dynamic', new CronJob('* * * * * *', () => undefined))).toThrow(
      'Cron Job with the given name (dynamic) already exists. Ignored. The name is taken by a job added with addJob (handler): cron jobs, intervals, timeouts and jobs added with addJob share one set of names.',
    );
    await closed(app);
  });
});

describe('control calls', () => {
  it('on a decorated job: pause, resume, trigger, reschedule, remove — with their events', async () => {
    const { app, registry, log } = await setup();
    registry.pauseJob('decorated');
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls.filter((c) => c.startsWith('decorated'))).toEqual([]);
    registry.resumeJob('decorated'); // the tick of second 10 comes due as it resumes: it runs
    await registry.triggerJob('decorated');
    registry.rescheduleJob('decorated', { cron: '*/3 * * * * *', timeZone: 'UTC' });
    expect(registry.getJob('decorated').nextRunAt).toEqual(new Date(T0 + 12_000));
    await jest.advanceTimersByTimeAsync(3_000);
    registry.removeJob('decorated');
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls.filter((c) => c.startsWith('decorated'))).toEqual(['decorated@10000', 'decorated@10000', 'decorated@12000']);
    expect(log().filter((l) => l.endsWith(':decorated'))).toEqual([
      'job.paused@0:decorated',
      'job.resumed@10000:decorated',
      'run.started@10000:decorated',
      'run.succeeded@10000:decorated',
      'run.started@10000:decorated',
      'run.succeeded@10000:decorated',
      'job.rescheduled@10000:decorated',
      'run.started@12000:decorated',
      'run.succeeded@12000:decorated',
      'job.removed@13000:decorated',
    ]);
    expect(registry.doesExist('cron', 'decorated')).toBe(false);
    await closed(app);
  });

  it('on a dynamic job: the same calls, the same events', async () => {
    const { app, registry, log } = await setup();
    await registry.addJob({ name: 'dyn', trigger: { every: 2_000 }, handler: () => void calls.push(`dyn@${at()}`), misfire: { graceMs: 100, policy: 'skip' } });
    registry.pauseJob('dyn');
    await jest.advanceTimersByTimeAsync(3_000);
    registry.resumeJob('dyn'); // the tick of second 2 fell in the pause: skipped (misfire 'skip')
    await registry.triggerJob('dyn');
    registry.rescheduleJob('dyn', { every: 500 });
    await jest.advanceTimersByTimeAsync(1_000);
    registry.removeJob('dyn');
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls.filter((c) => c.startsWith('dyn'))).toEqual(['dyn@3000', 'dyn@3500', 'dyn@4000']);
    expect(log().filter((l) => l.endsWith(':dyn'))).toEqual([
      'job.added@0:dyn',
      'job.paused@0:dyn',
      'job.resumed@3000:dyn',
      'run.missed@3000:dyn',
      'run.started@3000:dyn',
      'run.succeeded@3000:dyn',
      'job.rescheduled@3000:dyn',
      'run.started@3500:dyn',
      'run.succeeded@3500:dyn',
      'run.started@4000:dyn',
      'run.succeeded@4000:dyn',
      'job.removed@4000:dyn',
    ]);
    await closed(app);
  });

  it('pausing a decorated interval keeps its handle; resuming catches up once', async () => {
    const { app, registry } = await setup();
    const handle = registry.getInterval('decorated-interval');
    registry.pauseJob('decorated-interval');
    await jest.advanceTimersByTimeAsync(9_000);
    registry.resumeJob('decorated-interval');
    await jest.advanceTimersByTimeAsync(3_000);
    expect(calls.filter((c) => c.startsWith('interval'))).toEqual(['interval@9000', 'interval@12000']);
    expect(registry.getInterval('decorated-interval')).toBe(handle);
    await closed(app);
  });

  it('on a decorated interval: trigger, reschedule (its handle still stops it), remove (its timer goes)', async () => {
    const { app, registry } = await setup();
    await registry.triggerJob('decorated-interval');
    registry.rescheduleJob('decorated-interval', { every: 2_500 });
    const handle = registry.getInterval('decorated-interval');
    await jest.advanceTimersByTimeAsync(5_000);
    expect(registry.getInterval('decorated-interval')).toBe(handle);
    clearInterval(handle);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(calls.filter((c) => c.startsWith('interval'))).toEqual(['interval@0', 'interval@2500', 'interval@5000']);
    registry.removeJob('decorated-interval');
    expect(registry.getIntervals()).toEqual([]);
    registry.removeJob('decorated');
    expect(jest.getTimerCount()).toBe(0);
    await closed(app);
  });

  it('on a decorated timeout: trigger runs it early, reschedule moves it, remove cancels it', async () => {
    @Injectable()
    class Once {
      @Timeout('once', 10_000)
      once() {
        calls.push(`once@${at()}`);
      }
      @Timeout('cancelled', 10_000)
      cancelled() {
        calls.push(`cancelled@${at()}`);
      }
    }
    calls.length = 0;
    const { app } = await startApp([Once]);
    const registry = app.get(SchedulerRegistry);
    expect(registry.getJob('once')).toMatchObject({ kind: 'delay', trigger: 'once, 10000 ms after start' });
    await registry.triggerJob('once');
    registry.rescheduleJob('once', { at: new Date(T0 + 3_000) });
    registry.removeJob('cancelled');
    await jest.advanceTimersByTimeAsync(20_000);
    expect(calls).toEqual(['once@0', 'once@3000']);
    expect(registry.getJob('once')).toMatchObject({ kind: 'date', completed: true, runs: 1 });
    expect(jest.getTimerCount()).toBe(0);
    await closed(app);
  });

  it('pause() and resume() the whole scheduler; ticks in the pause follow each misfire policy', async () => {
    const { app, registry } = await setup();
    await registry.addJob({ name: 'each-second', trigger: { every: 1_000 }, handler: () => void calls.push(`s@${at()}`) });
    registry.pause();
    await jest.advanceTimersByTimeAsync(12_000);
    expect(calls).toEqual([]);
    registry.resume();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(calls.sort()).toEqual(['decorated@12000', 'interval@12000', 's@12000', 's@13000']);
    await closed(app);
  });

  it.each([
    ['getJob', (r: SchedulerRegistry) => r.getJob('ghost')],
    ['pauseJob', (r: SchedulerRegistry) => r.pauseJob('ghost')],
    ['resumeJob', (r: SchedulerRegistry) => r.resumeJob('ghost')],
    ['triggerJob', (r: SchedulerRegistry) => r.triggerJob('ghost')],
    ['rescheduleJob', (r: SchedulerRegistry) => r.rescheduleJob('ghost', { every: 1_000 })],
    ['removeJob', (r: SchedulerRegistry) => r.removeJob('ghost')],
  ])('%s of an unknown job throws JobNotFoundError and changes nothing', async (_method, call) => {
    const { app, registry } = await setup();
    expect(() => call(registry)).toThrow(new JobNotFoundError('ghost', 'No job was found with the given name (ghost).'));
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls.filter((c) => c.startsWith('decorated'))).toEqual(['decorated@10000']);
    await closed(app);
  });

  it('rescheduleJob refuses a bad trigger and keeps the old one', async () => {
    const { app, registry } = await setup();
    expect(() => registry.rescheduleJob('decorated', { cron: '99 * * * *' })).toThrow(InvalidScheduleError);
    expect(registry.getJob('decorated').trigger).toBe('cron "*/10 * * * * *" (UTC)');
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls.filter((c) => c.startsWith('decorated'))).toEqual(['decorated@10000']);
    await closed(app);
  });

  it('listJobs shows every job, decorated or dynamic, as plain data', async () => {
    const { app, registry } = await setup();
    await registry.addJob({
      name: 'dyn',
      trigger: { cron: '0 0 * * * *', timeZone: 'Europe/Paris' },
      handler: () => undefined,
      overlap: 'queue',
      paused: true,
    });
    const jobs = registry.listJobs();
    expect(jobs.map((j) => [j.name, j.kind, j.trigger, j.paused])).toEqual([
      ['decorated', 'cron', 'cron "*/10 * * * * *" (UTC)', false],
      ['decorated-interval', 'interval', 'every 4000 ms', false],
      ['dyn', 'cron', 'cron "0 0 * * * *" (Europe/Paris)', true],
    ]);
    expect(JSON.parse(JSON.stringify(jobs[2]))).toMatchObject({
      options: { overlap: 'queue', misfire: { graceMs: 1000, policy: 'once', maxCatchUp: 10 } },
      nextRunAt: null,
      history: [],
    });
    await closed(app);
  });
});
