import {
  InvalidScheduleError,
  JobNotFoundError,
  DuplicateJobError,
  SchedulerAlreadyRunningError,
  SchedulerError,
  SchedulerNotRunningError,
} from '../../lib/errors';
import { SchedulerEvent } from '../../lib/events';
import { JobContext } from '../../lib/engine/job-context';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { DateTrigger } from '../../lib/triggers/date.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function setup(options: ConstructorParameters<typeof Scheduler>[0] = {}) {
  const clock = new VirtualClock(T0);
  const scheduler = new Scheduler({ clock, ...options });
  const events: SchedulerEvent[] = [];
  scheduler.on((event) => events.push(event));
  const types = () => events.map((e) => e.type);
  return { clock, scheduler, events, types };
}

/** A promise with its resolve and reject, to hold a job open. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('Scheduler lifecycle', () => {
  it('refuses to start twice, with a typed error', () => {
    const { scheduler } = setup();
    scheduler.start();
    expect(() => scheduler.start()).toThrow(SchedulerAlreadyRunningError);
    try {
      scheduler.start();
    } catch (error) {
      expect(error).toBeInstanceOf(SchedulerError);
      expect((error as SchedulerError).code).toBe('SCHEDULER_ALREADY_RUNNING');
      expect((error as Error).message).toBe('Cannot start: the scheduler is already running.');
    }
  });

  it('refuses to shut down a scheduler that never started, or already stopped', async () => {
    const { scheduler } = setup();
    await expect(scheduler.shutdown()).rejects.toThrow(SchedulerNotRunningError);
    await expect(scheduler.shutdown()).rejects.toMatchObject({
      code: 'SCHEDULER_NOT_RUNNING',
      message: 'Cannot shut down: the scheduler is not running (state: idle).',
    });
    scheduler.start();
    await scheduler.shutdown();
    expect(scheduler.state).toBe('stopped');
    await expect(scheduler.shutdown()).rejects.toMatchObject({
      code: 'SCHEDULER_NOT_RUNNING',
      message: 'Cannot shut down: the scheduler is not running (state: stopped).',
    });
  });

  it('returns the shutdown in progress to a second caller, and refuses start() while stopping', async () => {
    const { scheduler, clock } = setup();
    const hold = deferred();
    scheduler.add({ name: 'slow', trigger: new IntervalTrigger(1_000), handler: () => hold.promise });
    scheduler.start();
    await clock.advanceAsync(1_000);
    const first = scheduler.shutdown();
    expect(scheduler.state).toBe('stopping');
    expect(scheduler.shutdown()).toBe(first);
    expect(() => scheduler.start()).toThrow(new SchedulerAlreadyRunningError('stopping'));
    hold.resolve();
    await first;
    expect(scheduler.state).toBe('stopped');
  });

  it('can start again after stopping, with no job left from before', async () => {
    const { scheduler } = setup();
    scheduler.add({ name: 'a', trigger: new IntervalTrigger(1_000), handler: () => undefined });
    scheduler.start();
    await scheduler.shutdown();
    expect(scheduler.list()).toEqual([]);
    scheduler.start();
    expect(scheduler.state).toBe('running');
  });

  it('refuses jobs once shutdown began, and control calls while not running', async () => {
    const { scheduler } = setup();
    expect(() => scheduler.trigger('x')).toThrow(JobNotFoundError);
    scheduler.add({ name: 'a', trigger: new IntervalTrigger(1_000), handler: () => undefined });
    expect(() => scheduler.trigger('a')).toThrow(SchedulerNotRunningError);
    expect(() => scheduler.pauseAll()).toThrow(SchedulerNotRunningError);
    scheduler.start();
    await scheduler.shutdown();
    expect(() => scheduler.add({ name: 'b', trigger: new IntervalTrigger(1_000), handler: () => undefined })).toThrow(
      new SchedulerNotRunningError('add a job', 'stopped'),
    );
  });

  it('emits started, stopping and stopped', async () => {
    const { scheduler, types } = setup();
    scheduler.start();
    await scheduler.shutdown();
    expect(types()).toEqual(['scheduler.started', 'scheduler.stopping', 'scheduler.stopped']);
  });
});

describe('Scheduler jobs', () => {
  it('calls the handler with a JobContext for each tick', async () => {
    const { scheduler, clock } = setup();
    const contexts: JobContext[] = [];
    scheduler.add({
      name: 'every-second',
      trigger: CronTrigger.create('every-second', '* * * * * *', { timeZone: 'UTC' }),
      handler: (ctx) => void contexts.push(ctx),
    });
    scheduler.start();
    await clock.advanceAsync(3_000);
    expect(contexts.map((c) => c.scheduledAt.toISOString())).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z']);
    expect(contexts[0]).toMatchObject({ name: 'every-second', attempt: 1 });
    expect(contexts[0].firedAt.getTime()).toBe(T0 + 1_000);
    expect(contexts[0].signal).toBeInstanceOf(AbortSignal);
    expect(contexts[0].signal.aborted).toBe(false);
  });

  it('refuses a duplicate name and leaves the first job alone', async () => {
    const { scheduler, clock } = setup();
    let runs = 0;
    scheduler.add({ name: 'x', trigger: new IntervalTrigger(1_000), handler: () => void runs++ });
    expect(() => scheduler.add({ name: 'x', trigger: new IntervalTrigger(5), handler: () => undefined })).toThrow(DuplicateJobError);
    scheduler.start();
    await clock.advanceAsync(2_000);
    expect(runs).toBe(2);
  });

  it('refuses bad options with a typed error naming job, field and value, adding nothing', () => {
    const { scheduler } = setup();
    expect(() => scheduler.add({ name: 'bad', trigger: new IntervalTrigger(1_000), handler: () => undefined, options: { misfire: { graceMs: -1 } } })).toThrow(
      new InvalidScheduleError('bad', 'misfire.graceMs', -1, 'must not be negative.'),
    );
    expect(scheduler.has('bad')).toBe(false);
  });

  it('keeps intervals on the grid anchor + k × period however late runs start', async () => {
    const { scheduler, clock } = setup();
    const ticks: number[] = [];
    scheduler.add({ name: 'grid', trigger: new IntervalTrigger(1_000), handler: (ctx) => void ticks.push(ctx.scheduledAt.getTime() - T0) });
    scheduler.start();
    await clock.advanceAsync(999);
    clock.jump(300); // the event loop was blocked: the first tick is found 299 ms late
    await clock.advanceAsync(0);
    await clock.advanceAsync(3_000);
    expect(ticks).toEqual([1_000, 2_000, 3_000, 4_000]);
  });

  it('fires a 40-day date trigger once, at its instant, through a clock limited to 2^31-1 ms', async () => {
    const { scheduler, clock } = setup();
    const fired: number[] = [];
    const at = T0 + 40 * 86_400_000;
    scheduler.add({ name: 'far', trigger: new DateTrigger(at), handler: () => void fired.push(clock.now()) });
    scheduler.start();
    await clock.advanceAsync(41 * 86_400_000);
    expect(fired).toEqual([at]);
    expect(scheduler.info('far')).toMatchObject({ completed: true, nextRunAt: null, runs: 1 });
  });

  it('uses a single clock timer for many jobs', () => {
    const { scheduler, clock } = setup();
    for (let i = 0; i < 500; i++) scheduler.add({ name: `job-${i}`, trigger: new IntervalTrigger(1_000 + i), handler: () => undefined });
    scheduler.start();
    expect(clock.pendingTimers).toBe(1);
  });
});

describe('Scheduler errors in jobs', () => {
  it.each([
    [
      'throws',
      () => {
        throw new Error('boom');
      },
    ],
    ['rejects', () => Promise.reject(new Error('boom'))],
  ])('reports a job that %s and runs its next tick', async (_label, failing) => {
    const { scheduler, clock, events } = setup();
    let calls = 0;
    scheduler.add({
      name: 'flaky',
      trigger: new IntervalTrigger(1_000),
      handler: () => {
        calls++;
        return failing();
      },
    });
    scheduler.start();
    await clock.advanceAsync(2_000);
    expect(calls).toBe(2);
    const failures = events.filter((e) => e.type === 'run.failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ job: 'flaky', attempt: 1, willRetry: false, error: new Error('boom') });
    expect(scheduler.info('flaky')).toMatchObject({
      lastOutcome: 'failed',
      history: [
        { outcome: 'failed', error: 'boom' },
        { outcome: 'failed', error: 'boom' },
      ],
    });
  });

  it('skips the ticks of a job that never settles, reporting each by name', async () => {
    const { scheduler, clock, events } = setup();
    let calls = 0;
    scheduler.add({ name: 'stuck', trigger: new IntervalTrigger(1_000), handler: () => (calls++, new Promise(() => undefined)) });
    scheduler.start();
    await clock.advanceAsync(3_000);
    expect(calls).toBe(1);
    expect(events.filter((e) => e.type === 'run.skipped').map((e) => e.type === 'run.skipped' && [e.job, e.reason])).toEqual([
      ['stuck', 'overlap'],
      ['stuck', 'overlap'],
    ]);
  });

  it("with overlap 'allow', runs the next tick beside a run that never settles", async () => {
    const { scheduler, clock } = setup();
    let calls = 0;
    scheduler.add({
      name: 'stuck',
      trigger: new IntervalTrigger(1_000),
      handler: () => (calls++, new Promise(() => undefined)),
      options: { overlap: 'allow' },
    });
    scheduler.start();
    await clock.advanceAsync(3_000);
    expect(calls).toBe(3);
  });
});

describe('Scheduler shutdown', () => {
  it('starts nothing new, aborts the signal of runs in flight and waits for them', async () => {
    const { scheduler, clock, types } = setup();
    const hold = deferred();
    let signal: AbortSignal | undefined;
    let calls = 0;
    scheduler.add({
      name: 'long',
      trigger: new IntervalTrigger(1_000),
      handler: (ctx) => {
        calls++;
        signal = ctx.signal;
        return hold.promise;
      },
      options: { overlap: 'allow' },
    });
    scheduler.start();
    await clock.advanceAsync(1_000);
    let stopped = false;
    const stopping = scheduler.shutdown().then(() => (stopped = true));
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toMatchObject({ name: 'SchedulerShutdownError' });
    await clock.advanceAsync(5_000);
    expect(stopped).toBe(false);
    expect(calls).toBe(1);
    hold.resolve();
    await stopping;
    expect(types()).toEqual(['job.added', 'scheduler.started', 'run.started', 'scheduler.stopping', 'run.succeeded', 'scheduler.stopped']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up after shutdownTimeout and names the jobs still running', async () => {
    const { scheduler, clock, events } = setup({ shutdownTimeout: 2_000 });
    scheduler.add({ name: 'forever', trigger: new IntervalTrigger(1_000), handler: () => new Promise(() => undefined) });
    scheduler.start();
    await clock.advanceAsync(1_000);
    const stopping = scheduler.shutdown();
    await clock.advanceAsync(2_000);
    await stopping;
    expect(events.at(-1)).toMatchObject({ type: 'scheduler.stopped', abandoned: ['forever'] });
    expect(clock.pendingTimers).toBe(0);
  });
});
