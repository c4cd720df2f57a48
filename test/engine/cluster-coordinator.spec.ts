import { SchedulerEvent } from '../../lib/events';
import { JobContext } from '../../lib/engine/job-context';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { JobStore } from '../../lib/stores/job-store';
import { MemoryJobStore } from '../../lib/stores/memory.store';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { Trigger } from '../../lib/triggers/trigger';

/**
 * Several schedulers sharing one store in this process, on one VirtualClock: the claim protocol
 * without processes or real time (the real-process tests are in test/cluster).
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');

function cluster(size: number, store?: JobStore, claimAheadMs?: number) {
  const clock = new VirtualClock(T0);
  const shared = store ?? new MemoryJobStore({ shared: true, now: () => clock.now() });
  const runs: Array<{ instance: string; job: string; tick: number; attempt: number; token?: number }> = [];
  const events: Array<SchedulerEvent & { instance: string }> = [];
  const instances = Array.from({ length: size }, (_, index) => {
    const scheduler = new Scheduler({
      clock,
      store: shared,
      instanceId: `i${index}`,
      cluster: { leaseMs: 3_000, syncEveryMs: 1_000, checkInMs: 1_000, claimAheadMs },
    });
    scheduler.on((event) => events.push({ ...event, instance: `i${index}` }));
    return scheduler;
  });
  const add = (scheduler: Scheduler, name: string, trigger: Trigger, options: JobOptions = {}, handler?: (context: JobContext) => unknown) =>
    scheduler.add({
      name,
      trigger,
      options,
      handler: (context) => {
        runs.push({
          instance: scheduler === instances[0] ? 'i0' : `i${instances.indexOf(scheduler)}`,
          job: name,
          tick: context.scheduledAt.getTime() - T0,
          attempt: context.attempt,
          token: context.fencingToken,
        });
        return handler?.(context);
      },
    });
  return { clock, store: shared, instances, runs, events, add };
}

/** Stops an instance the way a crash would: its timers go, nothing is released or said. */
function crash(scheduler: Scheduler, clock: VirtualClock): void {
  type Cluster = { timers: unknown[]; leases: { jobs: Set<unknown> } };
  const internals = scheduler as unknown as { queue: { stop(): void }; coordinators: { cluster: Cluster } };
  internals.queue.stop();
  internals.coordinators.cluster.timers.forEach((timer) => clock.clearTimer(timer));
  internals.coordinators.cluster.leases.jobs.clear();
}

const ticksOf = (runs: Array<{ job: string; tick: number }>, job: string) =>
  runs
    .filter((r) => r.job === job)
    .map((r) => r.tick)
    .sort((a, b) => a - b);

