import { SchedulerEvent } from '../../lib/events';
import { JobContext } from '../../lib/engine/job-context';
import { JobOptions } from '../../lib/engine/job-options';
import { RunTimeoutError } from '../../lib/errors';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { Trigger } from '../../lib/triggers/trigger';
import { HISTORY_SIZE } from '../../lib/engine/job';

/**
 * Each case: a scheduler on a VirtualClock at 0 with one job `j`; the exact sequence of events
 * is compared, written as `type@time` plus `#attempt` for runs, `(tick)` for the tick a run is
 * for, and the details that matter (reason, count).
 */
function setup(trigger: Trigger, handler: Handler, options: JobOptions = {}, random?: () => number) {
  const clock = new VirtualClock(0);
  const scheduler = new Scheduler({ clock, random });
  const events: SchedulerEvent[] = [];
  scheduler.on((event) => events.push(event));
  scheduler.add({ name: 'j', trigger, handler: (context) => handler(context, clock), options });
  scheduler.start();
  const log = () =>
    events
      .filter((e) => e.type !== 'job.added' && e.type !== 'scheduler.started')
      .map((e) => {
        let line = `${e.type}@${e.at.getTime()}`;
        if ('attempt' in e) line += `#${e.attempt}(${e.scheduledAt.getTime()})`;
        if (e.type === 'run.skipped') line += `:${e.reason}`;
        if (e.type === 'run.failed' || e.type === 'run.timed-out') line += e.willRetry ? ':retry' : '';
        if (e.type === 'job.completed') line += `:${e.reason}`;
        if (e.type === 'run.missed') line += `:${e.count}`;
        return line;
      });
  return { clock, scheduler, events, log };
}

/** A job handler; it gets the test's clock to take time on. */
type Handler = (context: JobContext, clock: VirtualClock) => unknown;

const every = (ms: number) => new IntervalTrigger(ms);
/** A handler that takes `ms` of (virtual) time. */
const taking =
  (ms: number): Handler =>
  (_context, clock) =>
    new Promise<void>((resolve) => clock.setTimer(resolve, ms));

describe('overlap', () => {
  it("'skip' (the default) skips ticks while the job runs, reporting each", async () => {
    const { clock, log } = setup(every(1_000), taking(2_500));
    await clock.advanceAsync(4_000);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.skipped@2000#1(2000):overlap',
      'run.skipped@3000#1(3000):overlap',
      'run.succeeded@3500#1(1000)',
      'run.started@4000#1(4000)',
    ]);
  });

  it("'queue' runs one held-back tick after the current run, and skips beyond that", async () => {
    const { clock, log } = setup(every(1_000), taking(2_500), { overlap: 'queue' });
    await clock.advanceAsync(4_000);
    expect(log()).toEqual(['run.started@1000#1(1000)', 'run.skipped@3000#1(3000):overlap', 'run.succeeded@3500#1(1000)', 'run.started@3500#1(2000)']);
  });

  it("'allow' runs ticks side by side", async () => {
    const { clock, log } = setup(every(1_000), taking(1_500), { overlap: 'allow' });
    await clock.advanceAsync(3_000);
    expect(log()).toEqual(['run.started@1000#1(1000)', 'run.started@2000#1(2000)', 'run.succeeded@2500#1(1000)', 'run.started@3000#1(3000)']);
  });
});

describe('jitterMs', () => {
  it('delays each run by a random amount, the tick staying the scheduled instant', async () => {
    const { clock, events } = setup(
      every(1_000),
      () => undefined,
      { jitterMs: 400 },
      () => 0.5,
    );
    await clock.advanceAsync(3_000);
    const started = events.filter((e) => e.type === 'run.started').map((e) => e.type === 'run.started' && [e.scheduledAt.getTime(), e.at.getTime()]);
    expect(started).toEqual([
      [1_000, 1_200],
      [2_000, 2_200],
    ]);
  });

  it('never delays a run past the next tick, whatever the draw', async () => {
    let draw = 0;
    const draws = [0, 0.999999, 0.5, 0.999999, 0.25, 0.999999];
    const { clock, events } = setup(
      CronTrigger.create('j', '* * * * * *', { timeZone: 'UTC' }),
      () => undefined,
      { jitterMs: 60_000 },
      () => draws[draw++ % draws.length],
    );
    await clock.advanceAsync(30_000);
    const started = events.filter((e) => e.type === 'run.started');
    expect(started.length).toBeGreaterThanOrEqual(28);
    for (const event of started) {
      if (event.type !== 'run.started') continue;
      expect(event.at.getTime()).toBeGreaterThanOrEqual(event.scheduledAt.getTime());
      expect(event.at.getTime()).toBeLessThan(event.scheduledAt.getTime() + 1_000);
    }
  });
});

