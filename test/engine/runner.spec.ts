import { LeaseLostError, RunTimeoutError } from '../../lib/errors';
import { SchedulerEvent } from '../../lib/events';
import { EventHub } from '../../lib/engine/event-hub';
import { JobHandler } from '../../lib/engine/job';
import { JobContext } from '../../lib/engine/job-context';
import { JobOptions } from '../../lib/engine/job-options';
import { Runner } from '../../lib/engine/runner';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { taskQueue, testJob } from '../support/engine';

/**
 * The runner on its own: a virtual clock, its timer queue, and a host that records what the
 * runner asks of the scheduler. Runs are dispatched by hand, as the scheduler would at a tick.
 */
function setup() {
  const clock = new VirtualClock(0);
  const queue = taskQueue(clock);
  const events: SchedulerEvent[] = [];
  const hub = new EventHub((error) => {
    throw error;
  });
  hub.on((event) => events.push(event));
  const leases = new Map<number, number>();
  const completed: string[] = [];
  const host = {
    accepting: true,
    paused: false,
    /** Fencing tokens the store said are another's. */
    lost: new Set<number>(),
  };
  const runner = new Runner(clock, queue, hub, {
    accepting: () => host.accepting,
    paused: () => host.paused,
    complete: (job, reason) => void completed.push(`${job.name}:${reason}`),
    lease: (_job, fencingToken, change) => void leases.set(fencingToken, (leases.get(fencingToken) ?? 0) + change),
    owns: (_job, fencingToken) => fencingToken === undefined || !host.lost.has(fencingToken),
  });
  const job = (handler: JobHandler, options: JobOptions = {}) => testJob('j', options, handler);
  const log = () =>
    events.map((e) => {
      let line = `${e.type}@${e.at.getTime()}`;
      if ('attempt' in e) line += `#${e.attempt}(${e.scheduledAt.getTime()})`;
      if (e.type === 'run.skipped') line += `:${e.reason}`;
      if ((e.type === 'run.failed' || e.type === 'run.timed-out') && e.willRetry) line += ':retry';
      return line;
    });
  return { clock, runner, job, host, leases, completed, log };
}

/** A handler that takes `ms` of the clock's time. */
const taking = (clock: VirtualClock, ms: number) => () => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

