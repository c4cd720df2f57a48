import { INestApplication } from '@nestjs/common';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { InvalidScheduleError, SchedulerEvent, SchedulerNotRunningError, SchedulerRegistry, VirtualClock } from '../../lib';
import { AppScheduler } from '../../lib/application/app-scheduler';
import { startApp, T0 } from '../support/nest';

/**
 * Off-thread jobs run in real worker threads. Time is still the VirtualClock's: the tests wait for
 * the runs themselves (their events), never for a duration.
 */
const JOBS = join(__dirname, '..', 'fixtures', 'workers', 'jobs.cjs');
const ESM_JOB = join(__dirname, '..', 'fixtures', 'workers', 'esm-job.mjs');

/** Shared memory the job functions report into: [calls, last value, last attempt]. */
function cells() {
  const shared = new SharedArrayBuffer(12);
  const view = new Int32Array(shared);
  return { shared, calls: () => Atomics.load(view, 0), value: () => Atomics.load(view, 1), attempt: () => Atomics.load(view, 2) };
}

let app: INestApplication;
let registry: SchedulerRegistry;
let clock: VirtualClock;
let events: SchedulerEvent[];

beforeEach(async () => {
  clock = new VirtualClock(T0);
  ({ app } = await startApp([], { clock, workers: 2 }));
  registry = app.get(SchedulerRegistry);
  events = [];
  registry.events$.subscribe((event) => events.push(event));
});

afterEach(async () => {
  await app.close();
});

const settled = (job: string, attempt = 1) =>
  firstValueFrom(
    registry.events$.pipe(
      filter((e) => (e.type === 'run.succeeded' || e.type === 'run.failed' || e.type === 'run.timed-out') && e.job === job && e.attempt === attempt),
    ),
  );

describe('worker jobs', () => {
  it('run a named export of a CommonJS module with its arguments, on schedule', async () => {
    const { shared, calls, value } = cells();
    await registry.addJob({ name: 'sum', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'sum' }, args: [shared, 2, 3, 4] });
    const done = settled('sum');
    await clock.advanceAsync(1_000);
    expect(await done).toMatchObject({ type: 'run.succeeded' });
    expect([calls(), value()]).toEqual([1, 9]);
    expect(registry.getJob('sum')).toMatchObject({ lastOutcome: 'succeeded', meta: { target: `worker ${JOBS}#sum` } });
  });

  it("run an ES module's default export", async () => {
    const { shared, value } = cells();
    await registry.addJob({ name: 'esm', trigger: { every: 60_000 }, worker: { module: ESM_JOB }, args: [shared, 7] });
    await registry.triggerJob('esm');
    expect(value()).toBe(7);
  });

  it('get the job context as plain data, and none of the application’s globals', async () => {
    const { shared, value } = cells();
    const isolated = cells();
    (globalThis as Record<string, unknown>).applicationSecret = 'do not share';
    try {
      await registry.addJob({ name: 'ctx', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'context' }, args: [shared] });
      await registry.addJob({ name: 'iso', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'isolated' }, args: [isolated.shared] });
      await registry.triggerJob('ctx');
      await registry.triggerJob('iso');
    } finally {
      delete (globalThis as Record<string, unknown>).applicationSecret;
    }
    expect(value()).toBe(31);
    expect(isolated.value()).toBe(1);
  });

  it('are retried with attempt counting up, like any job', async () => {
    const { shared, attempt } = cells();
    await registry.addJob({
      name: 'flaky',
      trigger: { every: 60_000 },
      worker: { module: JOBS, export: 'flaky' },
      args: [shared, 2],
      retry: { attempts: 1, backoffMs: 500 },
    });
    const first = settled('flaky', 1);
    const run = registry.triggerJob('flaky');
    expect(await first).toMatchObject({ type: 'run.failed', willRetry: true, error: expect.objectContaining({ message: 'attempt 1 failed' }) });
    await run;
    const second = settled('flaky', 2);
    await clock.advanceAsync(500);
    expect(await second).toMatchObject({ type: 'run.succeeded' });
    expect(attempt()).toBe(2);
  });

  it('are terminated by timeoutMs, and the pool carries on with a fresh thread', async () => {
    const spin = cells();
    await registry.addJob({ name: 'spin', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'spin' }, args: [spin.shared], timeoutMs: 1_000 });
    const run = registry.triggerJob('spin');
    while (spin.calls() === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advanceAsync(1_000);
    await run;
    expect(events.filter((e) => 'job' in e && e.job === 'spin' && e.type.startsWith('run.')).map((e) => e.type)).toEqual(['run.started', 'run.timed-out']);
    expect(registry.getJob('spin')).toMatchObject({ running: 0, lastOutcome: 'timed-out' });
    const sum = cells();
    await registry.addJob({ name: 'after', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [sum.shared, 1, 1] });
    await registry.triggerJob('after');
    expect(sum.value()).toBe(2);
  });

  it("skip a tick while their run is going, under overlap 'skip'", async () => {
    const { shared } = cells();
    await registry.addJob({ name: 'long', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [shared] });
    void registry.triggerJob('long');
    await registry.triggerJob('long');
    expect(events.filter((e) => e.type === 'run.skipped').map((e) => e.job)).toEqual(['long']);
  });

  it('get their signal aborted inside the thread when the application closes, and are awaited', async () => {
    const { shared, calls, value } = cells();
    await registry.addJob({ name: 'until-aborted', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [shared] });
    void registry.triggerJob('until-aborted');
    while (calls() === 0) await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    expect(value()).toBe(42);
    expect(events.filter((e) => 'job' in e && e.job === 'until-aborted' && e.type === 'run.succeeded')).toHaveLength(1);
  });
});

