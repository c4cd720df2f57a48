import Redis from 'ioredis';
import { systemClock } from '../../lib/engine/clock';
import { JobContext } from '../../lib/engine/job-context';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { LeaseLostError, StoreUnavailableError } from '../../lib/errors';
import { ExpiredRun, JobStore } from '../../lib/stores/job-store';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { Trigger } from '../../lib/triggers/trigger';
import { REDIS_URL, uniqueName } from '../support/services';
import { InProcessCluster, InstanceClock, Member, RealStore, redisNamespace, StoreNamespace, storeNamespace, until, VirtualTime } from './in-process';

/**
 * The cluster at its edges, on PostgreSQL and on Redis: graceful stops that hand
 * claimed work back, leases lost while work waits under them, startAt and endAt, two versions of
 * a job's trigger, a store out of reach at start, and a row that cannot be written. Schedulers of
 * this process, each with a connection of its own. Time is virtual except where a lease must run
 * out in the store (the store's clock): there short leases and generous waits, and the tests
 * check counts and events, never durations.
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (ms: number) => T0 + ms;
const cron = (name: string, expression = '* * * * * *') => CronTrigger.create(name, expression, { timeZone: 'UTC' });

// The tests on real time wait for leases to run out, a few seconds each.
jest.setTimeout(30_000);

/** The sweeps an instance made (its calls to `recover`, through to the store): when each was sent, in real time, and what it took over. */
function sweepsOf(member: Member): Array<{ sentAt: number; recovered: ExpiredRun[] }> {
  const store: JobStore = member.link.real;
  const recover = store.recover.bind(store);
  const sweeps: Array<{ sentAt: number; recovered: ExpiredRun[] }> = [];
  store.recover = async (instance, leaseMs, jobs) => {
    const sentAt = Date.now();
    const answer = await recover(instance, leaseMs, jobs);
    sweeps.push({ sentAt, recovered: answer.recovered });
    return answer;
  };
  return sweeps;
}

/** What the store answered to an instance's renewals, lease by lease. */
function renewalsOf(member: Member): Array<{ job: string; fencingToken: number; held: boolean }> {
  const store: JobStore = member.link.real;
  const renew = store.renew.bind(store);
  const answers: Array<{ job: string; fencingToken: number; held: boolean }> = [];
  store.renew = async (instance, leases, leaseMs) => {
    const held = await renew(instance, leases, leaseMs);
    leases.forEach((lease, index) => answers.push({ ...lease, held: held[index] }));
    return held;
  };
  return answers;
}

/** The claims each member won, as the store answered them. */
function wonClaims(members: Member[]): Array<{ member: Member; job: string; tick: number; fencingToken: number }> {
  const won: Array<{ member: Member; job: string; tick: number; fencingToken: number }> = [];
  for (const member of members) {
    member.link.onClaimed = (claims, outcomes) =>
      outcomes.forEach((outcome, index) => {
        if (outcome.status === 'won') won.push({ member, job: claims[index].job, tick: claims[index].tick, fencingToken: outcome.fencingToken });
      });
  }
  return won;
}