describe('startAt, endAt and maxRuns', () => {
  it('startAt holds cron ticks back until it; an interval counts from it', async () => {
    const cron = setup(CronTrigger.create('j', '* * * * * *', { timeZone: 'UTC' }), () => undefined, { startAt: 5_500 });
    await cron.clock.advanceAsync(7_000);
    expect(cron.log().filter((l) => l.startsWith('run.started'))).toEqual(['run.started@6000#1(6000)', 'run.started@7000#1(7000)']);
    const interval = setup(every(1_000), () => undefined, { startAt: 5_500 });
    await interval.clock.advanceAsync(7_000);
    expect(interval.log().filter((l) => l.startsWith('run.started'))).toEqual(['run.started@6500#1(6500)']);
  });

  it('endAt completes the job after its last tick; it leaves the timer queue', async () => {
    const { clock, scheduler, log } = setup(every(1_000), () => undefined, { endAt: 2_500 });
    await clock.advanceAsync(5_000);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.succeeded@1000#1(1000)',
      'run.started@2000#1(2000)',
      'run.succeeded@2000#1(2000)',
      'job.completed@2000:end-at',
    ]);
    expect(clock.pendingTimers).toBe(0);
    expect(scheduler.info('j')).toMatchObject({ completed: true, nextRunAt: null, runs: 2 });
  });

  it('maxRuns completes the job after that many runs; it leaves the timer queue', async () => {
    const { clock, scheduler, log } = setup(every(1_000), () => undefined, { maxRuns: 2 });
    await clock.advanceAsync(5_000);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.succeeded@1000#1(1000)',
      'run.started@2000#1(2000)',
      'job.completed@2000:max-runs',
      'run.succeeded@2000#1(2000)',
    ]);
    expect(clock.pendingTimers).toBe(0);
    expect(scheduler.info('j').completed).toBe(true);
  });

  it('an endAt that falls before the first tick completes the job at once', async () => {
    const { clock, log } = setup(every(10_000), () => undefined, { startAt: 0, endAt: 5_000 });
    await clock.advanceAsync(20_000);
    expect(log()).toEqual(['job.completed@0:end-at']);
  });
});

describe('timeoutMs', () => {
  it('aborts the signal and reports the run timed out; the slot is freed when the handler settles', async () => {
    const signals: AbortSignal[] = [];
    const handler: Handler = (context, clock) => {
      signals.push(context.signal);
      return new Promise<void>((resolve) => clock.setTimer(resolve, 2_500));
    };
    const { clock, log } = setup(every(1_000), handler, { timeoutMs: 500 });
    await clock.advanceAsync(4_000);
    expect(signals[0].aborted).toBe(true);
    expect(signals[0].reason).toBeInstanceOf(RunTimeoutError);
    expect((signals[0].reason as Error).message).toBe('Job "j" timed out after 500 ms');
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.timed-out@1500#1(1000)',
      // Still running although timed out: the next ticks are skipped until it settles at 3500.
      'run.skipped@2000#1(2000):overlap',
      'run.skipped@3000#1(3000):overlap',
      'run.started@4000#1(4000)',
    ]);
  });
});

