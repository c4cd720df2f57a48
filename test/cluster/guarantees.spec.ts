import { INestApplication, Injectable } from '@nestjs/common';
import { Interval, JobContext, SchedulerRegistry } from '../../lib';
import { LeaseLostError } from '../../lib/errors';
import { systemClock } from '../../lib/engine/clock';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { startApp } from '../support/nest';
import { InProcessCluster, Link, Member, RealStore, storeNamespace, until, VirtualTime } from './in-process';

/**
 * Every guarantee docs/clustering.md states, one test named after each, on PostgreSQL and on
 * Redis: schedulers of this process, each with a connection of its own to the store. Time is
 * virtual (moved from timer to timer once the store has answered) except where a lease must run
 * out: leases use the store's clock, so those tests use real time, with short leases and generous
 * waits, and check counts and events, never durations.
 *
 * Guarantees tested elsewhere, on the real stores: each tick once across real processes, also
 * through SIGKILL and restart, and a run whose instance died mid-run taken over (at-least-once) or
 * reported lost (at-most-once) — test/cluster/cluster.spec.ts; the store out of reach (missed
 * ticks, one outage event, claims again after) — test/cluster/faults.spec.ts; persistent jobs and
 * their control calls on every instance, rows that cannot be loaded — test/cluster/persistent.spec.ts;
 * timing options checked at start — test/e2e/validation.e2e.spec.ts.
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => T0 + ms;
const everySecond = (name: string) => CronTrigger.create(name, '* * * * * *', { timeZone: 'UTC' });

// The tests on real time wait for leases to run out, a few seconds each.
jest.setTimeout(30_000);

/** A decorated job, for the control calls of the application layer. */
@Injectable()
class Pinger {
  static readonly ticks: number[] = [];

  @Interval('pinged', 1_000)
  ping(context: JobContext) {
    Pinger.ticks.push(context.scheduledAt.getTime());
  }
}