describe.each<RealStore>(['PostgresJobStore', 'RedisJobStore'])('cluster edges on %s', (kind) => {
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
  function virtual(on: StoreNamespace = namespace) {
    const clock = new VirtualClock(T0);
    const time = new VirtualTime(clock);
    const cluster = (current = new InProcessCluster(on, clock, time));
    return { cluster, clock, time };
  }

  /** A cluster on real time. */
  function real(): InProcessCluster {
    return (current = new InProcessCluster(namespace, systemClock));
  }

  /** The runs of one tick of a job: instance, attempt and fencing token. */
  const runsOf = (cluster: InProcessCluster, job: string, tick: number) =>
    cluster.runs.filter((run) => run.job === job && run.tick === tick).map(({ instance, attempt, token }) => ({ instance, attempt, token }));

  describe('a graceful stop hands back claimed, unstarted work, and another instance runs it', () => {
    it.each([
      ['at-most-once', 'at once, when told work was handed back'],
      ['at-least-once', 'at once, when told work was handed back'],
      ['at-most-once', 'at its next sweep'],
      ['at-least-once', 'at its next sweep'],
    ] as const)(
      'a tick claimed ahead and not started when its instance stops runs on another instance, once, attempt 1 (%s, picked up %s)',
      async (delivery, pickup) => {
        const { cluster, time } = virtual();
        const told = pickup.startsWith('at once');
        const job = uniqueName(`ahead-${delivery}`);
        // Without being told, the other instance finds the work at its next sweep (every 300 ms here).
        const timing = { claimAheadMs: 250, syncEveryMs: told ? 5_000 : 300, checkInMs: told ? 5_000 : 300 };
        const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
        const won = wonClaims(members);
        for (const member of members) {
          member.add(job, cron(job), { delivery });
          member.scheduler.start();
        }
        await time.to(at(2_000) - 5);
        // The tick of 2 s is claimed and prepared: its instance stops before it.
        const winner = won.find((claim) => claim.tick === at(2_000))!.member;
        const other = members.find((member) => member !== winner)!;
        expect(cluster.ticks(job)).toEqual([at(1_000)]);
        await winner.scheduler.shutdown();
        if (told) other.scheduler.leasesHandedBack();
        await time.to(at(3_000) + 5);
        expect(runsOf(cluster, job, at(2_000))).toEqual([expect.objectContaining({ instance: other.id, attempt: 1 })]);
        expect(cluster.ticks(job)).toEqual([1_000, 2_000, 3_000].map(at));
        expect(cluster.events('run.lost')).toEqual([]);
        expect(cluster.events('run.skipped')).toEqual([]);
      },
    );

    it('a claim won while shutdown begins (answered after it) is handed back and run elsewhere', async () => {
      const { cluster, time } = virtual();
      const job = uniqueName('won-stopping');
      // a claims ahead, b at the tick: a asks first, and wins.
      const a = await cluster.member('a', { cluster: { claimAheadMs: 250 } });
      const b = await cluster.member('b', { cluster: { claimAheadMs: 0 } });
      const won = wonClaims([a, b]);
      for (const member of [a, b]) {
        member.add(job, cron(job));
        member.scheduler.start();
      }
      await time.to(at(1_500));
      // a's claim of the tick of 2 s waits on a stalled connection while a begins to stop.
      a.link.stall();
      await time.to(at(1_800));
      const stopping = a.scheduler.shutdown();
      a.link.resume();
      await stopping;
      expect(won.filter((claim) => claim.tick === at(2_000)).map((claim) => claim.member.id)).toEqual(['a']);
      b.scheduler.leasesHandedBack();
      await time.to(at(3_000) + 5);
      expect(runsOf(cluster, job, at(2_000))).toEqual([expect.objectContaining({ instance: 'b', attempt: 1 })]);
      expect(cluster.ticks(job)).toEqual([1_000, 2_000, 3_000].map(at));
      expect(cluster.events('run.lost')).toEqual([]);
    });

    it('a retry waiting when its instance stops is handed back: another instance runs the next attempt under a new, larger fencing token', async () => {
      const { cluster, time } = virtual();
      const job = uniqueName('retry-stopping');
      const members = [await cluster.member('a'), await cluster.member('b')];
      for (const member of members) {
        member.add(job, new IntervalTrigger(1_000), { retry: { attempts: 1, backoffMs: 60_000 } }, (context) => {
          if (context.scheduledAt.getTime() === at(1_000) && context.attempt === 1) throw new Error('fails once');
        });
        member.scheduler.start();
      }
      await time.to(at(1_500));
      const [failed] = runsOf(cluster, job, at(1_000));
      const stopped = members.find((member) => member.id === failed.instance)!;
      const other = members.find((member) => member !== stopped)!;
      await stopped.scheduler.shutdown();
      other.scheduler.leasesHandedBack();
      await time.to(at(2_500));
      const runs = runsOf(cluster, job, at(1_000));
      expect(runs).toEqual([
        { instance: stopped.id, attempt: 1, token: expect.any(Number) },
        { instance: other.id, attempt: 2, token: expect.any(Number) },
      ]);
      expect(runs[1].token).toBeGreaterThan(runs[0].token!);
      // The job goes on: the next tick runs, the lease of the retry is gone.
      expect(cluster.ticks(job)).toEqual([1_000, 1_000, 2_000].map(at));
      expect(cluster.events('run.lost')).toEqual([]);
    });

    it('an instance that no longer has the job never takes over its expired at-least-once lease; one that has it does', async () => {
      const cluster = real();
      const job = uniqueName('no-longer-here');
      const timing = { leaseMs: 500, syncEveryMs: 100, checkInMs: 100 };
      const a = await cluster.member('a', { cluster: timing });
      const b = await cluster.member('b', { cluster: timing });
      const bSweeps = sweepsOf(b);
      let crashed: { tick: number; at: number } | undefined;
      a.add(job, new IntervalTrigger(500), { delivery: 'at-least-once' }, (context) => {
        if (crashed) return;
        crashed = { tick: context.scheduledAt.getTime(), at: Date.now() };
        // a dies in the middle of the run: its lease runs out in the store.
        setImmediate(() => a.crash());
        return new Promise<never>(() => undefined);
      });
      b.add(job, new IntervalTrigger(500), { delivery: 'at-least-once' });
      b.add(uniqueName('b-own'), new IntervalTrigger(60_000));
      a.scheduler.start();
      b.scheduler.start();
      b.scheduler.remove(job);
      await until('a run whose instance dies', () => crashed !== undefined && !a.alive);
      // b sweeps every 100 ms: wait for two of its sweeps sent well after the lease ran out.
      const expiredBy = crashed!.at + 500 + 300;
      await until('two sweeps of b after the lease ran out', () => bSweeps.filter((sweep) => sweep.sentAt > expiredBy).length >= 2);
      expect(bSweeps.flatMap((sweep) => sweep.recovered).filter((run) => run.job === job)).toEqual([]);
      expect(cluster.runs.filter((run) => run.job === job && run.attempt > 1)).toEqual([]);
      // An instance that has the job takes it over at once.
      const c = await cluster.member('c', { cluster: timing });
      c.add(job, new IntervalTrigger(500), { delivery: 'at-least-once' });
      c.scheduler.start();
      await until('the run taken over', () => runsOf(cluster, job, crashed!.tick).length === 2);
      const runs = runsOf(cluster, job, crashed!.tick);
      expect(runs).toEqual([
        { instance: 'a', attempt: 1, token: expect.any(Number) },
        { instance: 'c', attempt: 2, token: expect.any(Number) },
      ]);
      expect(runs[1].token).toBeGreaterThan(runs[0].token!);
    });

    it('a draining instance that sweeps hands back what it took over instead of dropping it', async () => {
      const { cluster, time } = virtual();
      const job = uniqueName('draining');
      // z claims ahead (and wins every tick); x and y claim at the tick.
      const z = await cluster.member('z', { cluster: { claimAheadMs: 250 } });
      const x = await cluster.member('x', { cluster: { claimAheadMs: 0 } });
      const y = await cluster.member('y', { cluster: { claimAheadMs: 0 } });
      const xSweeps = sweepsOf(x);
      for (const member of [z, x, y]) {
        member.add(job, cron(job));
        member.scheduler.start();
      }
      // x has a run that goes on through its shutdown, ignoring its signal: x drains for a while.
      x.add(uniqueName('long'), new IntervalTrigger(1_000), { scope: 'instance' }, () => new Promise<void>((resolve) => x.clock.setTimer(resolve, 3_000)));
      await time.to(at(1_500));
      const draining = x.scheduler.shutdown();
      await time.to(at(1_900));
      expect(x.scheduler.state).toBe('stopping');
      // z stops with the tick of 2 s claimed ahead: it hands it back; x, draining, sweeps first.
      await z.scheduler.shutdown();
      x.scheduler.leasesHandedBack();
      await time.quiet();
      expect(xSweeps.flatMap((sweep) => sweep.recovered)).toEqual([expect.objectContaining({ job, tick: at(2_000), attempt: 1 })]);
      await time.quiet();
      y.scheduler.leasesHandedBack();
      await time.to(at(3_000) + 5);
      expect(runsOf(cluster, job, at(2_000))).toEqual([expect.objectContaining({ instance: 'y', attempt: 1 })]);
      expect(cluster.ticks(job)).toEqual([1_000, 2_000, 3_000].map(at));
      expect(cluster.events('run.lost')).toEqual([]);
      await time.to(at(4_500));
      await draining;
    });
  });

  describe('lost leases stop stale work', () => {
    it("when the store says a lease is another's, the retry waiting under it never runs with it", async () => {
      const cluster = real();
      const job = uniqueName('stale-retry');
      const backoffMs = 2_000;
      const timing = { leaseMs: 600, syncEveryMs: 100, checkInMs: 100 };
      const members = [await cluster.member('a', { cluster: timing }), await cluster.member('b', { cluster: timing })];
      const renewals = members.map(renewalsOf);
      let first: { member: Member; context: JobContext; failedAt: number } | undefined;
      for (const member of members) {
        member.add(job, new IntervalTrigger(500), { delivery: 'at-least-once', retry: { attempts: 1, backoffMs } }, (context) => {
          if (first || context.attempt > 1) return;
          first = { member, context, failedAt: Date.now() };
          // Its connection stalls: heartbeats stop reaching the store, and the lease runs out there.
          member.link.stall();
          throw new Error('fails, and leaves a retry waiting');
        });
        member.scheduler.start();
      }
      await until('a failed run whose connection stalls', () => first !== undefined);
      const { member, context, failedAt } = first!;
      const tick = context.scheduledAt.getTime();
      await until('its tick taken over by the other instance', () => runsOf(cluster, job, tick).length === 2);
      // The connection recovers before the retry is due: the renewals waiting hear that the lease is another's.
      member.link.resume();
      const index = members.indexOf(member);
      await until('the store says the lease is no longer held', () => renewals[index].some((answer) => answer.job === job && !answer.held));
      await until('the retry would have been due', () => Date.now() > failedAt + backoffMs + 600);
      const runs = runsOf(cluster, job, tick);
      expect(runs).toEqual([
        { instance: member.id, attempt: 1, token: context.fencingToken },
        { instance: expect.not.stringMatching(`^${member.id}$`), attempt: 2, token: expect.any(Number) },
      ]);
      expect(runs[1].token).toBeGreaterThan(context.fencingToken!);
    });

    it('a renewal that fails until leaseMs has passed since the last confirmation aborts the run with LeaseLostError', async () => {
      const { cluster, time } = virtual();
      const job = uniqueName('unrenewed');
      // Heartbeats every second; a call unanswered after 500 ms has failed.
      const member = await cluster.member('a', { cluster: { leaseMs: 3_000, timeoutMs: 500 } });
      let run: JobContext | undefined;
      member.add(job, new IntervalTrigger(1_000), {}, (context) => {
        run ??= context;
        if (run !== context) return;
        return new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      });
      member.scheduler.start();
      await time.to(at(2_500));
      expect(run?.scheduledAt.getTime()).toBe(at(1_000));
      // Renewed last at 2 s; from now on every renewal fails.
      member.link.stall();
      await time.to(at(4_600));
      expect(run!.signal.aborted).toBe(false);
      await time.to(at(6_500));
      expect(run!.signal.aborted).toBe(true);
      expect(run!.signal.reason).toBeInstanceOf(LeaseLostError);
      expect(run!.signal.reason).toMatchObject({ code: 'LEASE_LOST', jobName: job, fencingToken: run!.fencingToken });
      member.link.resume();
    });

    it("an at-least-once run catching up several ticks (misfire 'all'), taken over after its instance crashed, runs the remaining catch-up ticks", async () => {
      const cluster = real();
      const job = uniqueName('catch-up');
      const timing = { leaseMs: 500, syncEveryMs: 100, checkInMs: 100 };
      const options: JobOptions = { delivery: 'at-least-once', misfire: { policy: 'all', graceMs: 200 } };
      // An instance whose clock is 4 s behind leaves the watermark 4 s in the past.
      const past = await cluster.member('past', { cluster: timing, skewMs: -4_000 });
      past.add(job, cron(job), options);
      past.scheduler.start();
      await until('a run of the instance behind', () => cluster.runs.some((run) => run.job === job));
      await past.scheduler.shutdown();
      const x = await cluster.member('x', { cluster: timing });
      x.add(job, cron(job), options, () => {
        // The first catch-up run: x dies in it, with the other ticks of its claim still to run.
        setImmediate(() => x.crash());
        return new Promise<never>(() => undefined);
      });
      x.scheduler.start();
      await until('x dies catching up', () => !x.alive);
      const claim = x.link.claims.flat().find((asked) => asked.job === job)!;
      expect(claim.tick - claim.from).toBeGreaterThanOrEqual(2_000);
      const y = await cluster.member('y', { cluster: timing });
      y.add(job, cron(job), options);
      y.scheduler.start();
      const expected = Array.from({ length: (claim.tick - claim.from) / 1_000 + 1 }, (_, i) => claim.from + i * 1_000);
      await until('the catch-up taken over', () => cluster.runs.filter((run) => run.instance === 'y' && run.attempt === 2).length >= expected.length);
      await until('a later tick runs', () => cluster.runs.some((run) => run.instance === 'y' && run.tick > claim.tick));
      expect(cluster.runs.filter((run) => run.instance === 'x').map((run) => [run.tick, run.attempt])).toEqual([[claim.from, 1]]);
      expect(cluster.runs.filter((run) => run.instance === 'y' && run.attempt === 2).map((run) => run.tick)).toEqual(expected);
      const ticks = cluster.ticks(job).filter((tick) => tick > claim.tick);
      expect(new Set(ticks).size).toBe(ticks.length);
    });
  });

  describe('startAt and endAt', () => {
    /** A scheduler without a store on the same clock: what the jobs do locally. */
    function local(clock: VirtualClock, jobs: Array<{ name: string; trigger: Trigger; options: JobOptions }>) {
      const scheduler = new Scheduler({ clock: new InstanceClock(clock) });
      const ticks = new Map<string, number[]>();
      for (const { name, trigger, options } of jobs) {
        ticks.set(name, []);
        scheduler.add({ name, trigger, options, handler: (context) => void ticks.get(name)!.push(context.scheduledAt.getTime()) });
      }
      scheduler.start();
      return { scheduler, ticks };
    }

    it('startAt holds for a cluster-wide job on a fresh store and for an instance starting later; an interval with startAt has its grid from startAt, as locally; endAt holds', async () => {
      const { cluster, clock, time } = virtual();
      const [interval, cronJob, ending] = [uniqueName('start-interval'), uniqueName('start-cron'), uniqueName('end-interval')];
      const jobs = [
        { name: interval, trigger: new IntervalTrigger(1_000), options: { startAt: at(2_500) } },
        { name: cronJob, trigger: cron(cronJob), options: { startAt: at(2_500) } },
        { name: ending, trigger: new IntervalTrigger(1_000), options: { endAt: at(3_500) } },
      ];
      const alone = local(clock, jobs);
      const members = [await cluster.member('a'), await cluster.member('b')];
      for (const member of members) {
        for (const { name, trigger, options } of jobs) member.add(name, trigger, options);
        member.scheduler.start();
      }
      await time.to(at(5_200));
      // An interval's ticks are startAt + k × period, k ≥ 1, as locally.
      expect(cluster.ticks(interval)).toEqual([3_500, 4_500].map(at));
      expect(cluster.ticks(cronJob)).toEqual([3_000, 4_000, 5_000].map(at));
      expect(cluster.ticks(ending)).toEqual([1_000, 2_000, 3_000].map(at));
      // A third instance starts later, with the watermarks there.
      const c = await cluster.member('c');
      for (const { name, trigger, options } of jobs) c.add(name, trigger, options);
      c.scheduler.start();
      await time.to(at(7_200));
      expect(cluster.ticks(interval)).toEqual([3_500, 4_500, 5_500, 6_500].map(at));
      expect(cluster.ticks(cronJob)).toEqual([3_000, 4_000, 5_000, 6_000, 7_000].map(at));
      expect(cluster.ticks(ending)).toEqual([1_000, 2_000, 3_000].map(at));
      for (const { name } of jobs) expect(cluster.ticks(name)).toEqual(alone.ticks.get(name));
      for (const member of [...members, c]) {
        expect(member.of('job.completed').filter((event) => event.job === ending)).toEqual([expect.objectContaining({ reason: 'end-at' })]);
      }
      expect(cluster.events('run.missed')).toEqual([]);
      await alone.scheduler.shutdown();
    });

    it("startAt holds with a stored watermark earlier than startAt: no catch-up before it, and the interval's grid from startAt", async () => {
      const { cluster, time } = virtual();
      const [interval, cronJob] = [uniqueName('watermark-interval'), uniqueName('watermark-cron')];
      const a = await cluster.member('a');
      a.add(interval, new IntervalTrigger(1_000));
      a.add(cronJob, cron(cronJob));
      a.scheduler.start();
      await time.to(at(2_500));
      await a.scheduler.shutdown();
      await time.to(at(4_200));
      // Another version starts later, with startAt: the watermarks (2 s) are before it.
      const b = await cluster.member('b');
      b.add(interval, new IntervalTrigger(1_000), { startAt: at(5_500) });
      b.add(cronJob, cron(cronJob), { startAt: at(5_500) });
      b.scheduler.start();
      await time.to(at(7_600));
      // On the grid from startAt (startAt + k × period, k ≥ 1), not from the stored anchor (T0).
      expect(cluster.ticks(interval)).toEqual([1_000, 2_000, 6_500, 7_500].map(at));
      expect(cluster.ticks(cronJob)).toEqual([1_000, 2_000, 6_000, 7_000].map(at));
      expect(b.of('run.missed')).toEqual([]);
    });
  });

  describe('two versions of a job with different triggers', () => {
    it.each([
      ['cron', (name: string) => cron(name, '*/2 * * * * *'), (name: string) => cron(name, '* * * * * *'), [1_000, 2_000, 3_000, 4_000, 5_000], [6_000, 8_000]],
      ['interval', () => new IntervalTrigger(1_000), () => new IntervalTrigger(1_500), [1_500, 3_000, 4_500], [5_000, 6_000, 7_000, 8_000]],
    ] as const)(
      '%s: the one registered last runs its schedule cluster-wide, the other claims none and says so once; registered again, it wins back',
      async (_kind, older, newer, newerTicks, olderTicksAgain) => {
        const { cluster, time } = virtual();
        const job = uniqueName('versions');
        const a = await cluster.member('a');
        a.add(job, older(job));
        a.scheduler.start();
        await time.to(at(500));
        const b = await cluster.member('b');
        b.add(job, newer(job));
        b.scheduler.start();
        await time.to(at(5_200));
        expect(cluster.ticks(job)).toEqual(newerTicks.map(at));
        expect(cluster.runs.filter((run) => run.instance === 'a')).toEqual([]);
        // a went on asking, and was told each time; it said so once.
        expect(a.link.claims.flat().filter((claim) => claim.job === job).length).toBeGreaterThan(1);
        expect(a.of('job.superseded')).toEqual([expect.objectContaining({ job, trigger: older(job).toString(), storedTrigger: newer(job).toString() })]);
        expect(b.of('job.superseded')).toEqual([]);
        // a restarts (a new version rolled back, say): its trigger is registered last now.
        await a.scheduler.shutdown();
        const again = await cluster.member('a-again');
        again.add(job, older(job));
        again.scheduler.start();
        await time.to(at(8_200));
        expect(cluster.ticks(job)).toEqual([...newerTicks, ...olderTicksAgain].map(at));
        expect(cluster.runs.filter((run) => run.tick > at(5_200)).every((run) => run.instance === 'a-again')).toBe(true);
        expect(b.of('job.superseded')).toEqual([expect.objectContaining({ job, trigger: newer(job).toString(), storedTrigger: older(job).toString() })]);
        expect(again.of('job.superseded')).toEqual([]);
      },
    );
  });

  describe('the store out of reach at start', () => {
    it.each(['the connection stalls', "the store's register fails"] as const)(
      "jobs are armed anyway, each tick reported missed ('unclaimed'); once the store is back they register and run, on the store's anchor, without going over the ticks reported (%s)",
      async (fault) => {
        const { cluster, time } = virtual();
        const [interval, cronJob] = [uniqueName('down-interval'), uniqueName('down-cron')];
        // b registers the interval first: its anchor in the store is T0.
        const b = await cluster.member('b');
        b.add(interval, new IntervalTrigger(1_000));
        b.scheduler.start();
        await time.to(at(300));
        await b.scheduler.shutdown();
        // a starts at 300 ms without the store: a call unanswered after 200 ms has failed.
        const a = await cluster.member('a', { cluster: { timeoutMs: 200, syncEveryMs: 1_100, checkInMs: 1_100, claimAheadMs: 0 } });
        const store: JobStore = a.link.real;
        if (fault === 'the connection stalls') a.link.stall();
        else store.register = () => Promise.reject(new StoreUnavailableError(store.kind, 'refused'));
        a.add(interval, new IntervalTrigger(1_000));
        a.add(cronJob, cron(cronJob));
        a.scheduler.start();
        await time.to(at(3_500));
        const missed = (job: string) =>
          a
            .of('run.missed')
            .filter((event) => event.job === job)
            .map((event) => [event.scheduledAt.getTime(), event.lastScheduledAt.getTime(), event.reason]);
        // Armed on its own anchor meanwhile (300 ms): each tick reported, none run.
        expect(missed(interval)).toEqual([1_300, 2_300, 3_300].map((tick) => [at(tick), at(tick), 'unclaimed']));
        expect(missed(cronJob)).toEqual([1_000, 2_000, 3_000].map((tick) => [at(tick), at(tick), 'unclaimed']));
        expect(cluster.runs).toEqual([]);
        // The store is back.
        if (fault === 'the connection stalls') a.link.resume();
        else delete (store as Partial<JobStore>).register;
        await time.to(at(6_500));
        expect(cluster.ticks(cronJob)).toEqual([4_000, 5_000, 6_000].map(at));
        // On the store's anchor (T0), from where it was: not 4.3 s and 5.3 s, nor the ticks reported.
        expect(cluster.ticks(interval)).toEqual([5_000, 6_000].map(at));
        expect(missed(interval)).toHaveLength(3);
        expect(missed(cronJob)).toHaveLength(3);
      },
    );
  });

  if (kind === 'RedisJobStore') {
    describe('a row that cannot be written', () => {
      const keyPrefix = `${uniqueName('metronome-edges')}:`;
      const rejecting = redisNamespace(keyPrefix);

      afterAll(async () => {
        await rejecting.drop();
      });

      it('a job whose key holds another type is rejected alone at registration, and the other jobs of the batch run', async () => {
        const redis = new Redis(REDIS_URL);
        await redis.set(`${keyPrefix}job:taken`, 'x');
        await redis.quit();
        const { cluster, time } = virtual(rejecting);
        const a = await cluster.member('a');
        const registered: string[][] = [];
        const store: JobStore = a.link.real;
        const register = store.register.bind(store);
        store.register = (jobs) => {
          registered.push(jobs.map((job) => job.name));
          return register(jobs);
        };
        for (const name of ['first', 'taken', 'last']) a.add(name, new IntervalTrigger(1_000));
        a.scheduler.start();
        await time.to(at(3_000));
        expect(registered).toEqual([['first', 'taken', 'last']]);
        expect(a.of('job.rejected')).toEqual([expect.objectContaining({ job: 'taken' })]);
        expect(cluster.ticks('first')).toEqual([1_000, 2_000, 3_000].map(at));
        expect(cluster.ticks('last')).toEqual([1_000, 2_000, 3_000].map(at));
        expect(cluster.ticks('taken')).toEqual([]);
        expect(a.link.claims.flat().filter((claim) => claim.job === 'taken')).toEqual([]);
        expect(a.of('store.unavailable')).toEqual([]);
      });
    });
  }
});