describe('instances sharing a store', () => {
  it('run each tick of a cluster-wide job exactly once, with a growing fencing token', async () => {
    const { clock, instances, runs, add } = cluster(3);
    for (const scheduler of instances) {
      add(scheduler, 'cron', CronTrigger.create('cron', '* * * * * *', { timeZone: 'UTC' }));
      add(scheduler, 'interval', new IntervalTrigger(700));
      scheduler.start();
    }
    await clock.advanceAsync(20_000);
    expect(ticksOf(runs, 'cron')).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 1_000));
    expect(ticksOf(runs, 'interval')).toEqual(Array.from({ length: 28 }, (_, i) => (i + 1) * 700));
    const tokens = runs
      .filter((r) => r.job === 'cron')
      .sort((a, b) => a.tick - b.tick)
      .map((r) => r.token!);
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(20);
  });

  it('share the interval anchor of the first instance to register, whenever the others start', async () => {
    const { clock, instances, runs, add } = cluster(2);
    add(instances[0], 'interval', new IntervalTrigger(1_000));
    instances[0].start();
    await clock.advanceAsync(2_500);
    add(instances[1], 'interval', new IntervalTrigger(1_000));
    instances[1].start();
    await clock.advanceAsync(3_000);
    expect(ticksOf(runs, 'interval')).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
  });

  it("with scope 'instance', run the job on every instance", async () => {
    const { clock, instances, runs, add } = cluster(3);
    for (const scheduler of instances) {
      add(scheduler, 'local', new IntervalTrigger(1_000), { scope: 'instance' });
      scheduler.start();
    }
    await clock.advanceAsync(2_000);
    expect(runs.filter((r) => r.job === 'local')).toHaveLength(6);
  });

  it("skip a tick everywhere while the job's run holds a lease (overlap 'skip' is cluster-wide)", async () => {
    const { clock, instances, runs, events, add } = cluster(2);
    for (const scheduler of instances) {
      add(scheduler, 'slow', new IntervalTrigger(1_000), {}, () => new Promise<void>((resolve) => clock.setTimer(resolve, 2_500)));
      scheduler.start();
    }
    await clock.advanceAsync(4_000);
    expect(ticksOf(runs, 'slow')).toEqual([1_000, 4_000]);
    expect(events.filter((e) => e.type === 'run.skipped').map((e) => e.type === 'run.skipped' && e.scheduledAt.getTime() - T0)).toEqual([2_000, 3_000]);
  });

  it("report a tick queued behind a run that a version without cluster-wide 'queue' dropped, when the store says so", async () => {
    // The store's side (Redis, PostgreSQL) is in their specs: a won claim names the queued tick that went.
    const holder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => holder.clock!.now() });
    const store: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: async (instance: string, claims: Parameters<JobStore['claim']>[1]) =>
        (await memory.claim(instance, claims)).map((outcome, index) =>
          outcome.status === 'won' && claims[index].tick === T0 + 3_000 ? { ...outcome, droppedQueued: T0 + 2_000 } : outcome,
        ),
    });
    const { clock, instances, runs, events, add } = cluster(1, store);
    holder.clock = clock;
    add(instances[0], 'queued', new IntervalTrigger(1_000), { overlap: 'queue' });
    instances[0].start();
    await clock.advanceAsync(4_500);
    expect(ticksOf(runs, 'queued')).toEqual([1_000, 2_000, 3_000, 4_000]);
    const skipped = events.flatMap((e) => (e.type === 'run.skipped' ? [{ tick: e.scheduledAt.getTime() - T0, reason: e.reason, attempt: e.attempt }] : []));
    expect(skipped).toEqual([{ tick: 2_000, reason: 'overlap', attempt: 1 }]);
  });

  it('after the whole cluster was down, catch up from the watermark by the misfire policy', async () => {
    const first = cluster(1);
    first.add(first.instances[0], 'job', new IntervalTrigger(1_000), { misfire: { policy: 'all', maxCatchUp: 3, graceMs: 100 } });
    first.instances[0].start();
    await first.clock.advanceAsync(2_000);
    await first.instances[0].shutdown();
    // Ten seconds later a new instance starts on the same store.
    first.clock.jump(10_000);
    const scheduler = new Scheduler({ clock: first.clock, store: first.store, instanceId: 'later' });
    const runs: number[] = [];
    const events: SchedulerEvent[] = [];
    scheduler.on((event) => events.push(event));
    scheduler.add({
      name: 'job',
      trigger: new IntervalTrigger(1_000),
      handler: (ctx) => void runs.push(ctx.scheduledAt.getTime() - T0),
      options: { misfire: { policy: 'all', maxCatchUp: 3, graceMs: 100 } },
    });
    scheduler.start();
    await first.clock.advanceAsync(0);
    // Ticks 3000..11000 were missed: the last three run, then the on-time tick of 12000.
    expect(runs).toEqual([9_000, 10_000, 11_000, 12_000]);
    expect(events.find((e) => e.type === 'run.missed')).toMatchObject({
      count: 9,
      reason: 'late',
      scheduledAt: new Date(T0 + 3_000),
      lastScheduledAt: new Date(T0 + 11_000),
    });
    await scheduler.shutdown();
  });

  it('re-run an at-least-once job on another instance when the one running it dies: attempt 2, a larger fencing token', async () => {
    // Claimed at the tick, by the instance that wakes first: i0.
    const { clock, instances, runs, add } = cluster(2, undefined, 0);
    add(instances[0], 'important', new IntervalTrigger(60_000), { delivery: 'at-least-once' }, () => new Promise(() => undefined));
    add(instances[1], 'important', new IntervalTrigger(60_000), { delivery: 'at-least-once' });
    instances[0].start();
    await clock.advanceAsync(0);
    instances[1].start();
    await clock.advanceAsync(60_000);
    expect(runs).toEqual([{ instance: 'i0', job: 'important', tick: 60_000, attempt: 1, token: 1 }]);
    // Instance 0 dies: its timers stop, its lease runs out, instance 1 takes the run over.
    crash(instances[0], clock);
    await clock.advanceAsync(5_000);
    expect(runs.slice(1)).toEqual([{ instance: 'i1', job: 'important', tick: 60_000, attempt: 2, token: 2 }]);
  });

  it('give up an at-most-once run whose instance died, reporting it lost, and never re-run it', async () => {
    // Claimed at the tick, by the instance that wakes first: i0.
    const { clock, instances, runs, events, add } = cluster(2, undefined, 0);
    add(instances[0], 'once-only', new IntervalTrigger(60_000), {}, () => new Promise(() => undefined));
    add(instances[1], 'once-only', new IntervalTrigger(60_000));
    instances[0].start();
    await clock.advanceAsync(0);
    instances[1].start();
    await clock.advanceAsync(60_000);
    crash(instances[0], clock);
    await clock.advanceAsync(5_000);
    expect(runs).toHaveLength(1);
    expect(events.filter((e) => e.type === 'run.lost')).toEqual([expect.objectContaining({ job: 'once-only', owner: 'i0', attempt: 1 })]);
  });

  it('a tick whose start was marked ahead of it, on an instance that dies before it comes: run at attempt 2 elsewhere (at-least-once) or reported lost (at-most-once), never twice, never silently', async () => {
    const { clock, store, instances, runs, events, add } = cluster(2);
    const jobs = Array.from({ length: 20 }, (_, i) => ({ name: `j${i}`, delivery: i % 2 === 0 ? ('at-least-once' as const) : ('at-most-once' as const) }));
    for (const scheduler of instances) {
      for (const { name, delivery } of jobs) add(scheduler, name, CronTrigger.create(name, '*/5 * * * * *', { timeZone: 'UTC' }), { delivery });
    }
    // i0's first marks are answered 20 ms after their instant: it learns to send them ahead. It
    // dies 5 ms before the first instant whose marks it sent ahead, as soon as they are answered.
    let first = true;
    let dead: { tick: number; jobs: string[] } | null = null;
    const startAll = store.startAll.bind(store);
    store.startAll = async (instance, upTo, names) => {
      if (instance === 'i0' && first) {
        first = false;
        await new Promise<void>((resolve) => void clock.setTimer(resolve, upTo + 20 - clock.now()));
      } else if (instance === 'i0' && dead === null && clock.now() < upTo - 5) {
        dead = { tick: upTo - T0, jobs: [...(names ?? [])] };
        clock.setTimer(() => crash(instances[0], clock), upTo - 5 - clock.now());
      }
      return startAll(instance, upTo, names);
    };
    instances.forEach((scheduler) => scheduler.start());
    await clock.advanceAsync(30_000);
    expect(dead).not.toBeNull();
    const { tick, jobs: marked } = dead!;
    expect(marked.length).toBeGreaterThan(0);
    for (const { name, delivery } of jobs) {
      const ran = runs.filter((run) => run.job === name && run.tick === tick);
      const lost = events.filter((event) => event.type === 'run.lost' && event.job === name && event.scheduledAt.getTime() - T0 === tick);
      if (!marked.includes(name)) expect({ name, ran: ran.map((run) => [run.instance, run.attempt]), lost }).toEqual({ name, ran: [['i1', 1]], lost: [] });
      else if (delivery === 'at-least-once')
        expect({ name, ran: ran.map((run) => [run.instance, run.attempt]), lost }).toEqual({ name, ran: [['i1', 2]], lost: [] });
      else expect({ name, ran, lost: lost.length }).toEqual({ name, ran: [], lost: 1 });
      // Every later tick runs once.
      expect(ticksOf(runs, name).filter((t) => t > tick)).toEqual(Array.from({ length: (30_000 - tick) / 5_000 }, (_, i) => tick + (i + 1) * 5_000));
    }
  });

  it('report ticks missed while the store cannot be reached, once per outage, and claim again once it is back', async () => {
    const clockHolder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => clockHolder.clock!.now() });
    let down = false;
    const flaky: JobStore = new Proxy(memory, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('connection refused')) : value.apply(target, args));
      },
    });
    const { clock, instances, runs, events, add } = cluster(2, flaky);
    clockHolder.clock = clock;
    for (const scheduler of instances) {
      add(scheduler, 'tick', new IntervalTrigger(1_000));
      scheduler.start();
    }
    await clock.advanceAsync(2_000);
    down = true;
    await clock.advanceAsync(3_000);
    down = false;
    await clock.advanceAsync(10_000);
    const ticks = ticksOf(runs, 'tick');
    expect(ticks.slice(0, 2)).toEqual([1_000, 2_000]);
    expect(ticks.filter((t) => t >= 3_000 && t <= 5_000)).toEqual([]);
    expect(ticks.filter((t) => t > 5_000).length).toBeGreaterThanOrEqual(9);
    expect(new Set(ticks).size).toBe(ticks.length);
    const unclaimed = events.filter((e) => e.type === 'run.missed' && e.reason === 'unclaimed');
    expect(unclaimed.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'store.unavailable')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'store.recovered')).toHaveLength(2);
  });

  it('whose clocks disagree still run each tick exactly once: skew changes who wins, not how many', async () => {
    const base = new VirtualClock(T0);
    const store = new MemoryJobStore({ shared: true, now: () => base.now() });
    const skewed = (offset: number) => ({
      ...base,
      now: () => base.now() + offset,
      setTimer: base.setTimer.bind(base),
      clearTimer: base.clearTimer.bind(base),
      maxDelay: base.maxDelay,
    });
    const wins = new Map<string, number[]>();
    const instances = [-400, 0, 300].map((offset) => {
      const instanceId = `skew${offset}`;
      const scheduler = new Scheduler({ clock: skewed(offset), store, instanceId, cluster: { leaseMs: 3_000, syncEveryMs: 1_000, checkInMs: 1_000 } });
      wins.set(instanceId, []);
      scheduler.add({
        name: 'cron',
        trigger: CronTrigger.create('cron', '* * * * * *', { timeZone: 'UTC' }),
        handler: (context) => void wins.get(instanceId)!.push(context.scheduledAt.getTime() - T0),
      });
      scheduler.start();
      return scheduler;
    });
    await base.advanceAsync(20_000);
    const all = [...wins.values()].flat().sort((a, b) => a - b);
    // The instance 400 ms behind started before tick 0 by its own clock; the one 300 ms ahead
    // reaches tick 20 s while the shared clock reads 19.7 s.
    expect(all).toEqual(Array.from({ length: 21 }, (_, i) => i * 1_000));
    // The instance whose clock runs ahead reaches every later tick first.
    expect(wins.get('skew300')).toEqual(all.slice(1));
    for (const scheduler of instances) await scheduler.shutdown();
  });

  it('say nothing of a claim that fails because the scheduler is shutting down and its store closing', async () => {
    const holder: { clock?: VirtualClock; fail?: (error: Error) => void } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => holder.clock!.now() });
    const closing: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: () => new Promise((_, reject) => (holder.fail = reject)),
    });
    const { clock, instances, runs, events, add } = cluster(1, closing);
    holder.clock = clock;
    add(instances[0], 'tick', CronTrigger.create('tick', '* * * * * *', { timeZone: 'UTC' }));
    instances[0].start();
    await clock.advanceAsync(1_000);
    expect(holder.fail).toBeDefined();
    const stopped = instances[0].shutdown();
    holder.fail!(new Error('Connection is closed.'));
    await stopped;
    await clock.advanceAsync(0);
    expect(runs).toEqual([]);
    expect(events.filter((e) => e.type === 'store.unavailable')).toEqual([]);
  });

  it('claim every tick due at one wake-up in one round trip to the store', async () => {
    let calls = 0;
    let claimed = 0;
    const clockHolder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => clockHolder.clock!.now() });
    const counting: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: (instance: string, claims: Parameters<JobStore['claim']>[1]) => {
        calls += 1;
        claimed += claims.length;
        return memory.claim(instance, claims);
      },
    });
    // Claimed at the tick: the 50 jobs wake up together (ahead of it, by a share each, see below).
    const { clock, instances, runs, add } = cluster(1, counting, 0);
    clockHolder.clock = clock;
    for (let i = 0; i < 50; i++) add(instances[0], `cron-${i}`, CronTrigger.create(`cron-${i}`, '* * * * * *', { timeZone: 'UTC' }));
    instances[0].start();
    await clock.advanceAsync(5_000);
    expect(runs).toHaveLength(250);
    expect(claimed).toBe(250);
    expect(calls).toBe(5);
  });

  it('claim ahead of the tick, each instance a different share of the jobs first, and run at the tick', async () => {
    const claims: Array<{ instance: string; at: number; ticks: number[] }> = [];
    const clockHolder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => clockHolder.clock!.now() });
    const recording: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: (instance: string, batch: Parameters<JobStore['claim']>[1]) => {
        claims.push({ instance, at: clockHolder.clock!.now() - T0, ticks: [...new Set(batch.map((c) => c.tick - T0))] });
        return memory.claim(instance, batch);
      },
    });
    const { clock, instances, runs, add } = cluster(3, recording, 200);
    clockHolder.clock = clock;
    const started: number[] = [];
    for (const scheduler of instances) {
      for (let i = 0; i < 60; i++)
        add(scheduler, `cron-${i}`, CronTrigger.create(`cron-${i}`, '* * * * * *', { timeZone: 'UTC' }), {}, () => void started.push(clock.now() - T0));
      scheduler.start();
    }
    await clock.advanceAsync(4_000);
    // Each claim goes 200 ms ahead of the one tick it asks for, plus the herd's spread (at most
    // 60 × 0.05 ms: see below), times 1, 1.25, 1.5 or 1.75 by the instance's preference; and at
    // most half the time since the tick before: the first tick, at 1 s, is claimed 0.5 s after the start.
    const leads = [1, 1.25, 1.5, 1.75].map((f) => [Math.floor(200 * f), Math.floor(203 * f)]);
    for (const { at, ticks } of claims) {
      expect(ticks).toHaveLength(1);
      const lead = ticks[0] - at;
      expect({ lead, expected: lead === 500 || leads.some(([low, high]) => lead >= low && lead <= high) }).toEqual({ lead, expected: true });
    }
    expect(started.every((at) => at % 1_000 === 0)).toBe(true);
    for (let tick = 1_000; tick <= 4_000; tick += 1_000) {
      const ofTick = runs.filter((r) => r.tick === tick);
      expect(ofTick).toHaveLength(60);
      expect(new Set(ofTick.map((r) => r.job)).size).toBe(60);
      // Every instance runs a share.
      for (const instance of ['i0', 'i1', 'i2']) expect(ofTick.filter((r) => r.instance === instance).length).toBeGreaterThanOrEqual(5);
    }
    for (const scheduler of instances) await scheduler.shutdown();
  });
});