describe('retry', () => {
  it('retries a failed run with attempt counting up, waiting backoffMs × factor^(n-1)', async () => {
    const attempts: number[] = [];
    const { clock, log } = setup(
      every(60_000),
      (context) => {
        attempts.push(context.attempt);
        throw new Error('nope');
      },
      { retry: { attempts: 2, backoffMs: 1_000, factor: 3 } },
    );
    await clock.advanceAsync(65_000);
    expect(attempts).toEqual([1, 2, 3]);
    expect(log()).toEqual([
      'run.started@60000#1(60000)',
      'run.failed@60000#1(60000):retry',
      'run.started@61000#2(60000)',
      'run.failed@61000#2(60000):retry',
      'run.started@64000#3(60000)',
      'run.failed@64000#3(60000)',
    ]);
  });

  it("never collides with the next tick under overlap 'skip': the tick is skipped while a retry waits", async () => {
    let calls = 0;
    const { clock, log } = setup(
      every(1_000),
      () => {
        if (++calls === 1) throw new Error('first fails');
      },
      { retry: { attempts: 1, backoffMs: 1_500 } },
    );
    await clock.advanceAsync(3_000);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.failed@1000#1(1000):retry',
      'run.skipped@2000#1(2000):overlap',
      'run.started@2500#2(1000)',
      'run.succeeded@2500#2(1000)',
      'run.started@3000#1(3000)',
      'run.succeeded@3000#1(3000)',
    ]);
  });
});

describe('options combined', () => {
  it('overlap × retry × timeout: a timed-out run is retried after its handler settles, never beside the next tick', async () => {
    // The handler honours its signal: it settles 200 ms after the abort.
    const handler: Handler = (context, clock) =>
      new Promise<void>((_resolve, reject) => {
        context.signal.addEventListener('abort', () => clock.setTimer(() => reject(context.signal.reason), 200));
      });
    const { clock, log } = setup(every(1_000), handler, { timeoutMs: 300, retry: { attempts: 1, backoffMs: 100 } });
    await clock.advanceAsync(2_100);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'run.timed-out@1300#1(1000):retry',
      // The retry came due at 1400 while the first attempt still held the slot: it waited for it.
      'run.started@1500#2(1000)',
      'run.timed-out@1800#2(1000)',
      'run.started@2000#1(2000)',
    ]);
  });

  it('misfire × pause: ticks that fell in a job pause follow the misfire policy on resume', async () => {
    const once = setup(every(1_000), () => undefined, { misfire: { graceMs: 100 } });
    await once.clock.advanceAsync(1_000);
    once.scheduler.pause('j');
    await once.clock.advanceAsync(3_500);
    once.scheduler.resume('j');
    expect(once.log()).toEqual([
      'run.started@1000#1(1000)',
      'run.succeeded@1000#1(1000)',
      'job.paused@1000',
      'job.resumed@4500',
      'run.missed@4500#1(2000):3',
      'run.started@4500#1(4000)',
      'run.succeeded@4500#1(4000)',
    ]);
    const skip = setup(every(1_000), () => undefined, { misfire: { graceMs: 100, policy: 'skip' } });
    await skip.clock.advanceAsync(1_000);
    skip.scheduler.pause('j');
    await skip.clock.advanceAsync(3_500);
    skip.scheduler.resume('j');
    await skip.clock.advanceAsync(500);
    expect(skip.log().slice(3)).toEqual(['job.resumed@4500', 'run.missed@4500#1(2000):3', 'run.started@5000#1(5000)', 'run.succeeded@5000#1(5000)']);
  });

  it('endAt and maxRuns together: whichever comes first completes the job', async () => {
    const byRuns = setup(every(1_000), () => undefined, { maxRuns: 2, endAt: 10_000 });
    await byRuns.clock.advanceAsync(20_000);
    expect(byRuns.log().filter((l) => l.startsWith('job.completed'))).toEqual(['job.completed@2000:max-runs']);
    const byEnd = setup(every(1_000), () => undefined, { maxRuns: 20, endAt: 3_000 });
    await byEnd.clock.advanceAsync(20_000);
    expect(byEnd.log().filter((l) => l.startsWith('job.completed'))).toEqual(['job.completed@3000:end-at']);
  });
});

