import { FinishedRun, JobChange, JobStore, RUN_ERROR_MAX, StoredJobDefinition, TickClaim } from '../../lib/stores/job-store';

/**
 * The behaviour every JobStore must have, run against each (memory, PostgreSQL, Redis). `open`
 * returns a store on a fresh schema or key prefix, connected; calling it again returns another
 * connection to the same data, as another instance of the application would have.
 */
export interface StoreHarness {
  open(): Promise<JobStore>;
  /** Removes the schema or keys; closes what `open` opened. */
  cleanup(): Promise<void>;
}

/** The fingerprint the jobs of these tests are registered and claimed with. */
const FINGERPRINT = 'every 1000 ms';

/** A claim of `tick` as the tests make it: exclusive, at-most-once, with a minute-long lease. */
export const claim = (job: string, tick: number, extra: Partial<TickClaim> = {}): TickClaim => ({
  job,
  tick,
  from: tick,
  fingerprint: FINGERPRINT,
  exclusive: true,
  leaseMs: 60_000,
  delivery: 'at-most-once',
  ...extra,
});

/** The record of a run of `job` at `tick`, made by `instance`. */
export const finished = (job: string, tick: number, extra: Partial<FinishedRun> = {}): FinishedRun => ({
  job,
  instance: 'i1',
  scheduledAt: tick,
  startedAt: tick + 3,
  durationMs: 25.5,
  attempt: 1,
  outcome: 'succeeded',
  ...extra,
});

const definition = (name: string, every = 1_000): StoredJobDefinition => ({
  name,
  trigger: { every },
  target: { provider: 'ReportsService', method: 'build' },
  args: [{ pages: 3 }, 'weekly'],
  options: { overlap: 'queue', retry: { attempts: 2 } },
});