describe('a herd: many ticks due at one instant', () => {
  it('is claimed earlier the larger it is, its claims spread over the time before it, and runs at its tick exactly once', async () => {
    const claims: Array<{ instance: string; at: number; tick: number; size: number }> = [];
    const clockHolder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => clockHolder.clock!.now() });
    const recording: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: (instance: string, batch: Parameters<JobStore['claim']>[1]) => {
        for (const tick of new Set(batch.map((c) => c.tick)))
          claims.push({ instance, at: clockHolder.clock!.now(), tick, size: batch.filter((c) => c.tick === tick).length });
        return memory.claim(instance, batch);
      },
    });
    const { clock, instances, runs, add } = cluster(3, recording, 200);
    clockHolder.clock = clock;
    const started: number[] = [];
    const size = 5_000;
    for (const scheduler of instances) {
      for (let i = 0; i < size; i++) add(scheduler, `herd-${i}`, new IntervalTrigger(10_000), {}, () => void started.push(clock.now() - T0));
      scheduler.start();
    }
    await clock.advanceAsync(20_000);
    const tick = T0 + 20_000;
    for (const instance of ['i0', 'i1', 'i2']) {
      const ofTick = claims.filter((c) => c.instance === instance && c.tick === tick);
      expect(ofTick.reduce((sum, c) => sum + c.size, 0)).toBe(size);
      // The 5,000th tick armed is claimed about 250 ms (5,000 × 0.05) earlier than the first, whose
      // lead is 200 to 350 ms; the claims go out at many moments instead of at four (200, 250, 300
      // and 350 ms ahead).
      expect(tick - Math.min(...ofTick.map((c) => c.at))).toBeGreaterThanOrEqual(200 + 249);
      expect(new Set(ofTick.map((c) => c.at)).size).toBeGreaterThan(50);
      expect(ofTick.every((c) => c.at < tick - 199)).toBe(true);
    }
    const ofTick = runs.filter((r) => r.tick === 20_000);
    expect(ofTick).toHaveLength(size);
    expect(new Set(ofTick.map((r) => r.job)).size).toBe(size);
    for (const instance of ['i0', 'i1', 'i2']) expect(ofTick.filter((r) => r.instance === instance).length).toBeGreaterThan(size / 5);
    expect(started.every((at) => at % 10_000 === 0)).toBe(true);
    for (const scheduler of instances) await scheduler.shutdown();
  }, 60_000);
});