describe('Runner', () => {
  it('calls the handler with a context for the tick, and reports the run', async () => {
    const { clock, runner, job, log } = setup();
    const seen: JobContext[] = [];
    const j = job((context) => void seen.push(context));
    runner.dispatch(j, 0, 1);
    await clock.advanceAsync(0);
    expect(seen[0]).toMatchObject({ name: 'j', attempt: 1, scheduledAt: new Date(0), firedAt: new Date(0) });
    expect(log()).toEqual(['run.started@0#1(0)', 'run.succeeded@0#1(0)']);
    expect(j.info()).toMatchObject({ runs: 1, running: 0, lastOutcome: 'succeeded' });
  });

  it('never lets an error escape: a throw and a rejection are failed runs, recorded with their message', async () => {
    const { clock, runner, job, log } = setup();
    const throwing = job(() => {
      throw new Error('thrown');
    });
    runner.dispatch(throwing, 0);
    const rejecting = job(() => Promise.reject('rejected'));
    runner.dispatch(rejecting, 0);
    await clock.advanceAsync(0);
    expect(log()).toEqual(['run.started@0#1(0)', 'run.failed@0#1(0)', 'run.started@0#1(0)', 'run.failed@0#1(0)']);
    expect(throwing.info().history[0]).toMatchObject({ outcome: 'failed', error: 'thrown' });
    expect(rejecting.info().history[0]).toMatchObject({ outcome: 'failed', error: 'rejected' });
  });

  it("applies the overlap policy: 'skip' reports the tick, 'queue' keeps one and runs it after, 'allow' runs beside", async () => {
    for (const [overlap, expected] of [
      ['skip', ['run.started@0#1(0)', 'run.skipped@0#1(100):overlap', 'run.skipped@0#1(200):overlap', 'run.succeeded@500#1(0)']],
      ['queue', ['run.started@0#1(0)', 'run.skipped@0#1(200):overlap', 'run.succeeded@500#1(0)', 'run.started@500#1(100)', 'run.succeeded@1000#1(100)']],
      [
        'allow',
        [
          'run.started@0#1(0)',
          'run.started@0#1(100)',
          'run.started@0#1(200)',
          'run.succeeded@500#1(0)',
          'run.succeeded@500#1(100)',
          'run.succeeded@500#1(200)',
        ],
      ],
    ] as const) {
      const { clock, runner, job, log } = setup();
      const j = job(taking(clock, 500), { overlap });
      for (const tick of [0, 100, 200]) runner.dispatch(j, tick);
      await clock.advanceAsync(1_000);
      expect(log()).toEqual(expected);
    }
  });

  it("aborts a run's signal with RunTimeoutError at timeoutMs, and frees its slot only when the handler settles", async () => {
    const { clock, runner, job, log } = setup();
    let signal: AbortSignal | undefined;
    const j = job(
      (context) => {
        signal = context.signal;
        return taking(clock, 800)();
      },
      { timeoutMs: 300 },
    );
    runner.dispatch(j, 0);
    await clock.advanceAsync(300);
    expect(signal!.reason).toBeInstanceOf(RunTimeoutError);
    expect(j.running).toBe(1);
    runner.dispatch(j, 500);
    await clock.advanceAsync(500);
    expect(j.running).toBe(0);
    expect(log()).toEqual(['run.started@0#1(0)', 'run.timed-out@300#1(0)', 'run.skipped@300#1(500):overlap']);
  });

  it('retries after backoffMs × factor^(n-1), counting attempts up, then gives up', async () => {
    const { clock, runner, job, log } = setup();
    const j = job(
      () => {
        throw new Error('no');
      },
      { retry: { attempts: 2, backoffMs: 100, factor: 3 } },
    );
    runner.dispatch(j, 0);
    await clock.advanceAsync(1_000);
    expect(log()).toEqual([
      'run.started@0#1(0)',
      'run.failed@0#1(0):retry',
      'run.started@100#2(0)',
      'run.failed@100#2(0):retry',
      'run.started@400#3(0)',
      'run.failed@400#3(0)',
    ]);
  });

  it('completes the job at maxRuns and skips runs asked of it after', async () => {
    const { clock, runner, job, log, completed } = setup();
    const j = job(() => undefined, { maxRuns: 1 });
    runner.dispatch(j, 0);
    runner.dispatch(j, 1_000);
    await clock.advanceAsync(0);
    expect(completed).toEqual(['j:max-runs', 'j:max-runs']);
    expect(log()).toEqual(['run.started@0#1(0)', 'run.succeeded@0#1(0)', 'run.skipped@0#1(1000):completed']);
  });

  it('holds a lease while anything runs under it — the run, a held-back run, a waiting retry — and gives it back once nothing does', async () => {
    const { clock, runner, job, leases } = setup();
    let calls = 0;
    const j = job(
      () => {
        if (++calls === 1) throw new Error('first attempt fails');
        return taking(clock, 100)();
      },
      { overlap: 'queue', retry: { attempts: 1, backoffMs: 50 } },
    );
    runner.dispatch(j, 0, 1, undefined, 7);
    expect(leases.get(7)).toBe(1); // the retry holds it
    runner.dispatch(j, 10, 1, undefined, 8);
    expect(leases.get(8)).toBe(1); // held back behind the retry
    await clock.advanceAsync(50);
    expect(leases.get(7)).toBe(1); // the retry runs
    await clock.advanceAsync(100);
    expect(leases.get(7)).toBe(0);
    expect(leases.get(8)).toBe(1); // the held-back run now runs
    await clock.advanceAsync(100);
    expect(leases.get(8)).toBe(0);
  });

  it('aborts the runs of a lease another instance now holds, and only those', async () => {
    const { clock, runner, job } = setup();
    const signals: AbortSignal[] = [];
    const j = job(
      (context) => {
        signals.push(context.signal);
        return taking(clock, 1_000)();
      },
      { overlap: 'allow' },
    );
    runner.dispatch(j, 0, 1, undefined, 1);
    runner.dispatch(j, 100, 1, undefined, 2);
    runner.abortLease(j, 1);
    expect(signals[0].reason).toBeInstanceOf(LeaseLostError);
    expect(signals[1].aborted).toBe(false);
    await clock.advanceAsync(1_000);
  });

  it('starts nothing once the scheduler stops accepting, letting callers go; drain names the jobs still running at its timeout', async () => {
    const { clock, runner, job, host, log } = setup();
    const j = job(taking(clock, 5_000));
    runner.dispatch(j, 0);
    host.accepting = false;
    const done = jest.fn();
    runner.dispatch(j, 100, 1, done);
    expect(done).toHaveBeenCalledTimes(1);
    const drained = runner.drain(1_000);
    await clock.advanceAsync(1_000);
    await expect(drained).resolves.toEqual(['j']);
    expect(log()).toEqual(['run.started@0#1(0)']);
    await clock.advanceAsync(4_000);
  });

  it('never makes a retry, nor starts a held-back run, under a lease the store said is another', async () => {
    const { clock, runner, job, host, leases, log } = setup();
    const failing = job(
      (context) =>
        new Promise((_, reject) => {
          context.signal.addEventListener('abort', () => reject(context.signal.reason));
        }),
      { retry: { attempts: 3, backoffMs: 100 }, overlap: 'queue' },
    );
    runner.dispatch(failing, 0, 1, undefined, 7);
    runner.dispatch(failing, 100, 1, undefined, 7);
    // The heartbeat hears the lease is another's: the run is aborted as it fails, no retry is made
    // and the run held back behind it is dropped.
    host.lost.add(7);
    runner.abortLease(failing, 7);
    await clock.advanceAsync(1_000);
    expect(log()).toEqual(['run.started@0#1(0)', 'run.failed@0#1(0)']);
    expect(leases.get(7)).toBe(0);
  });

  it('keeps held-back runs and retries under a lease while the scheduler stops, for it to hand them back', async () => {
    const { clock, runner, job, host, leases } = setup();
    const failing = job(() => Promise.reject(new Error('no')), { retry: { attempts: 1, backoffMs: 100 }, overlap: 'queue' });
    runner.dispatch(failing, 0, 1, undefined, 7);
    runner.dispatch(failing, 100, 1, undefined, 7);
    host.accepting = false;
    await clock.advanceAsync(1_000);
    const handedBack: Array<[number, { tick: number; from: number; attempt: number }]> = [];
    runner.handBackWaiting(failing, (token, work) => void handedBack.push([token, work]));
    expect(handedBack).toEqual([[7, { tick: 100, from: 0, attempt: 2 }]]);
    // Still held until the scheduler lets the job go.
    expect(leases.get(7)).toBe(2);
  });
});
