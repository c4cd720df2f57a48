import { SchedulerEvent } from '../../lib/events';
import { MAX_UNSENT_RUNS } from '../../lib/engine/run-records';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { FinishedRun, JobStore, Lease } from '../../lib/stores/job-store';
import { MemoryJobStore, MemoryJobStoreOptions } from '../../lib/stores/memory.store';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/**
 * The records of finished runs on their way to the store's run history: in one call per flush,
 * apart from the releases, bounded while the store cannot be reached, and never in the way of a
 * release or a claim. Schedulers of this process share a store in memory, on a VirtualClock.
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A shared store in memory whose calls are logged, and that fails them while `down` (or only `recordRuns` while `historyDown`). */
function watchedStore(clock: VirtualClock, options: MemoryJobStoreOptions = {}) {
  const memory = new MemoryJobStore({ shared: true, now: () => clock.now(), ...options });
  const state = { down: false, historyDown: false };
  const calls: Array<{ method: string; args: unknown[] }> = [];
  const store: JobStore = new Proxy(memory, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ method: String(property), args });
        if (state.down || (state.historyDown && property === 'recordRuns')) return Promise.reject(new Error('connection refused'));
        return value.apply(target, args);
      };
    },
  });
  /** The runs each `recordRuns` call carried. */
  const carried = () => calls.flatMap(({ method, args }) => (method === 'recordRuns' ? [[...(args[0] as FinishedRun[])]] : []));
  /** The leases each `release` call carried, as given. */
  const released = () => calls.flatMap(({ method, args }) => (method === 'release' ? [args[0] as Lease[]] : []));
  return { store, memory, state, calls, carried, released };
}

function scheduler(clock: VirtualClock, store: JobStore, instanceId: string, events: SchedulerEvent[] = []): Scheduler {
  const made = new Scheduler({ clock, store, instanceId, cluster: { leaseMs: 3_000, syncEveryMs: 1_000, checkInMs: 1_000, claimAheadMs: 0 } });
  made.on((event) => events.push(event));
  return made;
}

const every = (ms: number) => new IntervalTrigger(ms);