describe('the worker pool', () => {
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setImmediate(resolve));
  };

  it('runs no more jobs at once than it has threads; the others wait their turn', async () => {
    const hold = cells();
    const sum = cells();
    await registry.addJob({ name: 'hold-1', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [hold.shared] });
    await registry.addJob({ name: 'hold-2', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [hold.shared] });
    await registry.addJob({ name: 'waits', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [sum.shared, 5] });
    void registry.triggerJob('hold-1');
    void registry.triggerJob('hold-2');
    await until(() => hold.calls() === 2);
    void registry.triggerJob('waits');
    // Adding a job still works while every thread is busy.
    await registry.addJob({ name: 'added-while-busy', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [sum.shared, 1] });
    expect(sum.calls()).toBe(0);
    expect(app.get(AppScheduler).workers.threads).toBe(2);
  });

  it('a run that times out while waiting for a thread never starts, and the pool keeps its threads', async () => {
    await app.close();
    ({ app } = await startApp([], { clock, workers: 1 }));
    registry = app.get(SchedulerRegistry);
    registry.events$.subscribe((event) => events.push(event));
    const hold = cells();
    const short = cells();
    await registry.addJob({ name: 'hold', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [hold.shared] });
    await registry.addJob({ name: 'short', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [short.shared, 1], timeoutMs: 500 });
    void registry.triggerJob('hold');
    await until(() => hold.calls() === 1);
    const waiting = registry.triggerJob('short');
    await clock.advanceAsync(500);
    await waiting;
    expect(short.calls()).toBe(0);
    expect(registry.getJob('short')).toMatchObject({ running: 0, lastOutcome: 'timed-out' });
    expect(app.get(AppScheduler).workers.threads).toBe(1);
  });

  it('on shutdown, runs still waiting for a thread never start, and nothing happens after the scheduler stopped', async () => {
    await app.close();
    ({ app } = await startApp([], { clock, workers: 1 }));
    registry = app.get(SchedulerRegistry);
    events = [];
    registry.events$.subscribe((event) => events.push(event));
    const hold = cells();
    const queued = cells();
    await registry.addJob({ name: 'hold', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'untilAborted' }, args: [hold.shared] });
    await registry.addJob({ name: 'queued', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [queued.shared, 1] });
    void registry.triggerJob('hold');
    await until(() => hold.calls() === 1);
    void registry.triggerJob('queued');
    await app.close();
    expect(queued.calls()).toBe(0);
    expect(hold.value()).toBe(42);
    expect(events.at(-1)?.type).toBe('scheduler.stopped');
    expect(app.get(AppScheduler).workers.threads).toBe(0);
  });

  it.each([
    ['exits', 'exit', 'The worker thread exited with code 3'],
    ['throws outside the run', 'throwLater', 'thrown in the worker'],
  ])('a job whose thread %s fails, and the next run gets a fresh thread', async (_label, fn, message) => {
    const crash = cells();
    await registry.addJob({ name: 'crash', trigger: { every: 60_000 }, worker: { module: JOBS, export: fn }, args: [crash.shared] });
    await registry.triggerJob('crash');
    expect(events.find((e) => e.type === 'run.failed')).toMatchObject({ job: 'crash', error: expect.objectContaining({ message }) });
    const sum = cells();
    await registry.addJob({ name: 'next', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [sum.shared, 2, 2] });
    await registry.triggerJob('next');
    expect(sum.value()).toBe(4);
  });

  it('leaves no thread behind once the application closed, and refuses new worker jobs', async () => {
    const { shared } = cells();
    await registry.addJob({ name: 'sum', trigger: { every: 60_000 }, worker: { module: JOBS, export: 'sum' }, args: [shared, 1] });
    await registry.triggerJob('sum');
    const scheduling = app.get(AppScheduler);
    expect(scheduling.workers.threads).toBe(1);
    await app.close();
    expect(scheduling.workers.threads).toBe(0);
    await expect(registry.addJob({ name: 'late', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'sum' } })).rejects.toThrow(
      SchedulerNotRunningError,
    );
    expect(scheduling.workers.threads).toBe(0);
  });
});