describe('completed jobs', () => {
  it('a job rescheduled after maxRuns starts afresh, and completes again', async () => {
    const { clock, scheduler, log } = setup(every(1_000), () => undefined, { maxRuns: 1 });
    await clock.advanceAsync(2_000);
    scheduler.reschedule('j', every(500));
    await clock.advanceAsync(2_000);
    expect(log()).toEqual([
      'run.started@1000#1(1000)',
      'job.completed@1000:max-runs',
      'run.succeeded@1000#1(1000)',
      'job.rescheduled@2000',
      'run.started@2500#1(2500)',
      'job.completed@2500:max-runs',
      'run.succeeded@2500#1(2500)',
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('triggering a job that made its maxRuns runs nothing and says so', async () => {
    const { clock, scheduler, log } = setup(every(1_000), () => undefined, { maxRuns: 1 });
    await clock.advanceAsync(1_000);
    await scheduler.trigger('j');
    expect(log().slice(-1)).toEqual(['run.skipped@1000#1(1000):completed']);
  });

  it('resuming a job that completed while paused leaves it completed, and not paused', async () => {
    const { clock, scheduler } = setup(every(1_000), () => undefined, { endAt: 1_500 });
    await clock.advanceAsync(1_000);
    scheduler.pause('j');
    await clock.advanceAsync(1_000);
    scheduler.resume('j');
    expect(scheduler.info('j')).toMatchObject({ paused: false, completed: true, nextRunAt: null });
  });
});

describe('timeouts and waiting callers', () => {
  it('trigger() resolves when its run times out, even if the handler never settles', async () => {
    const { clock, scheduler, log } = setup(every(60_000), () => new Promise(() => undefined), { timeoutMs: 100 });
    let resolved = false;
    const run = scheduler.trigger('j').then(() => (resolved = true));
    await clock.advanceAsync(100);
    await run;
    expect(resolved).toBe(true);
    expect(log()).toEqual(['run.started@0#1(0)', 'run.timed-out@100#1(0)']);
    expect(scheduler.info('j')).toMatchObject({ running: 1, lastOutcome: 'timed-out' });
  });

  it("retries of a timed-out run wait for its handler under 'queue' and run beside it under 'allow'", async () => {
    const settleAfter =
      (ms: number): Handler =>
      (context, clock) =>
        new Promise<void>((resolve) => (context.attempt === 1 ? clock.setTimer(resolve, ms) : resolve()));
    const queued = setup(every(60_000), settleAfter(1_000), { overlap: 'queue', timeoutMs: 100, retry: { attempts: 1, backoffMs: 50 } });
    await queued.clock.advanceAsync(61_000);
    expect(queued.log().filter((l) => l.startsWith('run.started'))).toEqual(['run.started@60000#1(60000)', 'run.started@61000#2(60000)']);
    const allowed = setup(every(60_000), settleAfter(1_000), { overlap: 'allow', timeoutMs: 100, retry: { attempts: 1, backoffMs: 50 } });
    await allowed.clock.advanceAsync(61_000);
    expect(allowed.log().filter((l) => l.startsWith('run.started'))).toEqual(['run.started@60000#1(60000)', 'run.started@60150#2(60000)']);
  });
});

describe('JobInfo', () => {
  it('keeps the last runs, bounded, with start, duration, outcome and error', async () => {
    let n = 0;
    const { clock, scheduler } = setup(every(1_000), () => {
      if (++n % 2 === 0) throw new Error(`failure ${n}`);
    });
    await clock.advanceAsync(25_000);
    const info = scheduler.info('j');
    expect(info.history).toHaveLength(HISTORY_SIZE);
    expect(info.history[0]).toEqual({
      scheduledAt: new Date(16_000),
      startedAt: new Date(16_000),
      durationMs: 0,
      attempt: 1,
      outcome: 'failed',
      error: 'failure 16',
    });
    expect(info.history.at(-1)).toEqual({ scheduledAt: new Date(25_000), startedAt: new Date(25_000), durationMs: 0, attempt: 1, outcome: 'succeeded' });
    expect(info).toMatchObject({
      name: 'j',
      kind: 'interval',
      trigger: 'every 1000 ms',
      nextRunAt: new Date(26_000),
      lastRunAt: new Date(25_000),
      lastOutcome: 'succeeded',
      running: 0,
      runs: 25,
      paused: false,
      completed: false,
    });
  });
});