describe('records of finished runs', () => {
  it('go to the store in the flush after their run, in one call of their own; the releases carry none', async () => {
    const clock = new VirtualClock(T0);
    const { store, memory, carried, released } = watchedStore(clock);
    const a = scheduler(clock, store, 'a');
    const b = scheduler(clock, store, 'b');
    for (const instance of [a, b]) {
      instance.add({ name: 'job', trigger: every(1_000), handler: () => undefined });
      instance.start();
    }
    await clock.advanceAsync(3_000);
    await a.trigger('job');
    await clock.advanceAsync(0);
    const history = await memory.runHistory('job', 100);
    // Three ticks, each run once (by either instance), and the manual run on a.
    expect(history.map((run) => run.scheduledAt - T0)).toEqual([3_000, 3_000, 2_000, 1_000]);
    expect(history[0]).toEqual({ job: 'job', instance: 'a', scheduledAt: T0 + 3_000, startedAt: T0 + 3_000, durationMs: 0, attempt: 1, outcome: 'succeeded' });
    expect(carried().map((runs) => runs.map((run) => run.scheduledAt - T0))).toEqual([[1_000], [2_000], [3_000], [3_000]]);
    expect(released().flat()).toEqual([1, 2, 3].map((fencingToken) => ({ job: 'job', fencingToken })));
    await Promise.all([a.shutdown(), b.shutdown()]);
  });

  it('of runs under one lease (a retry) go as each run ends', async () => {
    const clock = new VirtualClock(T0);
    const { store, memory, carried } = watchedStore(clock);
    const instance = scheduler(clock, store, 'a');
    let calls = 0;
    const options: JobOptions = { retry: { attempts: 1, backoffMs: 100 } };
    instance.add({
      name: 'flaky',
      trigger: every(60_000),
      options,
      handler: () => {
        if (++calls === 1) throw new Error('first attempt fails');
      },
    });
    instance.start();
    await clock.advanceAsync(60_200);
    expect((await memory.runHistory('flaky', 10)).map(({ attempt, outcome, error }) => ({ attempt, outcome, error }))).toEqual([
      { attempt: 2, outcome: 'succeeded', error: undefined },
      { attempt: 1, outcome: 'failed', error: 'first attempt fails' },
    ]);
    expect(carried()).toEqual([[expect.objectContaining({ attempt: 1 })], [expect.objectContaining({ attempt: 2 })]]);
    await instance.shutdown();
  });

  it(`wait while the store cannot be reached, ${MAX_UNSENT_RUNS} at most: the oldest are dropped and said so, the others land when it is back`, async () => {
    const clock = new VirtualClock(T0);
    const { store, memory, state } = watchedStore(clock, { historySize: 1_000 });
    const events: SchedulerEvent[] = [];
    const instance = scheduler(clock, store, 'a', events);
    instance.add({ name: 'manual', trigger: every(3_600_000), handler: () => undefined, options: { overlap: 'allow' } });
    instance.start();
    await clock.advanceAsync(0);
    state.down = true;
    const extra = 25;
    for (let i = 0; i < MAX_UNSENT_RUNS + extra; i++) {
      clock.jump(1);
      await instance.trigger('manual');
    }
    await clock.advanceAsync(0);
    const dropped = events.flatMap((event) => (event.type === 'history.dropped' ? [event] : []));
    expect(dropped.every((event) => event.reason === 'buffer-full')).toBe(true);
    expect(dropped.reduce((sum, event) => sum + event.count, 0)).toBe(extra);
    const internals = instance as unknown as { coordinators: { cluster: { records: { size: number } } } };
    expect(internals.coordinators.cluster.records.size).toBe(MAX_UNSENT_RUNS);
    state.down = false;
    // Sent again with a heartbeat (every leaseMs / 3) once the backoff after the failures is over (5 s at most).
    await clock.advanceAsync(6_000);
    const landed = await memory.runHistory('manual', 1_000);
    expect(landed).toHaveLength(MAX_UNSENT_RUNS);
    // The newest ones, newest first.
    expect(landed[0].scheduledAt).toBe(T0 + MAX_UNSENT_RUNS + extra);
    expect(landed.at(-1)!.scheduledAt).toBe(T0 + extra + 1);
    expect(internals.coordinators.cluster.records.size).toBe(0);
    await instance.shutdown();
  });

  it(`of a herd, more than ${MAX_UNSENT_RUNS} runs ending at one instant while the store answers, all land: none is dropped`, async () => {
    const clock = new VirtualClock(T0);
    const { store, memory, carried } = watchedStore(clock);
    const events: SchedulerEvent[] = [];
    const instance = scheduler(clock, store, 'a', events);
    const herd = MAX_UNSENT_RUNS * 3;
    for (let i = 0; i < herd; i++) instance.add({ name: `job-${i}`, trigger: every(60_000), handler: () => undefined });
    instance.start();
    await clock.advanceAsync(60_500);
    expect(events.filter((event) => event.type === 'history.dropped')).toEqual([]);
    expect(carried().flat()).toHaveLength(herd);
    const landed = await Promise.all(Array.from({ length: herd }, (_, i) => memory.runHistory(`job-${i}`, 10)));
    expect(landed.filter((runs) => runs.length === 1)).toHaveLength(herd);
    await instance.shutdown();
  });

  it('never hold back a claim or a release: while the history cannot be written, every tick runs, no outage is reported, and records wait or are dropped at shutdown, said so', async () => {
    const clock = new VirtualClock(T0);
    const { store, memory, state, carried } = watchedStore(clock);
    const events: SchedulerEvent[] = [];
    const instance = scheduler(clock, store, 'a', events);
    let calls = 0;
    instance.add({
      name: 'job',
      trigger: every(1_000),
      options: { retry: { attempts: 1, backoffMs: 100 } },
      handler: () => {
        if (++calls % 2 === 1) throw new Error('retry me');
      },
    });
    instance.add({ name: 'fast', trigger: every(50), handler: () => undefined });
    instance.add({ name: 'manual', trigger: every(3_600_000), handler: () => undefined });
    state.historyDown = true;
    instance.start();
    await clock.advanceAsync(5_500);
    // Every tick ran, retried once; every tick of the fast job ran: no claim was held up.
    const started = events.flatMap((event) =>
      event.type === 'run.started' && event.job === 'job' ? [`${event.scheduledAt.getTime() - T0}#${event.attempt}`] : [],
    );
    expect(started).toEqual([1_000, 2_000, 3_000, 4_000, 5_000].flatMap((tick) => [`${tick}#1`, `${tick}#2`]));
    expect(events.filter((event) => event.type === 'run.started' && event.job === 'fast')).toHaveLength(110);
    expect(events.filter((event) => event.type === 'store.unavailable' || event.type === 'run.missed' || event.type === 'run.skipped')).toEqual([]);
    // Not tried on every flush: once, then once a check-in (1 s here) at most.
    expect(carried().length).toBeLessThanOrEqual(7);
    expect(await memory.runHistory('job', 100)).toEqual([]);
    // The history is back: what waited lands.
    state.historyDown = false;
    await clock.advanceAsync(1_000);
    expect((await memory.runHistory('job', 100)).map((run) => `${run.scheduledAt - T0}#${run.attempt}`)).toEqual(
      [6_000, 5_000, 4_000, 3_000, 2_000, 1_000].flatMap((tick) => [`${tick}#2`, `${tick}#1`]),
    );
    // Down again: records that cannot be written when the scheduler stops are dropped, and said so.
    state.historyDown = true;
    await clock.advanceAsync(0);
    for (let i = 0; i < 3; i++) await instance.trigger('manual');
    await clock.advanceAsync(0);
    await instance.shutdown();
    const dropped = events.filter((event) => event.type === 'history.dropped');
    expect(dropped).toEqual([{ type: 'history.dropped', at: expect.any(Date), count: expect.any(Number), reason: 'stopped' }]);
    expect(dropped[0].type === 'history.dropped' && dropped[0].count).toBeGreaterThanOrEqual(3);
  });

  it('are not made at all without a shared store that keeps a history', async () => {
    for (const options of [{ shared: false }, { shared: true, historySize: 0 }]) {
      const clock = new VirtualClock(T0);
      const { store, calls } = watchedStore(clock, options);
      const instance = scheduler(clock, store, 'a');
      instance.add({ name: 'job', trigger: every(1_000), handler: () => undefined });
      instance.start();
      await clock.advanceAsync(3_000);
      await instance.trigger('job');
      expect(calls.filter((call) => call.method === 'recordRuns')).toEqual([]);
      expect(calls.filter((call) => call.method === 'release').flatMap((call) => call.args[0] as Lease[])).toEqual(
        options.shared
          ? [
              { job: 'job', fencingToken: 1 },
              { job: 'job', fencingToken: 2 },
              { job: 'job', fencingToken: 3 },
            ]
          : [],
      );
      expect(instance.info('job').history).toHaveLength(4);
      await instance.shutdown();
    }
  });

  it("of a job with scope 'instance' are kept here only", async () => {
    const clock = new VirtualClock(T0);
    const { store, calls } = watchedStore(clock);
    const instance = scheduler(clock, store, 'a');
    instance.add({ name: 'local', trigger: every(1_000), handler: () => undefined, options: { scope: 'instance' } });
    instance.start();
    await clock.advanceAsync(2_000);
    expect(calls.filter((call) => call.method === 'recordRuns' || call.method === 'release')).toEqual([]);
    expect(instance.info('local').history).toHaveLength(2);
    await instance.shutdown();
  });
});