describe('a tick claimed ahead and asked again at its time', () => {
  it('is reported missed when the answers came back after a later tick was claimed: run or reported, never lost without a word', async () => {
    const clockHolder: { clock?: VirtualClock } = {};
    const memory = new MemoryJobStore({ shared: true, now: () => clockHolder.clock!.now() });
    // The answers to the claims made ahead of 3 s come back 1.2 s late (the store was slow to
    // answer, as in a failover): by then another instance has claimed 4 s.
    const slow: JobStore = Object.assign(Object.create(memory) as JobStore, {
      claim: async (instance: string, batch: Parameters<JobStore['claim']>[1]) => {
        const answer = await memory.claim(instance, batch);
        if (!batch.some((claim) => claim.ahead && claim.tick === T0 + 3_000)) return answer;
        return new Promise<typeof answer>((resolve) => clockHolder.clock!.setTimer(() => resolve(answer), 1_200));
      },
    });
    const { clock, instances, runs, events, add } = cluster(2, slow, 250);
    clockHolder.clock = clock;
    for (const scheduler of instances) {
      // Each run holds the lease 900 ms: a claim made ahead of the next tick finds it held ('later').
      add(scheduler, 'slow-answers', new IntervalTrigger(1_000), {}, () => new Promise<void>((resolve) => clock.setTimer(resolve, 900)));
      scheduler.start();
    }
    // To just before 7 s: the run of 6 s has ended.
    await clock.advanceAsync(6_950);
    const ran = ticksOf(runs, 'slow-answers');
    const reported = new Set<number>();
    for (const event of events) {
      if (event.type === 'run.missed')
        for (let tick = event.scheduledAt.getTime(); tick <= event.lastScheduledAt.getTime(); tick += 1_000) reported.add(tick - T0);
      if (event.type === 'run.skipped' || event.type === 'run.lost') reported.add(event.scheduledAt.getTime() - T0);
    }
    expect(ran).not.toContain(3_000);
    expect(reported.has(3_000)).toBe(true);
    expect(new Set(ran).size).toBe(ran.length);
    for (let tick = 1_000; tick <= 6_000; tick += 1_000)
      expect({ tick, accounted: ran.includes(tick) || reported.has(tick) }).toEqual({ tick, accounted: true });
    for (const scheduler of instances) await scheduler.shutdown();
  });
});

