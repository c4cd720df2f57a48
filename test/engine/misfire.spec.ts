import { SchedulerEvent } from '../../lib/events';
import { Job } from '../../lib/engine/job';
import { MisfireOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { Trigger } from '../../lib/triggers/trigger';

/** A scheduler on a VirtualClock at 0 with one job; runs are recorded as [tick, started at]. */
function setup(trigger: Trigger, misfire: MisfireOptions, handler?: () => unknown) {
  const clock = new VirtualClock(0);
  const scheduler = new Scheduler({ clock });
  const events: SchedulerEvent[] = [];
  const runs: Array<[number, number]> = [];
  scheduler.on((event) => events.push(event));
  scheduler.add({
    name: 'job',
    trigger,
    handler: (context) => {
      runs.push([context.scheduledAt.getTime(), clock.now()]);
      return handler?.();
    },
    options: { misfire },
  });
  scheduler.start();
  return { clock, scheduler, events, runs };
}

const missed = (events: SchedulerEvent[]) =>
  events
    .filter((e) => e.type === 'run.missed')
    .map((e) => e.type === 'run.missed' && [e.scheduledAt.getTime(), e.lastScheduledAt.getTime(), e.count, e.truncated, e.lateByMs]);

describe('misfire handling', () => {
  it("'skip': ticks found later than graceMs do not run; the job carries on from the next tick", async () => {
    const { clock, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 200, policy: 'skip' });
    await clock.advanceAsync(1_000);
    clock.jump(3_500); // suspended: ticks 2000, 3000, 4000 pass; found at 4500
    await clock.advanceAsync(1_000);
    expect(runs).toEqual([
      [1_000, 1_000],
      [5_000, 5_000],
    ]);
    expect(missed(events)).toEqual([[2_000, 4_000, 3, false, 2_500]]);
  });

  it("'skip' still runs the latest tick when it is within graceMs", async () => {
    const { clock, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 600, policy: 'skip' });
    await clock.advanceAsync(1_000);
    clock.jump(2_500); // found at 3500: tick 2000 is 1500 ms late, tick 3000 500 ms
    await clock.advanceAsync(0);
    expect(runs).toEqual([
      [1_000, 1_000],
      [3_000, 3_500],
    ]);
    expect(missed(events)).toEqual([[2_000, 2_000, 1, false, 1_500]]);
  });

  it("'once' (the default): the missed ticks run once, as the latest of them", async () => {
    const { clock, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 200 });
    await clock.advanceAsync(1_000);
    clock.jump(3_500);
    await clock.advanceAsync(1_000);
    expect(runs).toEqual([
      [1_000, 1_000],
      [4_000, 4_500],
      [5_000, 5_000],
    ]);
    expect(missed(events)).toEqual([[2_000, 4_000, 3, false, 2_500]]);
  });

  it("'all': each missed tick runs, in order, one after another, at most maxCatchUp", async () => {
    const { clock, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 200, policy: 'all', maxCatchUp: 2 });
    await clock.advanceAsync(1_000);
    clock.jump(3_500);
    await clock.advanceAsync(0);
    expect(runs).toEqual([
      [1_000, 1_000],
      [3_000, 4_500],
      [4_000, 4_500],
    ]);
    expect(missed(events)).toEqual([[2_000, 4_000, 3, false, 2_500]]);
  });

  it('coalesces several on-time ticks found at one wake-up into one run', async () => {
    const { clock, events, runs } = setup(new IntervalTrigger(100), { graceMs: 1_000 });
    await clock.advanceAsync(100);
    clock.jump(450); // ticks 200..500 are due at 550, all within the grace
    await clock.advanceAsync(0);
    expect(runs).toEqual([
      [100, 100],
      [500, 550],
    ]);
    expect(missed(events)).toEqual([]);
  });

  it('after a day suspended, accounts for 86,400 missed ticks without walking them', async () => {
    let calls = 0;
    const cron = CronTrigger.create('every-second', '* * * * * *', { timeZone: 'America/New_York' });
    const counting: Trigger = { kind: 'cron', at: null, periodMs: null, next: (after) => (calls++, cron.next(after)), toString: () => cron.toString() };
    const { clock, events, runs } = setup(counting, { graceMs: 1_000 });
    await clock.advanceAsync(1_000);
    clock.jump(86_400_000);
    calls = 0;
    await clock.advanceAsync(0);
    expect(calls).toBeLessThan(200);
    expect(runs.at(-1)).toEqual([86_401_000, 86_401_000]);
    expect(missed(events)).toEqual([[2_000, 86_400_000, 100, true, 86_399_000]]);
  });

  it("'all' while the job still runs under overlap 'skip': the catch-up is skipped, and nothing piles up", async () => {
    const { clock, scheduler, events, runs } = setup(
      new IntervalTrigger(1_000),
      { graceMs: 200, policy: 'all', maxCatchUp: 3 },
      () => new Promise(() => undefined),
    );
    await clock.advanceAsync(1_000);
    for (let i = 0; i < 5; i++) {
      clock.jump(3_500);
      await clock.advanceAsync(0);
    }
    expect(runs).toEqual([[1_000, 1_000]]);
    expect(events.filter((e) => e.type === 'run.skipped')).toHaveLength(5);
    expect(jobOf(scheduler).backlog?.length ?? 0).toBe(0);
  });

  it("'all' bounds what waits in total, not per wake-up", async () => {
    let release: () => void = () => undefined;
    const { clock, scheduler, runs } = setup(
      new IntervalTrigger(1_000),
      { graceMs: 200, policy: 'all', maxCatchUp: 2 },
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    await clock.advanceAsync(1_000);
    release();
    clock.jump(5_500); // ticks 2000..6000 missed: the last two run, one after another
    await clock.advanceAsync(0);
    expect(jobOf(scheduler).backlog!.length).toBeLessThanOrEqual(3);
    for (let i = 0; i < 3; i++) {
      release();
      await clock.advanceAsync(0);
    }
    expect(runs.map(([tick]) => tick)).toEqual([1_000, 5_000, 6_000]);
  });

  it.each([
    [
      'skip',
      [
        [1_000, 1_000],
        [5_000, 5_000],
      ],
    ],
    [
      'once',
      [
        [1_000, 1_000],
        [4_000, 4_500],
        [5_000, 5_000],
      ],
    ],
    [
      'all',
      [
        [1_000, 1_000],
        [2_000, 4_500],
        [3_000, 4_500],
        [4_000, 4_500],
        [5_000, 5_000],
      ],
    ],
  ] as const)("a scheduler-wide pause, policy '%s': the ticks that fell in it on resume", async (policy, expected) => {
    const { clock, scheduler, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 200, policy });
    await clock.advanceAsync(1_000);
    scheduler.pauseAll();
    await clock.advanceAsync(3_500);
    scheduler.resumeAll();
    await clock.advanceAsync(500);
    expect(runs).toEqual(expected);
    expect(events.map((e) => e.type)).toEqual([
      'job.added',
      'scheduler.started',
      'run.started',
      'run.succeeded',
      'scheduler.paused',
      'scheduler.resumed',
      'run.missed',
      ...Array(expected.length - 1)
        .fill(['run.started', 'run.succeeded'])
        .flat(),
    ]);
  });

  it('a scheduler-wide pause sends the ticks that fell in it through the misfire policy on resume', async () => {
    const { clock, scheduler, events, runs } = setup(new IntervalTrigger(1_000), { graceMs: 200 });
    await clock.advanceAsync(1_000);
    scheduler.pauseAll();
    await clock.advanceAsync(3_500);
    expect(runs).toHaveLength(1);
    scheduler.resumeAll();
    await clock.advanceAsync(500);
    expect(runs).toEqual([
      [1_000, 1_000],
      [4_000, 4_500],
      [5_000, 5_000],
    ]);
    expect(missed(events)).toEqual([[2_000, 4_000, 3, false, 2_500]]);
  });
});

/** The engine's own job, to look at what waits in its backlog. */
function jobOf(scheduler: Scheduler): Job {
  return (scheduler as unknown as { jobs: Map<string, Job> }).jobs.get('job')!;
}