describe.each<RealStore>(['PostgresJobStore', 'RedisJobStore'])('docs/clustering.md on %s', (kind) => {
  const namespace = storeNamespace(kind);
  /** The instances of the test running, stopped after it. */
  let current: InProcessCluster | undefined;

  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });

  afterAll(async () => {
    await namespace.drop();
  });

  /** A cluster on a virtual clock at T0. */
  function virtual() {
    const clock = new VirtualClock(T0);
    const time = new VirtualTime(clock);
    const cluster = (current = new InProcessCluster(namespace, clock, time));
    return { cluster, clock, time };
  }

  /** A cluster on real time. */
  function real(): InProcessCluster {
    return (current = new InProcessCluster(namespace, systemClock));
  }

  /** A handler whose run lasts `ms` on `clock`. */
  const lasting = (clock: { setTimer(callback: () => void, ms: number): unknown }, ms: number) => () =>
    new Promise<void>((resolve) => clock.setTimer(resolve, ms));

  describe('Exactly once is a property of the claim', () => {
    it('a tick is claimed by exactly one instance, with one claim for all the ticks of a wake-up at once', async () => {
      const { cluster, time } = virtual();
      const names = Array.from({ length: 20 }, (_, i) => `wake-${i}`);
      // Claimed at the tick: every instance wakes for it at once.
      const timing = { cluster: { claimAheadMs: 0 } };
      const members = [await cluster.member('a', timing), await cluster.member('b', timing), await cluster.member('c', timing)];
      for (const member of members) {
        for (const name of names) member.add(name, everySecond(name));
        member.scheduler.start();
      }
      await time.advance(5_000);
      const ticks = [1_000, 2_000, 3_000, 4_000, 5_000].map(at);
      for (const name of names) expect(cluster.ticks(name)).toEqual(ticks);
      for (const member of members) {
        // The first claim of each wake-up asks for the tick of all 20 jobs.
        const first = ticks.map((tick) => member.link.claims.find((batch) => batch.some((claim) => claim.tick === tick)));
        expect(first.map((batch) => batch?.length)).toEqual([20, 20, 20, 20, 20]);
      }
    });

    it("after the whole cluster was down, each job's ticks since its watermark follow its misfire policy", async () => {
      const { cluster, clock, time } = virtual();
      const misfire = { policy: 'all' as const, maxCatchUp: 3, graceMs: 100 };
      const first = await cluster.member('first');
      first.add('down', everySecond('down'), { misfire });
      first.scheduler.start();
      await time.advance(2_000);
      await first.scheduler.shutdown();
      clock.jump(10_000);
      const later = await cluster.member('later');
      later.add('down', everySecond('down'), { misfire });
      later.scheduler.start();
      await time.advance(0);
      // Ticks 3 s to 11 s were missed: the last three run, then the on-time tick of 12 s.
      expect(cluster.ticks('down')).toEqual([1_000, 2_000, 9_000, 10_000, 11_000, 12_000].map(at));
      expect(later.of('run.missed')).toEqual([
        expect.objectContaining({ count: 9, reason: 'late', scheduledAt: new Date(at(3_000)), lastScheduledAt: new Date(at(11_000)) }),
      ]);
    });

    it('every instance computes the same scheduled instants: an interval on a grid from an anchor kept in the store', async () => {
      const { cluster, time } = virtual();
      const a = await cluster.member('a');
      a.add('grid', new IntervalTrigger(1_000));
      a.scheduler.start();
      await time.advance(2_500);
      const b = await cluster.member('b');
      b.add('grid', new IntervalTrigger(1_000));
      b.scheduler.start();
      await time.advance(3_000);
      expect(cluster.ticks('grid')).toEqual([1_000, 2_000, 3_000, 4_000, 5_000].map(at));
    });
  });

  describe('Ticks are claimed ahead, and shared out; a tick claimed ahead is not lost when its instance goes', () => {
    it('ticks claimed ahead are shared out over the instances, and the winner starts the run at the tick itself', async () => {
      const { cluster, time } = virtual();
      const names = Array.from({ length: 40 }, (_, i) => `ahead-${i}`);
      const members = [
        await cluster.member('a', { cluster: { claimAheadMs: 250 } }),
        await cluster.member('b', { cluster: { claimAheadMs: 250 } }),
        await cluster.member('c', { cluster: { claimAheadMs: 250 } }),
      ];
      for (const member of members) {
        for (const name of names) member.add(name, everySecond(name));
        member.scheduler.start();
      }
      await time.advance(3_000);
      for (const tick of [1_000, 2_000, 3_000].map(at)) {
        const ofTick = cluster.runs.filter((run) => run.tick === tick);
        expect(ofTick.map((run) => run.job).sort()).toEqual([...names].sort());
        for (const member of members) expect(ofTick.filter((run) => run.instance === member.id).length).toBeGreaterThan(0);
      }
      // Claimed ahead, every run started at its tick, not when it was claimed.
      const started = cluster.events('run.started');
      expect(started).toHaveLength(120);
      expect(started.filter((event) => event.at.getTime() !== event.scheduledAt.getTime())).toEqual([]);
    });

    /**
     * Real time, a job every 500 ms claimed 100–175 ms ahead: once the job runs, the instance
     * that next wins a tick ahead of it dies at once, before the tick.
     */
    it('a tick claimed ahead never skips a run that would not have overlapped: an 800 ms job on a 1 s interval runs every tick', async () => {
      const { cluster, clock, time } = virtual();
      const members = [await cluster.member('a', { cluster: { claimAheadMs: 250 } }), await cluster.member('b', { cluster: { claimAheadMs: 250 } })];
      for (const member of members) {
        member.add('long', new IntervalTrigger(1_000), {}, lasting(clock, 800));
        member.scheduler.start();
      }
      await time.advance(20_500);
      const ticks = cluster.ticks('long');
      expect(ticks).toEqual(Array.from({ length: 20 }, (_, i) => at(1_000 * (i + 1))));
      expect(cluster.events('run.skipped')).toEqual([]);
      // Asked again at its tick, each run still started on time.
      for (const event of cluster.events('run.started')) expect(event.at.getTime() - event.scheduledAt.getTime()).toBeLessThan(50);
    });

    async function dieAfterClaimingAhead(delivery: 'at-most-once' | 'at-least-once') {
      const cluster = real();
      // Leases are looked for every second, as by default less often than the job ticks.
      const timing = { leaseMs: 1_500, syncEveryMs: 1_000, checkInMs: 1_000, claimAheadMs: 100 };
      const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
      const job = `dies-ahead-${delivery}`;
      for (const member of members) {
        member.add(job, new IntervalTrigger(500), { delivery });
        member.scheduler.start();
      }
      await until('a first run', () => cluster.runs.length > 0);
      const died = await new Promise<{ victim: Member; tick: number; token: number }>((resolve) => {
        for (const member of members) {
          member.link.onClaimed = (claims, outcomes) => {
            outcomes.forEach((outcome, index) => {
              if (outcome.status !== 'won' || claims[index].tick <= Date.now()) return;
              for (const other of members) other.link.onClaimed = null;
              // Once the instance has planned the run: it dies between claim and tick.
              setImmediate(() => {
                member.crash();
                resolve({ victim: member, tick: claims[index].tick, token: outcome.fencingToken });
              });
            });
          };
        }
      });
      const survivor = members.find((member) => member !== died.victim)!;
      return { cluster, job, survivor, ...died };
    }

    for (const delivery of ['at-most-once', 'at-least-once'] as const) {
      it(`a tick claimed ahead by an instance that dies before it started is taken over and run once when its lease runs out (${delivery}): it never ran`, async () => {
        const { cluster, job, survivor, tick, token } = await dieAfterClaimingAhead(delivery);
        await until('the tick taken over', () => cluster.runs.some((run) => run.tick === tick));
        await until('two later ticks run', () => cluster.ticks(job).filter((t) => t > tick).length >= 2);
        // Its first attempt: the run never started where it was claimed.
        expect(cluster.runs.filter((run) => run.tick === tick)).toEqual([expect.objectContaining({ job, instance: survivor.id, attempt: 1 })]);
        expect(cluster.runs.find((run) => run.tick === tick)!.token).toBeGreaterThan(token);
        expect(cluster.events('run.lost')).toEqual([]);
        const ticks = cluster.ticks(job);
        expect(new Set(ticks).size).toBe(ticks.length);
        // Until the lease ran out the job's later ticks were skipped (a run held its lease), by the survivor; none of them ran.
        const skipped = survivor
          .of('run.skipped')
          .filter((event) => event.job === job && event.scheduledAt.getTime() > tick)
          .map((event) => event.scheduledAt.getTime());
        expect(skipped.every((skippedTick) => !ticks.includes(skippedTick))).toBe(true);
      });
    }

    it('an instance cut off after claiming ahead, declared dead meanwhile, does not start the run when it comes back: the instance that took it over ran it, once', async () => {
      const cluster = real();
      // Dead after 900 ms without a check-in, well before its 3 s lease would run out: only the
      // store's refusal of its start mark stops it. Calls wait at most 5 s (the cut-off ends before).
      const timing = { leaseMs: 3_000, syncEveryMs: 300, checkInMs: 300, claimAheadMs: 150, timeoutMs: 5_000 };
      const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
      const job = 'cut-off-ahead';
      for (const member of members) {
        member.add(job, new IntervalTrigger(1_000));
        member.scheduler.start();
      }
      await until('a first run', () => cluster.runs.length > 0);
      // The first instance to win a tick ahead is cut off from the store until after that tick:
      // its start mark, check-ins and renewals wait, and the other declares it dead.
      const cut = await new Promise<{ member: Member; tick: number }>((resolve) => {
        for (const member of members) {
          member.link.onClaimed = (claims, outcomes) => {
            outcomes.forEach((outcome, index) => {
              if (outcome.status !== 'won' || !claims[index].ahead) return;
              for (const other of members) other.link.onClaimed = null;
              member.link.stall();
              resolve({ member, tick: claims[index].tick });
            });
          };
        }
      });
      const other = members.find((member) => member !== cut.member)!;
      await until('the tick taken over', () => cluster.runs.some((run) => run.tick === cut.tick));
      cut.member.link.resume();
      // It hears, refuses itself the one-write start (declared dead), and asks about the lease: another's.
      await until('the cut-off instance back', () => cut.member.of('run.started').some((event) => event.scheduledAt.getTime() > cut.tick + 1_000), 10_000);
      expect(cluster.runs.filter((run) => run.tick === cut.tick)).toEqual([expect.objectContaining({ instance: other.id, attempt: 1 })]);
      const ticks = cluster.ticks(job);
      expect(new Set(ticks).size).toBe(ticks.length);
    });

    it("a job paused in the moment before its claimed tick reports that run skipped (run.skipped, reason 'paused')", async () => {
      const { cluster, time } = virtual();
      const won: Array<{ member: Member; tick: number }> = [];
      const members = [await cluster.member('a', { cluster: { claimAheadMs: 250 } }), await cluster.member('b', { cluster: { claimAheadMs: 250 } })];
      for (const member of members) {
        member.add('paused-ahead', everySecond('paused-ahead'));
        member.link.onClaimed = (claims, outcomes) =>
          outcomes.forEach((outcome, index) => outcome.status === 'won' && won.push({ member, tick: claims[index].tick }));
        member.scheduler.start();
      }
      await time.to(at(2_000) - 5);
      const winner = won.find((claim) => claim.tick === at(2_000))!.member;
      const other = members.find((member) => member !== winner)!;
      winner.scheduler.pause('paused-ahead');
      await time.to(at(3_000) + 5);
      expect(winner.of('run.skipped')).toEqual([expect.objectContaining({ job: 'paused-ahead', scheduledAt: new Date(at(2_000)), reason: 'paused' })]);
      expect(cluster.ticks('paused-ahead')).toEqual([at(1_000), at(3_000)]);
      // Its lease was given back: the next tick ran on the other instance, not skipped as busy.
      expect(cluster.runs.find((run) => run.tick === at(3_000))!.instance).toBe(other.id);
    });
  });

  describe('Clock skew changes who wins, not how many', () => {
    it('instances whose clocks differ by minutes still run each tick once: the watermark admits each tick once', async () => {
      const cluster = real();
      const ahead = 3 * 60_000;
      const members = [await cluster.member('on-time'), await cluster.member('ahead', { skewMs: ahead })];
      for (const member of members) {
        member.add('skew-cron', everySecond('skew-cron'));
        member.add('skew-interval', new IntervalTrigger(300));
        member.scheduler.start();
      }
      await until('three ticks each, run by the instance ahead', () =>
        ['skew-cron', 'skew-interval'].every((job) => cluster.runs.filter((run) => run.job === job && run.instance === 'ahead').length >= 3),
      );
      for (const [job, period] of [
        ['skew-cron', 1_000],
        ['skew-interval', 300],
      ] as const) {
        const ticks = cluster.ticks(job);
        expect(new Set(ticks).size).toBe(ticks.length);
        // Once the instance ahead runs the job, it wins each tick, one after another on the grid.
        const aheadTicks = cluster.runs.filter((run) => run.job === job && run.instance === 'ahead').map((run) => run.tick);
        const fromAhead = ticks.filter((tick) => tick >= aheadTicks[0]);
        expect(fromAhead).toEqual(fromAhead.map((_, i) => aheadTicks[0] + i * period));
        expect(aheadTicks).toEqual(fromAhead);
      }
    });

    it("leases use the store's clock: a lease is not taken over early by an instance whose clock runs ahead by minutes", async () => {
      const cluster = real();
      const timing = { leaseMs: 800, syncEveryMs: 100, checkInMs: 100 };
      const onTime = await cluster.member('on-time', { cluster: timing });
      const ahead = await cluster.member('ahead', { cluster: timing, skewMs: 3 * 60_000 });
      let long: JobContext | undefined;
      let ended = false;
      onTime.add('skew-lease', everySecond('skew-lease'), { delivery: 'at-least-once' }, async (context) => {
        if (long) return;
        long = context;
        // Three leases long.
        await new Promise((resolve) => setTimeout(resolve, 2_400));
        ended = true;
      });
      ahead.add('skew-other', everySecond('skew-other'));
      onTime.scheduler.start();
      ahead.scheduler.start();
      await until('the long run starts', () => long !== undefined);
      // Now the instance ahead has the job too: it sweeps for expired leases every 100 ms.
      ahead.add('skew-lease', everySecond('skew-lease'), { delivery: 'at-least-once' });
      await until('the long run ends', () => ended);
      await until('the instance ahead runs the job', () => cluster.runs.some((run) => run.job === 'skew-lease' && run.instance === 'ahead'));
      expect(cluster.runs.filter((run) => run.job === 'skew-lease' && run.attempt > 1)).toEqual([]);
      expect(long!.signal.aborted).toBe(false);
      expect(onTime.of('run.succeeded').filter((event) => event.job === 'skew-lease')).toHaveLength(1);
      expect(ahead.of('run.skipped').filter((event) => event.job === 'skew-lease' && event.reason === 'overlap').length).toBeGreaterThan(0);
    });

    it('an instance measures its clock against the store at each check-in, and says once when it is off by more than a second (clock.skewed)', async () => {
      const cluster = real();
      const timing = { checkInMs: 100 };
      const onTime = await cluster.member('on-time', { cluster: timing });
      const ahead = await cluster.member('ahead', { cluster: timing, skewMs: 90_000 });
      const behind = await cluster.member('behind', { cluster: timing, skewMs: -5_000 });
      for (const member of [onTime, ahead, behind]) member.scheduler.start();
      await until('both skewed instances said so', () => ahead.of('clock.skewed').length > 0 && behind.of('clock.skewed').length > 0);
      // Several check-ins later: still one event each, none from the instance in time.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(ahead.of('clock.skewed')).toEqual([expect.objectContaining({ offsetMs: expect.any(Number) })]);
      expect(Math.abs(ahead.of('clock.skewed')[0].offsetMs - 90_000)).toBeLessThan(1_000);
      expect(behind.of('clock.skewed')).toHaveLength(1);
      expect(behind.of('clock.skewed')[0].offsetMs).toBeLessThan(-4_000);
      expect(onTime.of('clock.skewed')).toEqual([]);
    });
  });

  describe('A claimed tick is not a finished run', () => {
    it('a run holds its lease while it runs: heartbeats renew it every third of leaseMs', async () => {
      const cluster = real();
      const timing = { leaseMs: 800, syncEveryMs: 100, checkInMs: 100 };
      const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
      let long: JobContext | undefined;
      for (const member of members) {
        member.add('renewed', new IntervalTrigger(500), { delivery: 'at-least-once' }, async (context) => {
          if (long) return;
          long = context;
          // Three leases long: only heartbeats keep the run its own.
          await new Promise((resolve) => setTimeout(resolve, 2_400));
        });
        member.scheduler.start();
      }
      await until('the long run ends', () => cluster.events('run.succeeded').some((event) => event.job === 'renewed'));
      await until('a later tick runs', () => cluster.runs.filter((run) => run.job === 'renewed').length >= 2);
      expect(cluster.runs.filter((run) => run.job === 'renewed' && run.attempt > 1)).toEqual([]);
      expect(long!.signal.aborted).toBe(false);
      expect(cluster.events('run.skipped').filter((event) => event.job === 'renewed' && event.reason === 'overlap').length).toBeGreaterThanOrEqual(2);
      expect(cluster.events('run.lost')).toEqual([]);
    });

    it("if the store tells an instance that its lease is now another's, the run's signal is aborted with a LeaseLostError", async () => {
      const cluster = real();
      const timing = { leaseMs: 600, syncEveryMs: 100, checkInMs: 100 };
      const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
      let first: { member: Member; context: JobContext } | undefined;
      for (const member of members) {
        member.add('lease-lost', new IntervalTrigger(500), { delivery: 'at-least-once' }, (context) => {
          if (first) return;
          first = { member, context };
          // Its connection stalls: heartbeats stop reaching the store, and the lease runs out there.
          member.link.stall();
          return new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        });
        member.scheduler.start();
      }
      await until('a run whose connection stalls', () => first !== undefined);
      const { member, context } = first!;
      await until('its tick taken over by the other instance', () =>
        cluster.runs.some((run) => run.tick === context.scheduledAt.getTime() && run.attempt === 2),
      );
      const takeover = cluster.runs.find((run) => run.tick === context.scheduledAt.getTime() && run.attempt === 2)!;
      expect(takeover.instance).not.toBe(member.id);
      expect(takeover.token).toBeGreaterThan(context.fencingToken!);
      // The connection recovers: the next heartbeat hears that the lease is another's.
      member.link.resume();
      await until('the stale run aborted', () => context.signal.aborted);
      expect(context.signal.reason).toBeInstanceOf(LeaseLostError);
      expect(context.signal.reason).toMatchObject({ code: 'LEASE_LOST', jobName: 'lease-lost', fencingToken: context.fencingToken });
    });
  });

  describe('What is cluster-wide', () => {
    it("overlap 'skip': a tick is skipped everywhere while the job's run holds a lease anywhere", async () => {
      const { cluster, clock, time } = virtual();
      for (const id of ['a', 'b']) {
        const member = await cluster.member(id);
        member.add('skip', new IntervalTrigger(1_000), {}, lasting(clock, 2_500));
        member.scheduler.start();
      }
      await time.to(at(6_500));
      expect(cluster.ticks('skip')).toEqual([at(1_000), at(4_000)]);
      expect(cluster.skipped('skip')).toEqual([2_000, 3_000, 5_000, 6_000].map((tick) => [at(tick), 'overlap']));
    });

    it("'queue': a tick that finds the job's run holding a lease anywhere runs once after it, on whichever instance takes it; one waits at most", async () => {
      const { cluster, clock, time } = virtual();
      for (const id of ['a', 'b', 'c']) {
        const member = await cluster.member(id);
        member.add('queue', new IntervalTrigger(1_000), { overlap: 'queue' }, lasting(clock, 2_400));
        member.scheduler.start();
      }
      await time.to(at(7_500));
      // 1 s runs until 3.4 s; 2 s waits (3 s is skipped: one waits already) and runs from 3.4 s to
      // 5.8 s; 4 s waits and runs from 5.8 s; 6 s waits behind it, 5 s and 7 s are skipped.
      expect(cluster.ticks('queue')).toEqual([1_000, 2_000, 4_000].map(at));
      expect(cluster.skipped('queue')).toEqual([3_000, 5_000, 7_000].map((tick) => [at(tick), 'overlap']));
      const started = cluster.events('run.started').filter((event) => event.job === 'queue');
      expect(started.map((event) => [event.scheduledAt.getTime(), event.at.getTime()])).toEqual([
        [at(1_000), at(1_000)],
        [at(2_000), at(3_400)],
        [at(4_000), at(5_800)],
      ]);
      expect(cluster.events('run.missed')).toEqual([]);
      await time.to(at(11_000));
      expect(cluster.ticks('queue')).toEqual([1_000, 2_000, 4_000, 6_000, 9_000].map(at));
      expect(cluster.skipped('queue')).toEqual([3_000, 5_000, 7_000, 8_000, 10_000].map((tick) => [at(tick), 'overlap']));
      // One run at a time, over every instance: each starts when the one before ended.
      const runs = cluster.events('run.started').filter((event) => event.job === 'queue');
      expect(runs.map((event) => event.at.getTime() - T0)).toEqual([1_000, 3_400, 5_800, 8_200, 10_600]);
    });

    it("'allow' ignores leases", async () => {
      const { cluster, clock, time } = virtual();
      for (const id of ['a', 'b']) {
        const member = await cluster.member(id);
        member.add('allow', new IntervalTrigger(1_000), { overlap: 'allow' }, lasting(clock, 2_500));
        member.scheduler.start();
      }
      await time.to(at(8_000));
      expect(cluster.ticks('allow')).toEqual([1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000].map(at));
      expect(cluster.events('run.skipped')).toEqual([]);
      expect(cluster.runs.filter((run) => run.signal.aborted)).toEqual([]);
    });

    it('retries are run by the instance that ran the failed attempt, holding the lease meanwhile', async () => {
      const { cluster, time } = virtual();
      for (const id of ['a', 'b']) {
        const member = await cluster.member(id);
        member.add('retried', new IntervalTrigger(1_000), { retry: { attempts: 1, backoffMs: 2_500 } }, (context) => {
          if (context.scheduledAt.getTime() === at(1_000) && context.attempt === 1) throw new Error('fails once');
        });
        member.scheduler.start();
      }
      await time.to(at(4_500));
      const runs = cluster.runs.filter((run) => run.job === 'retried');
      expect(runs.map((run) => [run.tick, run.attempt])).toEqual([
        [at(1_000), 1],
        [at(1_000), 2],
        [at(4_000), 1],
      ]);
      // The retry: same instance, same lease (fencing token); the ticks while it waited were skipped.
      expect(runs[1].instance).toBe(runs[0].instance);
      expect(runs[1].token).toBe(runs[0].token);
      expect(runs[2].token).toBeGreaterThan(runs[0].token!);
      expect(cluster.skipped('retried')).toEqual([
        [at(2_000), 'overlap'],
        [at(3_000), 'overlap'],
      ]);
    });

    it('maxRuns is counted in the store, over every instance: the job runs that many times in all, then completes everywhere', async () => {
      const { cluster, time } = virtual();
      const members = [await cluster.member('a'), await cluster.member('b'), await cluster.member('c')];
      for (const member of members) {
        member.add('limited', new IntervalTrigger(1_000), { maxRuns: 2 });
        member.scheduler.start();
      }
      await time.to(at(8_000));
      expect(cluster.ticks('limited')).toEqual([1_000, 2_000].map(at));
      for (const member of members) expect(member.of('job.completed')).toEqual([expect.objectContaining({ job: 'limited', reason: 'max-runs' })]);
    });

    it('pause() / resume() is for this instance only: the others go on claiming', async () => {
      const { cluster, time } = virtual();
      const a = await cluster.member('a');
      const b = await cluster.member('b');
      for (const member of [a, b]) {
        member.add('local-pause', new IntervalTrigger(1_000));
        member.scheduler.start();
      }
      await time.to(at(500));
      a.scheduler.pauseAll();
      await time.to(at(3_500));
      expect(cluster.runs.map((run) => [run.instance, run.tick])).toEqual([1_000, 2_000, 3_000].map((tick) => ['b', at(tick)]));
      expect(a.link.claims).toEqual([]);
      a.scheduler.resumeAll();
      await time.to(at(6_500));
      expect(cluster.ticks('local-pause')).toEqual([1_000, 2_000, 3_000, 4_000, 5_000, 6_000].map(at));
    });

    it('pauseJob / resumeJob are for every instance, and kept across restarts', async () => {
      const clock = new VirtualClock(T0);
      const time = new VirtualTime(clock);
      const apps: INestApplication[] = [];
      const application = async (instanceId: string) => {
        const link = new Link(await namespace.open());
        const { app } = await startApp([Pinger], { clock, store: link.store, instanceId, cluster: { syncEveryMs: 1_000, checkInMs: 1_000 } });
        apps.push(app);
        return app.get(SchedulerRegistry);
      };
      Pinger.ticks.length = 0;
      try {
        const a = await application('a');
        const b = await application('b');
        await time.to(at(2_500));
        expect(Pinger.ticks).toEqual([at(1_000), at(2_000)]);
        await a.pauseJob('pinged');
        await time.advance(1_500);
        expect(b.getJob('pinged').paused).toBe(true);
        await time.advance(3_000);
        expect(Pinger.ticks).toEqual([at(1_000), at(2_000)]);
        // Every instance restarts: the job is still paused.
        for (const app of apps.splice(0)) await app.close();
        const c = await application('c');
        const d = await application('d');
        await time.advance(0);
        expect([c.getJob('pinged').paused, d.getJob('pinged').paused]).toEqual([true, true]);
        await time.advance(3_000);
        expect(Pinger.ticks).toEqual([at(1_000), at(2_000)]);
        await c.resumeJob('pinged');
        await time.advance(1_500);
        expect(d.getJob('pinged').paused).toBe(false);
        await time.advance(2_000);
        expect(Pinger.ticks.length).toBeGreaterThan(2);
        expect(new Set(Pinger.ticks).size).toBe(Pinger.ticks.length);
      } finally {
        for (const app of apps) await app.close();
      }
    });

    it("jobs with scope 'instance' run on every instance, never claimed", async () => {
      const { cluster, time } = virtual();
      const members = [await cluster.member('a'), await cluster.member('b'), await cluster.member('c')];
      for (const member of members) {
        member.add('everywhere', new IntervalTrigger(1_000), { scope: 'instance' });
        member.add('once', new IntervalTrigger(1_000));
        member.scheduler.start();
      }
      await time.to(at(3_000));
      for (const member of members) {
        expect(cluster.runs.filter((run) => run.job === 'everywhere' && run.instance === member.id).map((run) => run.tick)).toEqual(
          [1_000, 2_000, 3_000].map(at),
        );
        expect(member.link.claims.flat().filter((claim) => claim.job === 'everywhere')).toEqual([]);
      }
      expect(cluster.ticks('once')).toEqual([1_000, 2_000, 3_000].map(at));
      const stored = await members[0].link.real.loadPaused();
      expect(stored.has('once')).toBe(true);
      expect(stored.has('everywhere')).toBe(false);
    });
  });
});