describe('worker jobs refuse bad input with a typed error, adding nothing', () => {
  it('a module that does not exist', async () => {
    const error = await registry.addJob({ name: 'w', trigger: { every: 1_000 }, worker: { module: './no/such/module.js' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidScheduleError);
    expect((error as Error).message).toBe(`Invalid worker.module for job "w": "./no/such/module.js" cannot be found from ${process.cwd()}.`);
    expect(registry.listJobs()).toEqual([]);
  });

  it('an export that does not exist, or is not a function', async () => {
    await expect(registry.addJob({ name: 'w', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'nope' } })).rejects.toThrow(
      'Invalid worker.export for job "w": "nope" cannot be used: "nope" is not an exported function of the module.',
    );
    await expect(registry.addJob({ name: 'w', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'notAFunction' } })).rejects.toThrow(
      'Invalid worker.export for job "w": "notAFunction" cannot be used: "notAFunction" is not an exported function of the module.',
    );
    expect(registry.listJobs()).toEqual([]);
  });

  it('arguments that cannot cross to a thread, naming the field', async () => {
    const file = await open(__filename, 'r');
    try {
      const error = await registry
        .addJob({ name: 'w', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'sum' }, args: ['report.csv', { file }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidScheduleError);
      expect(error).toMatchObject({ jobName: 'w', field: 'args[1].file' });
      expect((error as Error).message).toMatch(/^Invalid args\[1\]\.file for job "w": .* cannot be sent to a worker thread: /);
      await expect(registry.addJob({ name: 'w', trigger: { every: 1_000 }, worker: { module: JOBS, export: 'sum' }, args: [() => 1] })).rejects.toMatchObject({
        field: 'args[0]',
      });
    } finally {
      await file.close();
    }
    expect(registry.listJobs()).toEqual([]);
  });
});