export function describeJobStore(label: string, makeHarness: () => StoreHarness): void {
  describe(`${label}: JobStore conformance`, () => {
    let harness: StoreHarness;
    let store: JobStore;

    beforeEach(async () => {
      harness = makeHarness();
      store = await harness.open();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it('connects again, and from several instances at once, without harm', async () => {
      const others = await Promise.all(Array.from({ length: 5 }, () => harness.open()));
      await Promise.all([store.connect(), ...others.map((other) => other.connect())]);
      expect(await store.register([{ name: 'a', anchor: 1, fingerprint: FINGERPRINT }])).toEqual([{ name: 'a', anchor: 1, lastTick: null, paused: false }]);
    });

    it('registers jobs, keeping the anchor of the first instance', async () => {
      const other = await harness.open();
      await store.register([{ name: 'a', anchor: 100, fingerprint: FINGERPRINT }]);
      expect(
        await other.register([
          { name: 'a', anchor: 999, fingerprint: FINGERPRINT },
          { name: 'b', anchor: 200, fingerprint: FINGERPRINT },
        ]),
      ).toEqual([
        { name: 'a', anchor: 100, lastTick: null, paused: false },
        { name: 'b', anchor: 200, lastTick: null, paused: false },
      ]);
    });

    it('claims a tick once: compare-and-advance of the watermark', async () => {
      const other = await harness.open();
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      expect(await store.claim('i1', [claim('a', 1_000, { exclusive: false })])).toEqual([{ status: 'won', fencingToken: 1 }]);
      expect(await other.claim('i2', [claim('a', 1_000, { exclusive: false })])).toEqual([{ status: 'lost' }]);
      expect(await other.claim('i2', [claim('a', 500, { exclusive: false })])).toEqual([{ status: 'overtaken' }]);
      expect(await other.claim('i2', [claim('a', 2_000, { exclusive: false })])).toEqual([{ status: 'won', fencingToken: 2 }]);
      expect((await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]))[0]!.lastTick).toBe(2_000);
    });

    it('claims every tick of a wake-up in one call, answering in order', async () => {
      await store.register([
        { name: 'a', anchor: 0, fingerprint: FINGERPRINT },
        { name: 'b', anchor: 0, fingerprint: FINGERPRINT },
      ]);
      await store.claim('i1', [claim('b', 5_000)]);
      // Tokens only grow per job: on a Redis Cluster, jobs of other shards count from their own.
      expect(await store.claim('i1', [claim('a', 5_000), claim('missing', 5_000), claim('b', 5_000)])).toEqual([
        { status: 'won', fencingToken: expect.any(Number) },
        { status: 'gone' },
        { status: 'lost' },
      ]);
    });

    it('gives each tick to exactly one of many instances claiming at once', async () => {
      const instances = await Promise.all(Array.from({ length: 8 }, () => harness.open()));
      const names = Array.from({ length: 20 }, (_, i) => `job-${i}`);
      await store.register(names.map((name) => ({ name, anchor: 0, fingerprint: FINGERPRINT })));
      for (const tick of [1_000, 2_000, 3_000]) {
        const outcomes = await Promise.all(
          instances.map((instance, i) =>
            instance.claim(
              `i${i}`,
              names.map((name) => claim(name, tick, { exclusive: false })),
            ),
          ),
        );
        for (let job = 0; job < names.length; job++) {
          expect(outcomes.filter((outcome) => outcome[job].status === 'won')).toHaveLength(1);
        }
      }
    });

    it("refuses an exclusive claim while the job's run holds a lease, still taking the tick", async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const [first] = await store.claim('i1', [claim('a', 1_000)]);
      expect(first).toEqual({ status: 'won', fencingToken: 1 });
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'busy' }]);
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'lost' }]);
      // A run that may overlap wins the tick, but runs without the lease another run holds.
      expect(await store.claim('i2', [claim('a', 3_000, { exclusive: false })])).toEqual([{ status: 'won', fencingToken: 2 }]);
      await store.release([{ job: 'a', fencingToken: 2 }]);
      expect(await store.claim('i2', [claim('a', 4_000)])).toEqual([{ status: 'busy' }]);
      await store.release([{ job: 'a', fencingToken: 1 }]);
      expect(await store.claim('i2', [claim('a', 5_000)])).toEqual([{ status: 'won', fencingToken: 3 }]);
    });

    it('keeps an expired at-least-once lease for the sweep to take over, refusing exclusive claims meanwhile', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 1_000, { delivery: 'at-least-once', leaseMs: -1 })]);
      expect(await store.claim('i2', [claim('a', 2_000, { delivery: 'at-least-once' })])).toEqual([{ status: 'busy' }]);
      const { recovered } = await store.recover('i2', 60_000, new Set(['a']));
      expect(recovered).toEqual([{ job: 'a', tick: 1_000, from: 1_000, attempt: 2, fencingToken: 2, previousToken: 1, owner: 'i1' }]);
    });

    it('lets an exclusive claim replace an expired at-most-once lease, saying whose run it gave up', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 1_000, { leaseMs: -1 })]);
      // Before a sweep gave it up: the claim says so, for its instance to report the run lost.
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'won', fencingToken: 2, replaced: { tick: 1_000, attempt: 1, owner: 'i1' } }]);
      expect(await store.renew('i2', [{ job: 'a', fencingToken: 2 }], 60_000)).toEqual([true]);
    });

    it('leaves the lease of a claim made ahead unstarted until its holder starts it under its token', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const [won] = await store.claim('i1', [claim('a', 1_000, { ahead: true })]);
      expect(won).toEqual({ status: 'won', fencingToken: expect.any(Number) });
      const token = won.status === 'won' ? won.fencingToken : 0;
      expect(await store.start('i2', [{ job: 'a', fencingToken: token }])).toEqual([false]);
      expect(await store.start('i1', [{ job: 'a', fencingToken: token + 1 }])).toEqual([false]);
      expect(await store.start('i1', [{ job: 'a', fencingToken: token }])).toEqual([true]);
      // Started: an at-most-once run that runs out is given up, not run again.
      await store.renew('i1', [{ job: 'a', fencingToken: token }], -1);
      const { recovered, abandoned } = await store.recover('i2', 60_000, new Set(['a']));
      expect(recovered).toEqual([]);
      expect(abandoned).toEqual([expect.objectContaining({ job: 'a', tick: 1_000, owner: 'i1' })]);
    });

    it('takes over an at-most-once lease claimed ahead that ran out before its run started: the tick never ran', async () => {
      await store.register([
        { name: 'a', anchor: 0, fingerprint: FINGERPRINT },
        { name: 'b', anchor: 0, fingerprint: FINGERPRINT },
      ]);
      const [won] = await store.claim('i1', [claim('a', 1_000, { ahead: true, leaseMs: -1 })]);
      const token = won.status === 'won' ? won.fencingToken : 0;
      // Meanwhile nobody else may claim the job's next ticks over it, nor give it up.
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'busy' }]);
      expect(await store.recover('i2', 60_000, new Set([]))).toEqual({ recovered: [], abandoned: [], more: false });
      const { recovered } = await store.recover('i2', 60_000, new Set(['a']));
      expect(recovered).toEqual([{ job: 'a', tick: 1_000, from: 1_000, attempt: 1, fencingToken: expect.any(Number), previousToken: token, owner: 'i1' }]);
      // The instance that claimed it, late, may not start it any more.
      expect(await store.start('i1', [{ job: 'a', fencingToken: token }])).toEqual([false]);
      // Nor may it start a lease of its own that ran out before anyone took it over.
      const [late] = await store.claim('i1', [claim('b', 1_000, { ahead: true, leaseMs: -1 })]);
      expect(await store.start('i1', [{ job: 'b', fencingToken: late.status === 'won' ? late.fencingToken : 0 }])).toEqual([false]);
      // Taken over, it is started: a second expiry gives it up.
      await store.renew('i2', [{ job: 'a', fencingToken: recovered[0].fencingToken }], -1);
      expect((await store.recover('i3', 60_000, new Set(['a']))).abandoned).toEqual([expect.objectContaining({ job: 'a', owner: 'i2' })]);
    });

    it('answers a claim made ahead that finds a run holding the lease "later", leaving the tick to be claimed at its time', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const [first] = await store.claim('i1', [claim('a', 1_000)]);
      expect(await store.claim('i2', [claim('a', 2_000, { ahead: true })])).toEqual([{ status: 'later' }]);
      expect(await store.claim('i2', [claim('a', 2_000, { ahead: true, exclusive: false })])).toEqual([{ status: 'later' }]);
      await store.release([{ job: 'a', fencingToken: first.status === 'won' ? first.fencingToken : 0 }]);
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'won', fencingToken: expect.any(Number) }]);
      expect(await store.claim('i1', [claim('a', 2_000)])).toEqual([{ status: 'lost' }]);
    });

    describe('check-ins', () => {
      const self = (id: string, runningJobs: string[] = []) => ({ id, host: 'host-1', pid: 42, startedAt: 1_000, running: runningJobs.length, runningJobs });
      // A negative time after which an instance is dead makes every other instance dead at once (as leaseMs -1 makes a lease expired).
      const NOW_DEAD = -60_000;

      it('lists the instances that checked in, with what they said of themselves', async () => {
        await store.recover('i1', 60_000, new Set(), { self: self('i1', ['a']), deadAfterMs: 60_000 });
        await store.recover('i2', 60_000, new Set(), { self: self('i2'), deadAfterMs: 60_000 });
        const instances = await store.instances(60_000);
        expect(instances).toEqual([
          { id: 'i1', host: 'host-1', pid: 42, startedAt: 1_000, running: 1, runningJobs: ['a'], checkedInAt: expect.any(Number) },
          { id: 'i2', host: 'host-1', pid: 42, startedAt: 1_000, running: 0, runningJobs: [], checkedInAt: expect.any(Number) },
        ]);
        expect(Math.abs(instances[0].checkedInAt - Date.now())).toBeLessThan(60_000);
        expect(await store.instances(NOW_DEAD)).toEqual([]);
      });

      it('declares an instance that missed its check-ins dead: its live leases run out at once, and it is told when it checks in again', async () => {
        await store.register([
          { name: 'a', anchor: 0, fingerprint: FINGERPRINT },
          { name: 'b', anchor: 0, fingerprint: FINGERPRINT },
          { name: 'c', anchor: 0, fingerprint: FINGERPRINT },
        ]);
        await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 });
        const [a, b] = await store.claim('i1', [claim('a', 1_000, { delivery: 'at-least-once' }), claim('b', 1_000)]);
        const [c] = await store.claim('i2', [claim('c', 1_000, { delivery: 'at-least-once' })]);
        const token = (outcome: typeof a) => (outcome.status === 'won' ? outcome.fencingToken : 0);
        // i2 checks in and finds i1 silent for too long: i1's leases (a minute long) go now.
        const sweep = await store.recover('i2', 60_000, new Set(['a', 'b', 'c']), { self: self('i2'), deadAfterMs: NOW_DEAD });
        expect(sweep.recovered).toEqual([expect.objectContaining({ job: 'a', owner: 'i1', attempt: 2, previousToken: token(a) })]);
        expect(sweep.abandoned).toEqual([expect.objectContaining({ job: 'b', owner: 'i1', previousToken: token(b) })]);
        expect(sweep.reaped).toBe(false);
        // The reaper's own lease stays; i1 is no longer listed.
        expect(await store.renew('i2', [{ job: 'c', fencingToken: token(c) }], 60_000)).toEqual([true]);
        expect((await store.instances(60_000)).map((instance) => instance.id)).toEqual(['i2']);
        // i1 comes back: told it had been declared dead, once, and listed again.
        expect((await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 })).reaped).toBe(true);
        expect((await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 })).reaped).toBe(false);
        expect(await store.renew('i1', [{ job: 'a', fencingToken: token(a) }], 60_000)).toEqual([false]);
        expect((await store.instances(60_000)).map((instance) => instance.id)).toEqual(['i1', 'i2']);
      });

      it('marks started with startAll every lease an instance claimed ahead up to a tick: given up once it runs out, not taken over; later ticks and other instances stay unstarted', async () => {
        await store.register(['a', 'b', 'c', 'd'].map((name) => ({ name, anchor: 0, fingerprint: FINGERPRINT })));
        await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 });
        await store.recover('i2', 60_000, new Set(), { self: self('i2'), deadAfterMs: 60_000 });
        const ahead = { ahead: true, leaseMs: -1 };
        await store.claim('i1', [claim('a', 1_000, ahead), claim('b', 2_000, ahead), claim('d', 500, { ...ahead, delivery: 'at-least-once' })]);
        await store.claim('i2', [claim('c', 1_000, ahead)]);
        expect(await store.startAll('i1', 1_000)).toBe(true);
        // A mark only grows.
        expect(await store.startAll('i1', 400)).toBe(true);
        const { recovered, abandoned } = await store.recover('i3', 60_000, new Set(['a', 'b', 'c', 'd']));
        expect(abandoned).toEqual([expect.objectContaining({ job: 'a', tick: 1_000, owner: 'i1', attempt: 1 })]);
        const byJob = [...recovered].sort((x, y) => (x.job < y.job ? -1 : 1));
        expect(byJob.map(({ job, tick, attempt, owner }) => ({ job, tick, attempt, owner }))).toEqual([
          { job: 'b', tick: 2_000, attempt: 1, owner: 'i1' },
          { job: 'c', tick: 1_000, attempt: 1, owner: 'i2' },
          // Started, at-least-once: taken over as a run that failed.
          { job: 'd', tick: 500, attempt: 2, owner: 'i1' },
        ]);
      });

      it('marks started with startAll, given the jobs of the runs it starts, at least their leases; refuses it for an instance declared dead', async () => {
        await store.register(['a', 'b'].map((name) => ({ name, anchor: 0, fingerprint: FINGERPRINT })));
        await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 });
        await store.claim('i1', [claim('a', 1_000, { ahead: true, leaseMs: -1 })]);
        expect(await store.startAll('i1', 1_000, ['a'])).toBe(true);
        const { recovered, abandoned } = await store.recover('i3', 60_000, new Set(['a']));
        expect(recovered).toEqual([]);
        expect(abandoned).toEqual([expect.objectContaining({ job: 'a', tick: 1_000, owner: 'i1', attempt: 1 })]);
        await store.claim('i1', [claim('b', 2_000, { ahead: true })]);
        await store.recover('i2', 60_000, new Set(['b']), { self: self('i2'), deadAfterMs: NOW_DEAD });
        expect(await store.startAll('i1', 2_000, ['b'])).toBe(false);
      });

      it('refuses startAll of an instance declared dead, also once it checked in again: its leases are taken over as unstarted', async () => {
        await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
        await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 });
        await store.claim('i1', [claim('a', 1_000, { ahead: true })]);
        await store.recover('i2', 60_000, new Set(['a']), { self: self('i2'), deadAfterMs: NOW_DEAD });
        expect(await store.startAll('i1', 1_000)).toBe(false);
        expect((await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 })).reaped).toBe(true);
        expect(await store.startAll('i1', 1_000)).toBe(false);
        // Not marked: the lease the sweep above took over (at attempt 1) is the only run of the tick.
        expect(await store.startAll('i2', 1_000)).toBe(true);
      });

      it('returns a revision with each check-in that changes when a job is saved, paused, resumed or removed', async () => {
        const revision = async () => (await store.recover('i1', 60_000, new Set(), { self: self('i1'), deadAfterMs: 60_000 })).revision!;
        const first = await revision();
        expect(await revision()).toBe(first);
        await store.saveDefinition(definition('d'), 0, 'i1');
        const saved = await revision();
        expect(saved).not.toBe(first);
        await store.setPaused('d', true, 'i1');
        const paused = await revision();
        expect(paused).not.toBe(saved);
        await store.remove('d', 'i1');
        expect(await revision()).not.toBe(paused);
      });
    });

    it('counts the runs it gives out for maxRuns across instances: then every claim, from any instance, is answered completed', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const other = await harness.open();
      const limited = (tick: number) => claim('a', tick, { maxRuns: 2 });
      const [first] = await store.claim('i1', [limited(1_000)]);
      // Busy (the first run holds the lease): not a run.
      expect(await other.claim('i2', [limited(2_000)])).toEqual([{ status: 'busy' }]);
      await store.release([{ job: 'a', fencingToken: first.status === 'won' ? first.fencingToken : 0 }]);
      expect(await other.claim('i2', [limited(3_000)])).toEqual([{ status: 'won', fencingToken: expect.any(Number) }]);
      expect(await store.claim('i1', [limited(4_000)])).toEqual([{ status: 'completed' }]);
      // The instance that lost the race for the tick is told too, not only the first.
      expect(await other.claim('i2', [limited(4_000)])).toEqual([{ status: 'completed' }]);
      // Saved again (a stored job added or changed), it starts afresh.
      await store.saveDefinition(definition('a'), 0, 'i1');
      expect(await store.claim('i1', [limited(5_000)])).toEqual([{ status: 'busy' }]);
    });

    describe("overlap 'queue'", () => {
      const queued = (tick: number, extra: Partial<TickClaim> = {}) => claim('a', tick, { queue: true, ...extra });
      const handedBack = (changes: JobChange[]) => changes.some((change) => change.kind === 'handed-back');
      const until = async (done: () => boolean) => {
        for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      };

      it('keeps one tick that finds the run holding the lease, and hands the lease on to it at release: taken over once, at attempt 1', async () => {
        const other = await harness.open();
        const changes: JobChange[] = [];
        const unwatch = await other.watch((change) => changes.push(change));
        await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
        expect(await store.claim('i1', [queued(1_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
        expect(await other.claim('i2', [queued(2_000)])).toEqual([{ status: 'queued' }]);
        // One at most, as in one instance: the next tick is skipped while one waits.
        expect(await other.claim('i2', [queued(3_000)])).toEqual([{ status: 'busy' }]);
        expect(await other.claim('i2', [queued(3_000)])).toEqual([{ status: 'lost' }]);
        // Nothing to take over while the run holds its lease.
        expect(await other.recover('i2', 60_000, new Set(['a']))).toEqual({ recovered: [], abandoned: [], more: false });
        await store.release([{ job: 'a', fencingToken: 1 }]);
        await until(() => handedBack(changes));
        expect(changes).toContainEqual({ kind: 'handed-back', job: 'a', origin: '' });
        // The run handed on holds the job as the one before did: a new tick waits behind it.
        expect(await other.claim('i2', [queued(4_000)])).toEqual([{ status: 'queued' }]);
        // Left for an instance that has the job.
        expect(await other.recover('i2', 60_000, new Set(['b']))).toEqual({ recovered: [], abandoned: [], more: false });
        const { recovered } = await other.recover('i2', 60_000, new Set(['a']));
        expect(recovered).toEqual([
          { job: 'a', tick: 2_000, from: 2_000, attempt: 1, fencingToken: expect.any(Number), previousToken: expect.any(Number), owner: 'i1' },
        ]);
        expect(recovered[0].fencingToken).toBeGreaterThan(recovered[0].previousToken);
        expect(recovered[0].previousToken).toBeGreaterThan(1);
        // Once: taken, it is not handed out again.
        expect(await store.recover('i1', 60_000, new Set(['a']))).toEqual({ recovered: [], abandoned: [], more: false });
        expect(await other.claim('i2', [queued(5_000)])).toEqual([{ status: 'busy' }]);
        await other.release([{ job: 'a', fencingToken: recovered[0].fencingToken }]);
        const next = await store.recover('i1', 60_000, new Set(['a']));
        expect(next.recovered).toEqual([expect.objectContaining({ job: 'a', tick: 4_000, from: 4_000, attempt: 1 })]);
        await store.release([{ job: 'a', fencingToken: next.recovered[0].fencingToken }]);
        expect(await other.claim('i2', [queued(6_000)])).toEqual([{ status: 'won', fencingToken: expect.any(Number) }]);
        await unwatch();
      });

      it('hands a lease given up on to the tick queued behind it, reporting the run given up', async () => {
        await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
        await store.claim('i1', [queued(1_000, { leaseMs: 60_000 })]);
        expect(await store.claim('i2', [queued(2_000)])).toEqual([{ status: 'queued' }]);
        // The holder dies: its lease is made to run out (as a check-in that declares it dead does).
        expect(await store.renew('i1', [{ job: 'a', fencingToken: 1 }], -1)).toEqual([true]);
        // A claim meanwhile does not replace the lease: a tick waits behind it.
        expect(await store.claim('i2', [queued(3_000)])).toEqual([{ status: 'busy' }]);
        const sweep = await store.recover('i2', 60_000, new Set(['a']));
        expect(sweep.abandoned).toEqual([{ job: 'a', tick: 1_000, from: 1_000, attempt: 1, fencingToken: 1, previousToken: 1, owner: 'i1' }]);
        const again = sweep.recovered.length > 0 ? sweep : await store.recover('i2', 60_000, new Set(['a']));
        expect(again.recovered).toEqual([expect.objectContaining({ job: 'a', tick: 2_000, from: 2_000, attempt: 1 })]);
      });

      it('keeps the queued tick behind a run taken over, and counts it for maxRuns', async () => {
        await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
        await store.claim('i1', [queued(1_000, { delivery: 'at-least-once', maxRuns: 2 })]);
        expect(await store.claim('i2', [queued(2_000, { delivery: 'at-least-once', maxRuns: 2 })])).toEqual([{ status: 'queued' }]);
        expect(await store.claim('i2', [queued(3_000, { delivery: 'at-least-once', maxRuns: 2 })])).toEqual([{ status: 'completed' }]);
        await store.renew('i1', [{ job: 'a', fencingToken: 1 }], -1);
        const { recovered } = await store.recover('i2', 60_000, new Set(['a']));
        expect(recovered).toEqual([expect.objectContaining({ job: 'a', tick: 1_000, attempt: 2 })]);
        await store.release([{ job: 'a', fencingToken: recovered[0].fencingToken }]);
        const next = await store.recover('i2', 60_000, new Set(['a']));
        expect(next.recovered).toEqual([expect.objectContaining({ job: 'a', tick: 2_000, attempt: 1 })]);
      });
    });

    it('renews only the leases it holds', async () => {
      await store.register([
        { name: 'a', anchor: 0, fingerprint: FINGERPRINT },
        { name: 'b', anchor: 0, fingerprint: FINGERPRINT },
      ]);
      await store.claim('i1', [claim('a', 1_000), claim('b', 1_000)]);
      expect(
        await store.renew(
          'i1',
          [
            { job: 'a', fencingToken: 1 },
            { job: 'b', fencingToken: 7 },
            { job: 'zzz', fencingToken: 1 },
          ],
          60_000,
        ),
      ).toEqual([true, false, false]);
      expect(await store.renew('i2', [{ job: 'a', fencingToken: 1 }], 60_000)).toEqual([false]);
    });

    it('releases a lease only for its own fencing token', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 1_000)]);
      await store.release([{ job: 'a', fencingToken: 99 }]);
      expect(await store.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'busy' }]);
      await store.release([{ job: 'a', fencingToken: 1 }]);
      expect(await store.claim('i2', [claim('a', 3_000)])).toEqual([{ status: 'won', fencingToken: 2 }]);
    });

    it('recovers an expired at-least-once run on another instance: attempt + 1, a larger fencing token', async () => {
      const other = await harness.open();
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 1_000, { delivery: 'at-least-once', leaseMs: -1 })]);
      const { recovered, abandoned } = await other.recover('i2', 60_000, new Set(['a']));
      expect(abandoned).toEqual([]);
      expect(recovered).toEqual([{ job: 'a', tick: 1_000, from: 1_000, attempt: 2, fencingToken: 2, previousToken: 1, owner: 'i1' }]);
      expect(await store.renew('i1', [{ job: 'a', fencingToken: 1 }], 60_000)).toEqual([false]);
      expect(await other.renew('i2', [{ job: 'a', fencingToken: 2 }], 60_000)).toEqual([true]);
      expect(await store.recover('i1', 60_000, new Set(['a']))).toEqual({ recovered: [], abandoned: [], more: false });
    });

    it('gives up an expired at-most-once run, clearing its lease', async () => {
      await store.register([
        { name: 'a', anchor: 0, fingerprint: FINGERPRINT },
        { name: 'live', anchor: 0, fingerprint: FINGERPRINT },
      ]);
      await store.claim('i1', [claim('a', 1_000, { leaseMs: -1 }), claim('live', 1_000)]);
      expect(await store.recover('i2', 60_000, new Set(['a']))).toEqual({
        recovered: [],
        abandoned: [{ job: 'a', tick: 1_000, from: 1_000, attempt: 1, fencingToken: 1, previousToken: 1, owner: 'i1' }],
        more: false,
      });
      const [won, live] = await store.claim('i2', [claim('a', 2_000), claim('live', 2_000)]);
      expect(won).toEqual({ status: 'won', fencingToken: expect.any(Number) });
      expect(won.status === 'won' && won.fencingToken).toBeGreaterThan(1);
      expect(live).toEqual({ status: 'busy' });
    });

    it('hands back an unstarted run: the lease runs out at once and an instance that has the job takes it over at its attempt', async () => {
      const other = await harness.open();
      const changes: JobChange[] = [];
      const unwatch = await other.watch((change) => changes.push(change));
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 3_000, { from: 1_000, leaseMs: 60_000 })]);
      expect(
        await store.handBack('i1', [
          { job: 'a', fencingToken: 1, tick: 3_000, from: 2_000, attempt: 1 },
          { job: 'a', fencingToken: 7, tick: 1, from: 1, attempt: 1 },
        ]),
      ).toEqual([true, false]);
      // Not released, not renewed: it is no longer this instance's, and it is not lost.
      await store.release([{ job: 'a', fencingToken: 1 }]);
      expect(await store.renew('i1', [{ job: 'a', fencingToken: 1 }], 60_000)).toEqual([false]);
      // An at-most-once run handed back blocks exclusive claims until it is taken over, and is never abandoned.
      expect(await store.claim('i2', [claim('a', 4_000)])).toEqual([{ status: 'busy' }]);
      expect(await other.recover('i2', 60_000, new Set(['b']))).toEqual({ recovered: [], abandoned: [], more: false });
      expect(await other.recover('i2', 60_000, new Set(['a']))).toEqual({
        recovered: [{ job: 'a', tick: 3_000, from: 2_000, attempt: 1, fencingToken: 2, previousToken: 1, owner: 'i1' }],
        abandoned: [],
        more: false,
      });
      expect(await other.renew('i2', [{ job: 'a', fencingToken: 2 }], 60_000)).toEqual([true]);
      for (let i = 0; i < 100 && !changes.some((change) => change.kind === 'handed-back'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(changes).toContainEqual({ kind: 'handed-back', job: 'a', origin: 'i1' });
      await unwatch();
    });

    it('keeps the lease of an at-least-once run for an instance that has its job, and its first tick', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.claim('i1', [claim('a', 5_000, { from: 2_000, delivery: 'at-least-once', leaseMs: -1 })]);
      expect(await store.recover('i2', 60_000, new Set([]))).toEqual({ recovered: [], abandoned: [], more: false });
      expect((await store.recover('i2', 60_000, new Set(['a']))).recovered).toEqual([
        { job: 'a', tick: 5_000, from: 2_000, attempt: 2, fencingToken: 2, previousToken: 1, owner: 'i1' },
      ]);
    });

    it('refuses claims made with another trigger than the one registered last (superseded), and lets the newest win', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: 'old' }]);
      await store.register([{ name: 'a', anchor: 0, fingerprint: 'new' }]);
      expect(await store.claim('i1', [claim('a', 1_000, { fingerprint: 'old' })])).toEqual([{ status: 'superseded', trigger: 'new' }]);
      expect(await store.claim('i2', [claim('a', 1_000, { fingerprint: 'new' })])).toEqual([{ status: 'won', fencingToken: 1 }]);
      await store.register([{ name: 'a', anchor: 0, fingerprint: 'old' }]);
      expect(await store.claim('i1', [claim('a', 2_000, { fingerprint: 'old' })])).toEqual([{ status: 'busy' }]);
    });

    it('keeps fencing tokens growing for a job name across its removal and re-adding', async () => {
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const [first] = await store.claim('i1', [claim('a', 1_000, { exclusive: false })]);
      await store.remove('a', 'i1');
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      const [second] = await store.claim('i1', [claim('a', 2_000, { exclusive: false })]);
      expect(first.status === 'won' && second.status === 'won' && second.fencingToken > first.fencingToken).toBe(true);
    });

    it('pauses and resumes a job for every instance', async () => {
      const other = await harness.open();
      await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
      await store.setPaused('a', true, 'i1');
      expect((await other.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]))[0]!.paused).toBe(true);
      expect(await other.claim('i2', [claim('a', 1_000)])).toEqual([{ status: 'paused' }]);
      expect((await other.loadPaused()).get('a')).toBe(true);
      await store.setPaused('a', false, 'i1');
      expect(await other.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
    });

    it('saves, replaces, loads and removes definitions, as data', async () => {
      const other = await harness.open();
      await store.saveDefinition(definition('persisted'), 123, 'i1');
      expect(await other.loadDefinitions()).toEqual([{ name: 'persisted', definition: definition('persisted'), paused: false }]);
      await store.saveDefinition(definition('persisted', 5_000), 456, 'i1');
      expect(await other.loadDefinitions()).toEqual([{ name: 'persisted', definition: definition('persisted', 5_000), paused: false }]);
      expect((await other.register([{ name: 'persisted', anchor: 0, fingerprint: FINGERPRINT }]))[0]!.anchor).toBe(123);
      await store.register([{ name: 'decorated', anchor: 0, fingerprint: FINGERPRINT }]);
      expect((await other.loadDefinitions()).map((d) => d.name)).toEqual(['persisted']);
      await other.remove('persisted', 'i2');
      expect(await store.loadDefinitions()).toEqual([]);
      expect(await store.claim('i1', [claim('persisted', 1_000)])).toEqual([{ status: 'gone' }]);
    });

    it('takes fractional instants (an interval of 1500.5 ms) without failing the batch', async () => {
      await store.register([
        { name: 'fraction', anchor: 0.5, fingerprint: FINGERPRINT },
        { name: 'whole', anchor: 0, fingerprint: FINGERPRINT },
      ]);
      // Tokens grow for each job; jobs of one batch may share one.
      expect(await store.claim('i1', [claim('fraction', 1_501.5, { exclusive: false }), claim('whole', 1_000, { exclusive: false })])).toEqual([
        { status: 'won', fencingToken: expect.any(Number) },
        { status: 'won', fencingToken: expect.any(Number) },
      ]);
    });

    describe('run history', () => {
      /** The store's history API, present in every store of this package. */
      const history = (of: JobStore) => ({
        size: of.historySize!,
        record: (runs: FinishedRun[]) => of.recordRuns!(runs),
        last: (job: string, limit = 1_000) => of.runHistory!(job, limit),
        since: (cursor: string | null, limit = 1_000) => of.runsSince!(cursor, limit),
      });

      it('keeps a run written by one instance for every instance to read, apart from the release of its lease', async () => {
        const other = await harness.open();
        await store.register([{ name: 'a', anchor: 0, fingerprint: FINGERPRINT }]);
        const [won] = await store.claim('i1', [claim('a', 1_000)]);
        const token = won.status === 'won' ? won.fencingToken : 0;
        const run = finished('a', 1_000, { outcome: 'failed', error: 'boom', attempt: 2, durationMs: 1_250 });
        await history(store).record([run]);
        expect(await history(other).last('a')).toEqual([run]);
        // The record leaves the lease alone: released as before, and the next tick is won.
        expect(await store.renew('i1', [{ job: 'a', fencingToken: token }], 60_000)).toEqual([true]);
        expect(await store.release([{ job: 'a', fencingToken: token }])).toBe(0);
        expect(await other.claim('i2', [claim('a', 2_000)])).toEqual([{ status: 'won', fencingToken: expect.any(Number) }]);
      });

      it("keeps each job's last runs, newest first, from every instance; a limit returns fewer", async () => {
        const other = await harness.open();
        const { size } = history(store);
        expect(size).toBeGreaterThanOrEqual(20);
        const runs = Array.from({ length: size + 5 }, (_, i) => finished('busy', (i + 1) * 1_000, { instance: i % 2 === 0 ? 'i1' : 'i2' }));
        // From two instances, in three calls.
        await history(store).record(runs.slice(0, 10));
        await history(other).record(runs.slice(10, 12));
        await history(other).record(runs.slice(12));
        await history(store).record([finished('quiet', 500)]);
        const kept = await history(other).last('busy');
        expect(kept).toEqual(runs.slice(-size).reverse());
        expect(await history(store).last('busy', 3)).toEqual(runs.slice(-3).reverse());
        expect(await history(store).last('quiet')).toEqual([finished('quiet', 500)]);
        expect(await history(store).last('never-ran')).toEqual([]);
      });

      it(`cuts an error's message to ${RUN_ERROR_MAX} characters`, async () => {
        const long = `${'x'.repeat(RUN_ERROR_MAX - 1)}\u{1F600}${'y'.repeat(600)}`;
        await history(store).record([
          finished('e', 1_000, { outcome: 'failed', error: long }),
          finished('e', 2_000, { outcome: 'failed', error: 'nul\u0000inside' }),
        ]);
        const [second, first] = await history(store).last('e');
        // Not in the middle of a surrogate pair; NUL characters (which PostgreSQL's text refuses) replaced.
        expect(first.error).toBe('x'.repeat(RUN_ERROR_MAX - 1));
        expect(second.error).toBe('nul\uFFFDinside');
        expect(first.outcome).toBe('failed');
      });

      it('gives every run recorded since a cursor once, each job in order, a page at a time, from every instance', async () => {
        const other = await harness.open();
        await history(store).record([finished('before', 1)]);
        const start = await history(other).since(null);
        expect(start.runs).toEqual([]);
        const written: FinishedRun[] = [];
        for (let i = 0; i < 4; i++) {
          const batch = ['a', 'b', 'c'].map((job) => finished(job, (i + 1) * 1_000, { instance: i % 2 === 0 ? 'i1' : 'i2' }));
          written.push(...batch);
          await history(i % 2 === 0 ? store : other).record(batch);
        }
        const seen: FinishedRun[] = [];
        let cursor = start.cursor;
        for (let page = 0; page < 10; page++) {
          const next = await history(other).since(cursor, 5);
          expect(next.runs.length).toBeLessThanOrEqual(5);
          seen.push(...next.runs);
          cursor = next.cursor;
          if (next.runs.length === 0) break;
        }
        const byJob = (runs: FinishedRun[], job: string) => runs.filter((run) => run.job === job);
        expect(seen).toHaveLength(written.length);
        for (const job of ['a', 'b', 'c']) expect(byJob(seen, job)).toEqual(byJob(written, job));
        // Nothing more, and a run recorded later comes next.
        expect((await history(other).since(cursor)).runs).toEqual([]);
        await history(store).record([finished('a', 9_000)]);
        const later = await history(other).since(cursor);
        expect(later.runs).toEqual([finished('a', 9_000)]);
        // A cursor that is not the store's starts from now.
        expect((await history(other).since('not a cursor')).runs).toEqual([]);
      });

      it('keeps the runs of jobs with any name apart, whatever their names hold', async () => {
        const names = ['a', 'a:b', 'runs:a', 'job:a', 'feed', '{0}', "x'); DROP TABLE runs; --", 'ünï cödé \u{1F600}', 'a b\nc'];
        await history(store).record(names.map((job, i) => finished(job, (i + 1) * 1_000)));
        for (const [i, job] of names.entries()) expect(await history(store).last(job)).toEqual([finished(job, (i + 1) * 1_000)]);
      });

      it("drops a job's history with the job", async () => {
        await store.saveDefinition(definition('gone'), 0, 'i1');
        await history(store).record([finished('gone', 1_000)]);
        await store.remove('gone', 'i1');
        expect(await history(store).last('gone')).toEqual([]);
      });
    });

    it('stores names as data, whatever they hold', async () => {
      const tricky = `x'); DROP TABLE jobs; --\u0000?`.replace('\u0000', '');
      await store.register([{ name: tricky, anchor: 1, fingerprint: FINGERPRINT }]);
      expect(await store.claim('i1', [claim(tricky, 1_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
      expect((await store.register([{ name: tricky, anchor: 2, fingerprint: FINGERPRINT }]))[0]!).toMatchObject({ name: tricky, anchor: 1, lastTick: 1_000 });
    });

    it('registers, claims, renews, hands back, sweeps and lists 100,000 jobs, in calls of bounded size', async () => {
      const count = 100_000;
      const names = Array.from({ length: count }, (_, index) => `herd-${String(index).padStart(6, '0')}`);
      const registered = await store.register(names.map((name) => ({ name, anchor: 0, fingerprint: FINGERPRINT })));
      expect(registered.filter((row) => row?.lastTick === null)).toHaveLength(count);
      // The top of the minute: every job due at once, claimed by two instances racing.
      const other = await harness.open();
      // As an instance does, a claim that found its row locked by the other's transaction is asked again.
      const claimAll = async (from: JobStore, instance: string) => {
        const outcomes = await from.claim(
          instance,
          names.map((name) => claim(name, 60_000)),
        );
        for (let locked = outcomes.flatMap((outcome, index) => (outcome.status === 'locked' ? [index] : [])); locked.length > 0;) {
          const again = await from.claim(
            instance,
            locked.map((index) => claim(names[index], 60_000)),
          );
          again.forEach((outcome, at) => (outcomes[locked[at]] = outcome));
          locked = locked.filter((_, at) => again[at].status === 'locked');
        }
        return outcomes;
      };
      const [first, second] = await Promise.all([claimAll(store, 'i1'), claimAll(other, 'i2')]);
      const won = (outcomes: typeof first) => outcomes.filter((outcome) => outcome.status === 'won').length;
      expect(won(first) + won(second)).toBe(count);
      expect(first.every((outcome, index) => (outcome.status === 'won') !== (second[index].status === 'won'))).toBe(true);
      const wonBy = (outcomes: typeof first) =>
        names.flatMap((name, index) => {
          const outcome = outcomes[index];
          return outcome.status === 'won' ? [{ job: name, fencingToken: outcome.fencingToken }] : [];
        });
      const mine = wonBy(first);
      expect((await store.renew('i1', mine, 60_000)).every(Boolean)).toBe(true);
      // Half of each instance's runs handed back, the rest released: the sweep takes over every handed-back run, once.
      const halves = await Promise.all(
        (
          [
            [store, 'i1', mine],
            [other, 'i2', wonBy(second)],
          ] as const
        ).map(async ([from, instance, leases]) => {
          const handed = leases.filter((_, index) => index % 2 === 0);
          const back = await from.handBack(
            instance,
            handed.map((lease) => ({ ...lease, tick: 60_000, from: 60_000, attempt: 1 })),
          );
          expect(back.every(Boolean)).toBe(true);
          await from.release(leases.filter((_, index) => index % 2 === 1));
          return handed;
        }),
      );
      const half = halves.flat();
      const taken = new Set<string>();
      let sweeps = 0;
      for (let more = true; more; sweeps++) {
        const sweep = await other.recover('i2', 60_000, new Set(names));
        for (const run of sweep.recovered) taken.add(run.job);
        more = sweep.more === true;
        expect(sweep.abandoned).toEqual([]);
      }
      expect(taken.size).toBe(half.length);
      expect(sweeps).toBeGreaterThan(1);
      await store.setPaused(names[count - 1], true, 'i1');
      const paused = await store.loadPaused();
      expect(paused.size).toBe(count);
      expect([...paused].filter(([, isPaused]) => isPaused)).toEqual([[names[count - 1], true]]);
    }, 240_000);

    it('announces changes made by any instance to every instance watching', async () => {
      const other = await harness.open();
      const changes: JobChange[] = [];
      const arrived = (count: number) =>
        new Promise<void>((resolve) => {
          const check = () => (changes.length >= count ? resolve() : setTimeout(check, 5));
          check();
        });
      const stop = await other.watch((change) => changes.push(change));
      await store.saveDefinition(definition('watched'), 0, 'i1');
      await store.setPaused('watched', true, 'i1');
      await store.setPaused('watched', false, 'i1');
      await store.remove('watched', 'i1');
      await arrived(4);
      expect(changes).toEqual([
        { kind: 'saved', job: 'watched', origin: 'i1' },
        { kind: 'paused', job: 'watched', origin: 'i1' },
        { kind: 'resumed', job: 'watched', origin: 'i1' },
        { kind: 'removed', job: 'watched', origin: 'i1' },
      ]);
      await stop();
    });
  });
}
