import { Injectable } from '@nestjs/common';
import { Cron, Interval, InvalidScheduleError, JobNotFoundError, RunFeed, RunHistoryEntry, SchedulerEvent, StoreUnavailableError } from '../../lib';
import { SharedStoreApp, SharedStoreApps, StoreKind } from './shared-store';
import { T0 } from '../support/nest';

@Injectable()
class Reports {
  @Cron('* * * * * *', { name: 'report' })
  report() {}

  @Interval('broken', 2_000)
  broken() {
    throw new Error('disk full');
  }

  @Interval('local', 1_000, { scope: 'instance' })
  local() {}
}

/** A run as a key: what it ran for, and where. */
const key = (run: { job: string; scheduledAt: Date; attempt: number; instance: string }) =>
  `${run.job}@${run.scheduledAt.getTime() - T0}#${run.attempt} on ${run.instance}`;

/** The runs an application says it finished, from its events, as keys. */
function finishedRuns(app: SharedStoreApp, instance: string, jobs: string[]): string[] {
  return app.events.flatMap((event: SchedulerEvent) =>
    (event.type === 'run.succeeded' || event.type === 'run.failed') && jobs.includes(event.job) ? [key({ ...event, instance })] : [],
  );
}

/** Whether every item of `small` is in `big`, as many times at least. */
function within(small: string[], big: string[]): boolean {
  const left = new Map<string, number>();
  for (const item of big) left.set(item, (left.get(item) ?? 0) + 1);
  return small.every((item) => {
    const count = left.get(item) ?? 0;
    left.set(item, count - 1);
    return count > 0;
  });
}

/**
 * The run history of two applications of this process sharing a real PostgreSQL schema or Redis
 * key prefix, with distinct instance ids, on a virtual clock: a run made by one is in the other's
 * `runHistory` and in its `RunFeed`, each once.
 */