/** A store that can be made unreachable, or slow, at will. */
function flakyStore(clock: () => VirtualClock) {
  const memory = new MemoryJobStore({ shared: true, now: () => clock().now() });
  const state = { down: false, delayMs: 0 };
  const store: JobStore = new Proxy(memory, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.down) return Promise.reject(new Error('connection refused'));
        const result = value.apply(target, args);
        if (state.delayMs === 0) return result;
        return new Promise((resolve) => clock().setTimer(() => resolve(result), state.delayMs));
      };
    },
  });
  return { store, state, memory };
}

describe('leases', () => {
  /**
   * One instance (heartbeats every second: leaseMs 3 s) with a job whose tick at 5 s is claimed
   * 250–437 ms ahead and runs 2.5 s; and when it asked to renew that job's lease (ms after T0).
   */
  function longRun() {
    const setup = cluster(1);
    const { clock, store, instances, add } = setup;
    const renewed: number[] = [];
    const renew = store.renew.bind(store);
    store.renew = (instance, leases, leaseMs) => {
      if (leases.some((lease) => lease.job === 'long')) renewed.push(clock.now() - T0);
      return renew(instance, leases, leaseMs);
    };
    const run = () => new Promise<void>((resolve) => void clock.setTimer(resolve, 2_500));
    add(instances[0], 'long', CronTrigger.create('long', '*/5 * * * * *', { timeZone: 'UTC' }), {}, run);
    return { ...setup, renewed };
  }

  it('claimed within the last sixth of their time are renewed at the next heartbeat, not this one: a herd claimed ahead is not renewed before it runs', async () => {
    const { clock, instances, runs, events, renewed } = longRun();
    instances[0].start();
    await clock.advanceAsync(7_600);
    expect(renewed).toEqual([6_000, 7_000]);
    expect(ticksOf(runs, 'long')).toEqual([5_000]);
    expect(events.filter((event) => event.type === 'run.succeeded')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'run.failed')).toEqual([]);
  });

  it('are all asked about when a check-in says this instance was declared dead, however lately they were confirmed', async () => {
    const { clock, store, instances, renewed } = longRun();
    let reaped = false;
    const recover = store.recover.bind(store);
    store.recover = async (...args) => ({ ...(await recover(...args)), ...(reaped ? { reaped: true } : {}) });
    instances[0].start();
    // Claimed ahead of 5 s; the check-in at 5 s hears that the instance was declared dead. The
    // heartbeat of that instant would leave the lease for the next: the one the check-in asks for does not.
    await clock.advanceAsync(4_950);
    reaped = true;
    await clock.advanceAsync(100);
    reaped = false;
    await clock.advanceAsync(1_050);
    expect(renewed).toEqual([5_000, 6_000]);
  });

  it('are released when a won tick is skipped behind a manual run, so the job does not stall', async () => {
    const { clock, instances, runs, add } = cluster(2);
    let release: (() => void) | undefined;
    for (const scheduler of instances) {
      add(scheduler, 'job', new IntervalTrigger(1_000), {}, (context) =>
        context.fencingToken === undefined ? new Promise<void>((resolve) => (release = resolve)) : undefined,
      );
      scheduler.start();
    }
    await clock.advanceAsync(0);
    void instances[0].trigger('job'); // a manual run, holding no lease, still going at the next ticks
    await clock.advanceAsync(3_000);
    release!();
    await clock.advanceAsync(3_000);
    expect(
      ticksOf(
        runs.filter((r) => r.token !== undefined),
        'job',
      ).filter((t) => t > 3_000),
    ).toEqual([4_000, 5_000, 6_000]);
  });

  it('of jobs that may overlap are not taken from a run when another instance wins the next tick', async () => {
    const { clock, instances, events, add } = cluster(2);
    for (const scheduler of instances) {
      add(scheduler, 'long', new IntervalTrigger(1_000), { overlap: 'allow' }, () => new Promise<void>((resolve) => clock.setTimer(resolve, 2_500)));
      scheduler.start();
    }
    await clock.advanceAsync(10_000);
    expect(events.filter((e) => e.type === 'run.failed')).toEqual([]);
  });

  it('of an at-least-once run are taken over with the default timings, even by a job that ticks every second', async () => {
    const clock = new VirtualClock(T0);
    const store = new MemoryJobStore({ shared: true, now: () => clock.now() });
    const runs: Array<[string, number, number]> = [];
    const instances = ['i0', 'i1'].map((id) => {
      const scheduler = new Scheduler({ clock, store, instanceId: id });
      scheduler.add({
        name: 'job',
        trigger: new IntervalTrigger(1_000),
        options: { delivery: 'at-least-once' },
        // The first run never ends: its instance dies in it.
        handler: (context) => {
          runs.push([id, context.scheduledAt.getTime() - T0, context.attempt]);
          return runs.length === 1 ? new Promise(() => undefined) : undefined;
        },
      });
      return scheduler;
    });
    instances[0].start();
    await clock.advanceAsync(0);
    instances[1].start();
    await clock.advanceAsync(1_000);
    expect(runs).toEqual([[expect.any(String), 1_000, 1]]);
    const [died] = runs[0];
    const other = died === 'i0' ? 'i1' : 'i0';
    crash(instances[died === 'i0' ? 0 : 1], clock);
    await clock.advanceAsync(40_000);
    expect(runs.filter(([id, , attempt]) => id === other && attempt === 2)).toEqual([[other, 1_000, 2]]);
  });

  it('won by a claim that answered after its time limit are given back, and the job goes on', async () => {
    const holder: { clock?: VirtualClock } = {};
    const { store, state } = flakyStore(() => holder.clock!);
    // Claimed at the tick, so that the claim of 2 s is the one delayed.
    const { clock, instances, runs, add } = cluster(1, store, 0);
    holder.clock = clock;
    add(instances[0], 'job', new IntervalTrigger(1_000));
    instances[0].start();
    await clock.advanceAsync(1_500);
    state.delayMs = 6_000; // longer than the 5 s time limit of a call
    await clock.advanceAsync(1_000);
    state.delayMs = 0;
    await clock.advanceAsync(10_000);
    const ticks = ticksOf(runs, 'job');
    expect(ticks).not.toContain(2_000);
    expect(ticks.filter((t) => t >= 9_000)).toEqual([9_000, 10_000, 11_000, 12_000]);
  });

  it('are not armed on an anchor of their own while the store cannot be reached at start', async () => {
    const holder: { clock?: VirtualClock } = {};
    const { store, state, memory } = flakyStore(() => holder.clock!);
    const { clock, instances, runs, add } = cluster(2, store);
    holder.clock = clock;
    await memory.register([{ name: 'interval', anchor: T0 + 500, fingerprint: 'every 1000 ms' }]);
    state.down = true;
    add(instances[0], 'interval', new IntervalTrigger(1_000));
    instances[0].start();
    await clock.advanceAsync(3_000);
    expect(runs).toEqual([]);
    state.down = false;
    await clock.advanceAsync(5_000);
    const ticks = ticksOf(runs, 'interval');
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks.every((t) => t % 1_000 === 500)).toBe(true);
  });

  it('waiting to register go at once when another call finds the store back, not at their next backoff', async () => {
    const holder: { clock?: VirtualClock } = {};
    const { store, state } = flakyStore(() => holder.clock!);
    const { clock, instances, runs, add } = cluster(1, store);
    holder.clock = clock;
    state.down = true;
    add(instances[0], 'interval', new IntervalTrigger(1_000));
    instances[0].start();
    // Registration is tried at 0, 1, 3, 7 and 15 s; the next try would be at 31 s.
    await clock.advanceAsync(16_000);
    state.down = false;
    // The lease sweep (every second) finds the store back first.
    await clock.advanceAsync(3_000);
    const ticks = ticksOf(runs, 'interval');
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks[0]).toBeLessThan(T0 + 19_000);
  });

  it('that could not be released during an outage are released after it, so a finished at-least-once run is not run again', async () => {
    const holder: { clock?: VirtualClock } = {};
    const { store, state } = flakyStore(() => holder.clock!);
    const { clock, instances, runs, add } = cluster(2, store);
    holder.clock = clock;
    for (const scheduler of instances) {
      add(scheduler, 'job', new IntervalTrigger(60_000), { delivery: 'at-least-once' }, () => new Promise<void>((resolve) => clock.setTimer(resolve, 1_000)));
      scheduler.start();
    }
    await clock.advanceAsync(60_500);
    state.down = true; // the run finishes while the store is away: its release fails
    await clock.advanceAsync(1_000);
    state.down = false;
    await clock.advanceAsync(10_000);
    expect(runs.filter((r) => r.job === 'job').map((r) => r.attempt)).toEqual([1]);
  });

  it('of an at-least-once run abandoned by a shutdown that timed out are left to run out, and taken over', async () => {
    const clock = new VirtualClock(T0);
    const store = new MemoryJobStore({ shared: true, now: () => clock.now() });
    const runs: Array<[string, number]> = [];
    const make = (id: string, hang: boolean) => {
      const scheduler = new Scheduler({
        clock,
        store,
        instanceId: id,
        shutdownTimeout: 100,
        cluster: { leaseMs: 3_000, syncEveryMs: 1_000, checkInMs: 1_000 },
      });
      scheduler.add({
        name: 'job',
        trigger: new IntervalTrigger(60_000),
        options: { delivery: 'at-least-once' },
        handler: (context) => (runs.push([id, context.attempt]), hang ? new Promise(() => undefined) : undefined),
      });
      return scheduler;
    };
    const first = make('i0', true);
    const second = make('i1', false);
    first.start();
    await clock.advanceAsync(0);
    second.start();
    await clock.advanceAsync(60_000);
    const stopping = first.shutdown();
    await clock.advanceAsync(100);
    await stopping;
    await clock.advanceAsync(6_000);
    expect(runs).toEqual([
      ['i0', 1],
      ['i1', 2],
    ]);
  });
});