describe.each<StoreKind>(['postgres', 'redis'])('run history on %s', (kind) => {
  let apps: SharedStoreApps;

  beforeEach(() => {
    apps = new SharedStoreApps(kind);
  });

  afterEach(async () => {
    await apps.close();
  });

  it("shows the runs of every instance in each instance's runHistory and RunFeed, each once", async () => {
    const a = await apps.start([Reports], 'a');
    const b = await apps.start([Reports], 'b');
    const fed: RunHistoryEntry[] = [];
    const subscription = b.app
      .get(RunFeed)
      .runs$()
      .subscribe((run) => fed.push(run));
    await apps.quiet();
    await apps.advance(4_000);
    // A run now, on a: it holds no lease, and its record goes alone.
    await a.registry.triggerJob('report');
    await apps.advance(2_000);

    const fromA = await a.registry.runHistory('report');
    const fromB = await b.registry.runHistory('report');
    expect(fromB).toEqual(fromA);
    // Every tick once, whoever ran it, and the run made on a; newest first.
    const shared = ['report'];
    const made = [...finishedRuns(a, 'a', shared), ...finishedRuns(b, 'b', shared)];
    expect(fromB.map(key).sort()).toEqual(made.sort());
    expect(fromB.map((run) => run.scheduledAt.getTime() - T0).filter((at) => at % 1_000 === 0)).toEqual(
      expect.arrayContaining([1_000, 2_000, 3_000, 4_000, 5_000, 6_000]),
    );
    // The run made on a, beside the tick of the same instant.
    expect(fromB).toContainEqual(expect.objectContaining({ instance: 'a', attempt: 1, outcome: 'succeeded', scheduledAt: new Date(T0 + 4_000) }));
    const started = fromB.map((run) => run.startedAt.getTime());
    expect(started).toEqual([...started].sort((x, y) => y - x));
    expect(new Set(fromB.map((run) => run.instance))).toEqual(new Set(['a', 'b']));

    const broken = await b.registry.runHistory('broken', 2);
    expect(broken).toHaveLength(2);
    for (const run of broken) expect(run).toMatchObject({ job: 'broken', outcome: 'failed', error: 'disk full', durationMs: 0 });

    // The feed sees each run of the shared jobs once: those of b from its events, those of a from the
    // store, a poll (2 s) later at most. So every run made so far is seen by the poll 2 s from now,
    // and nothing is seen that was not made, nor twice.
    const both = () => [...finishedRuns(a, 'a', ['report', 'broken']), ...finishedRuns(b, 'b', ['report', 'broken'])];
    const madeBefore = both();
    await apps.advance(2_000);
    const fedShared = fed.filter((run) => run.job !== 'local').map(key);
    expect(within(madeBefore, fedShared)).toBe(true);
    expect(within(fedShared, both())).toBe(true);
    expect(fedShared.some((run) => run.endsWith('on a'))).toBe(true);
    // And b's own runs of its local job, which no other instance sees.
    expect(fed.filter((run) => run.job === 'local').map((run) => run.instance)).toEqual(finishedRuns(b, 'b', ['local']).map(() => 'b'));
    subscription.unsubscribe();
  }, 30_000);

  it("gives a job with scope 'instance' this instance's own runs", async () => {
    const a = await apps.start([Reports], 'a');
    await apps.start([Reports], 'b');
    await apps.advance(3_000);
    const local = await a.registry.runHistory('local');
    expect(local.map((run) => [run.instance, run.scheduledAt.getTime() - T0])).toEqual([
      ['a', 3_000],
      ['a', 2_000],
      ['a', 1_000],
    ]);
    expect(await a.registry.runHistory('local', 1)).toHaveLength(1);
  });

  it('reads the store for the feed only while someone subscribes', async () => {
    const b = await apps.start([Reports], 'b');
    const feed = b.app.get(RunFeed);
    const reads = () => apps.calls.filter((call) => call === 'runsSince').length;
    await apps.advance(6_000);
    expect(reads()).toBe(0);
    const first = feed.runs$().subscribe();
    const second = feed.runs$().subscribe();
    await apps.advance(6_000);
    // One read to find the present, then one every 2 s, however many subscribe.
    expect(reads()).toBe(4);
    first.unsubscribe();
    await apps.advance(2_000);
    expect(reads()).toBe(5);
    second.unsubscribe();
    await apps.advance(6_000);
    expect(reads()).toBe(5);
  });

  it('gives up on a store that does not answer within cluster.timeoutMs (real time: the wait is on the network)', async () => {
    const a = await apps.start([Reports], 'a', { cluster: { syncEveryMs: 1_000, checkInMs: 1_000, leaseMs: 3_000, timeoutMs: 200 } });
    a.store.runHistory = () => new Promise(() => undefined);
    const failure = await a.registry.runHistory('report').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as Error).message).toBe(`The job store (${kind}) is unavailable: no answer within 200 ms`);
  });

  it('goes on reading the feed after a read that failed, missing nothing', async () => {
    const a = await apps.start([Reports], 'a');
    const b = await apps.start([Reports], 'b');
    const fed: RunHistoryEntry[] = [];
    const subscription = b.app
      .get(RunFeed)
      .runs$()
      .subscribe((run) => fed.push(run));
    await apps.quiet();
    const runsSince = b.store.runsSince!;
    b.store.runsSince = () => Promise.reject(new StoreUnavailableError(kind, 'connection lost'));
    await a.registry.triggerJob('report');
    await apps.advance(2_000);
    expect(fed.filter((run) => run.instance === 'a' && run.job === 'report')).toEqual([]);
    // A read of the history that fails is no outage of the store: claims go on.
    expect(b.events.filter((event) => event.type === 'store.unavailable')).toEqual([]);
    b.store.runsSince = runsSince;
    await apps.advance(2_000);
    expect(fed.filter((run) => run.instance === 'a' && run.scheduledAt.getTime() === T0)).toEqual([
      expect.objectContaining({ job: 'report', outcome: 'succeeded', attempt: 1 }),
    ]);
    subscription.unsubscribe();
  });

  it('refuses an unknown job and a limit that is not a whole number from 1, naming them; rejects with the store when it cannot be asked', async () => {
    const a = await apps.start([Reports], 'a');
    a.store.runHistory = () => Promise.reject(new StoreUnavailableError(kind, 'connection lost'));
    await expect(a.registry.runHistory('report')).rejects.toThrow(`The job store (${kind}) is unavailable: connection lost`);
    expect(a.events.filter((event) => event.type === 'store.unavailable')).toEqual([]);
    await expect(a.registry.runHistory('nope')).rejects.toThrow(new JobNotFoundError('nope'));
    await expect(a.registry.runHistory('report', 0)).rejects.toThrow(InvalidScheduleError);
    await expect(a.registry.runHistory('report', 2.5)).rejects.toThrow(
      'Invalid limit for job "report": 2.5 must be a whole number, 1 or more (the number of runs to return).',
    );
  });
});
