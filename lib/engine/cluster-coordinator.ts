import { batches } from '../stores/batches';
import { within } from '../stores/driver';
import { hostname } from 'node:os';
import {
  ClaimOutcome,
  ExpiredRun,
  FinishedRun,
  HandedBackRun,
  InstanceCheckIn,
  InstanceRecord,
  JobSet,
  JobStore,
  Lease,
  Sweep,
  TickClaim,
} from '../stores/job-store';
import { Clock, TimerHandle } from './clock';
import { ClaimAhead } from './claim-ahead';
import { ClockSkew } from './clock-skew';
import { ClusterTiming, MISSED_CHECK_INS } from './cluster-timing';
import { ClusterRegistrations, RegistrationHost } from './cluster-registration';
import { ClaimDecision, Coordinator, EndedRun } from './coordinator';
import { EventHub } from './event-hub';
import { fingerprint } from './fingerprint';
import { HeldLeases } from './held-leases';
import { Job } from './job';
import { RunRecords } from './run-records';
import { operatorRead, StoreCalls } from './store-calls';

/** How the cluster coordinator reaches back into the scheduler. */
export interface ClusterHost extends RegistrationHost {
  job(name: string): Job | undefined;
  /** False once the scheduler began to stop: work taken over then is handed back. */
  running(): boolean;
  /** The cluster-wide jobs this instance has: the runs it may take over. */
  readonly clusterJobs: JobSet;
  /** Run the ticks of a run taken over from an instance whose lease ran out, or that handed it back. */
  runRecovered(job: Job, run: ExpiredRun): void;
  /** Abort the runs holding a lease the store says is no longer theirs, and drop the work waiting under it. */
  abortLease(job: Job, fencingToken: number): void;
  /**
   * Report a tick that does not run: claimed, and its job paused (the lease goes separately); or
   * queued behind a run, and dropped by a version of the module that does not queue (`'overlap'`).
   */
  skip(job: Job, tick: number, reason: 'paused' | 'overlap'): void;
  /** The runs in flight here: how many, and the jobs of the first 20 of them. */
  activeRuns(): { count: number; jobs: string[] };
  /** The store's revision, learned at a check-in: it changes when a job is saved, removed, paused or resumed. */
  storeRevision(revision: number): void;
}

interface PendingClaim {
  job: Job;
  tick: number;
  from: number;
  decide: (decision: ClaimDecision) => void;
  /** How many times the claim found the job's row locked. */
  tries: number;
  /** Asked again at its tick (a claim made ahead was answered `later`): not made ahead again. */
  atTick?: boolean;
}

/** A run claimed ahead whose time came: its lease is to be marked started. */
interface PendingStart {
  job: Job;
  fencingToken: number;
  work: { tick: number; from: number; attempt: number };
  go: (started: boolean) => void;
}

/** How many times a claim is asked again while its row is locked by another transaction (20 ms, doubling). */
const LOCKED_TRIES = 6;

// Taken at load: claims of one event-loop turn go together even under fake timers installed later.
const nextTurn = globalThis.setImmediate;

/**
 * Coordinates the instances that share a store. A cluster-wide job is registered before its ticks
 * are claimed ({@link ClusterRegistrations}). Every tick is claimed in the store before it runs:
 * claims from one turn of the event loop go in one round trip, one winner per tick. A won lease
 * is held by what runs under it ({@link HeldLeases}), renewed by heartbeats while anything holds
 * it, and released when nothing does; a lease the store says is another's, or that could not be
 * renewed before it ran out, stops the work under it. Leases that run out are taken over
 * (at-least-once) or given up (at-most-once); a lease this instance takes over from itself, while
 * it still runs under it, is its own. Work claimed and not started when the scheduler stops is
 * handed back to the store for another instance. While the store cannot be reached, ticks are
 * reported missed (see {@link StoreCalls}).
 */
export class ClusterCoordinator implements Coordinator {
  private pending: PendingClaim[] = [];
  /** Jobs with a release not yet answered by the store, and how many. */
  private readonly releasing = new Map<string, number>();
  /** Claims asked again at their tick that wait for the release of their job's previous run. */
  private readonly afterRelease = new Map<string, PendingClaim>();
  private starts: PendingStart[] = [];
  private releases: Lease[] = [];
  private handBacks: HandedBackRun[] = [];
  private flushing = false;
  private sweepQueued = false;
  private readonly leases = new HeldLeases();
  private readonly registrations: ClusterRegistrations;
  /** Store calls whose answers are still to be acted on: stopping waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The fingerprint each superseded job was last reported with, so that each change is reported once. */
  private readonly superseded = new Map<Job, string>();
  private timers: TimerHandle[] = [];
  /** This instance's clock against the store's, measured at each check-in. */
  private readonly skew: ClockSkew;
  /** When the coordinator started, for its check-ins. */
  private startedAt = 0;
  private readonly store: JobStore;
  private readonly claimAhead: ClaimAhead;
  /** Records of finished runs on their way to the store's run history (see {@link finished}). */
  private readonly records: RunRecords;
  /** The clock's time, read when needed. */
  private readonly now = (): number => this.clock.now();
  /** A call writing records is out: the next waits for it. */
  private sendingRuns = false;
  /** After a failed write of records, when they may be sent again. */
  private runsRetryAt = 0;

  constructor(
    /** Calls to the shared store, with their outages tracked. */
    private readonly calls: StoreCalls,
    private readonly instanceId: string,
    private readonly clock: Clock,
    private readonly events: EventHub,
    private readonly host: ClusterHost,
    private readonly timing: ClusterTiming,
  ) {
    this.store = calls.store;
    this.registrations = new ClusterRegistrations(calls, clock, host);
    this.claimAhead = new ClaimAhead(instanceId, timing.claimAheadMs, clock);
    this.skew = new ClockSkew(events, clock);
    this.records = new RunRecords(events, clock);
  }

  /** How long before `tick` a tick of `job` is claimed, at most `most` ms (see {@link ClaimAhead}). */
  lead(job: Job, tick: number, most: number): number {
    return this.claimAhead.lead(job, tick, most);
  }

  /** Starts the heartbeats and the lease sweeps, with a sweep at once: work handed back while no instance ran is taken up. */
  start(): void {
    const { leaseMs, checkInMs } = this.timing;
    this.calls.start();
    this.startedAt = this.clock.now();
    this.timers = [
      this.clock.setTimer(() => void this.heartbeat(), Math.max(1, Math.floor(leaseMs / 3)), { repeat: true, unref: true }),
      this.clock.setTimer(() => void this.sweep(), checkInMs, { repeat: true, unref: true }),
    ];
    this.sweepSoon();
  }

  /**
   * Stops the timers, waits for the store calls still out (a claim won now is handed back), hands
   * back the work that did not start, and sends the releases still due, then the records of
   * finished runs (those that cannot be sent are dropped, and said so). Leases of runs still going
   * (abandoned by a shutdown that timed out) are left to run out: an at-least-once run is then
   * taken over elsewhere.
   */
  async stop(): Promise<void> {
    for (const timer of this.timers) this.clock.clearTimer(timer);
    this.timers = [];
    this.registrations.stop();
    // The store is being closed: calls that fail now are no outage.
    this.calls.stop();
    // Claims that wait for a release are not asked any more.
    for (const ask of this.afterRelease.values()) ask.decide({ outcome: 'unclaimed' });
    this.afterRelease.clear();
    // Claims asked before the stop are answered first: a tick won now is handed back.
    for (let turns = 0; turns < 4 && (this.flushing || this.inFlight.size > 0); turns++) {
      await Promise.allSettled([...this.inFlight]);
      if (this.flushing) await new Promise((resolve) => nextTurn(resolve));
    }
    const handBacks = this.handBacks.splice(0);
    if (handBacks.length > 0) {
      await this.calls
        .call(() => this.store.handBack(this.instanceId, handBacks))
        .then(
          (handed) => this.handedBack(handBacks, handed),
          () => undefined,
        );
    }
    const releases = this.releases.splice(0);
    if (releases.length > 0) await this.calls.call(() => this.store.release(releases)).catch(() => undefined);
    this.runsRetryAt = 0;
    await this.sendRuns();
    this.records.dropAll();
  }

  /**
   * A run of a cluster-wide job ended: its record goes to the store's run history in the next
   * flush, with the records of every run that ended since, in a call of their own (see {@link sendRuns}).
   */
  finished(job: Job, run: EndedRun): void {
    if (!this.store.recordRuns) return;
    const { scheduledAt, startedAt, durationMs, attempt, outcome, error } = run;
    // Made whole at once (no spread): one of these per run, thousands at an instant.
    const record: FinishedRun = { job: job.name, instance: this.instanceId, scheduledAt, startedAt, durationMs, attempt, outcome };
    if (error !== undefined) record.error = error;
    this.records.add(record);
    this.schedule();
  }

  /**
   * Writes the records of finished runs waiting, one call at a time. The history is apart from
   * the protocol: the call is not one of the scheduler's store calls (its failure is no outage, and
   * holds up no claim or release), and after a failure the records wait, bounded, for a check-in's
   * time before they are sent again.
   */
  private async sendRuns(): Promise<void> {
    const recordRuns = this.store.recordRuns?.bind(this.store);
    this.records.report();
    if (!recordRuns || this.sendingRuns || this.records.size === 0 || this.clock.now() < this.runsRetryAt) return;
    const runs = this.records.take();
    this.sendingRuns = true;
    try {
      await within(
        Promise.resolve().then(() => recordRuns(runs)),
        this.timing.timeoutMs,
      );
      this.records.sent();
    } catch {
      this.records.putBack(runs);
      this.runsRetryAt = this.clock.now() + this.timing.checkInMs;
    } finally {
      this.sendingRuns = false;
    }
  }

  place(job: Job, from: number, fromWatermark: boolean): void {
    this.registrations.place(job, from, fromWatermark);
  }

  claim(job: Job, tick: number, from: number, decide: (decision: ClaimDecision) => void): void {
    // Armed while its registration waits: the tick cannot be claimed yet.
    if (this.registrations.waitingFor(job)) return decide({ outcome: 'unclaimed' });
    this.pending.push({ job, tick, from, decide, tries: 0 });
    this.schedule();
  }

  hold(job: Job, fencingToken: number | undefined, change: 1 | -1 | 0): void {
    // A run made with `triggerJob` holds no lease.
    if (fencingToken === undefined) return;
    const release = this.leases.change(job, fencingToken, change, this.now);
    if (release === null) return;
    this.releases.push({ job: job.name, fencingToken: release });
    this.releasing.set(job.name, (this.releasing.get(job.name) ?? 0) + 1);
    this.schedule();
  }

  owns(job: Job, fencingToken: number | undefined): boolean {
    return this.leases.owns(job, fencingToken);
  }

  handBack(job: Job, fencingToken: number | undefined, work: { tick: number; from: number; attempt: number }): void {
    if (fencingToken === undefined) return;
    const token = this.leases.current(job, fencingToken);
    this.leases.handOver(job, token);
    this.handBacks.push({ job: job.name, fencingToken: token, ...work });
    this.schedule();
  }

  begin(job: Job, fencingToken: number, work: { tick: number; from: number; attempt: number }, go: (started: boolean) => void): void {
    this.starts.push({ job, fencingToken, work, go });
    this.schedule();
  }

  startedLate(): void {}

  /** A claimed tick that falls in a pause is given back, skipped. */
  pausedBeforeStart(job: Job, tick: number): void {
    this.host.skip(job, tick, 'paused');
  }

  /** Another instance handed work back: look for it now rather than at the next sweep. */
  sweepSoon(): void {
    if (this.sweepQueued) return;
    this.sweepQueued = true;
    nextTurn(() => {
      this.sweepQueued = false;
      if (this.timers.length > 0) void this.sweep();
    });
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    nextTurn(() => void this.track(this.flush()));
  }

  /** Keeps the promise of a store call until it is acted on, for {@link stop}. */
  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async flush(): Promise<void> {
    this.flushing = false;
    const handBacks = this.handBacks.splice(0);
    if (handBacks.length > 0) {
      void this.track(
        this.calls
          .call(() => this.store.handBack(this.instanceId, handBacks))
          .then(
            (handed) => this.handedBack(handBacks, handed),
            () => void this.handBacks.push(...handBacks),
          ),
      );
    }
    const releases = this.releases.splice(0);
    if (releases.length > 0) {
      // A release that fails is kept for later: dropping it would leave the job busy, or let an
      // at-least-once run that finished be taken over and run again.
      void this.track(
        this.calls
          .call(() => this.store.release(releases))
          .then(
            (handedOn) => {
              this.released(releases);
              // Handed on to ticks queued behind them (overlap 'queue'): taken over now, here or by whoever hears first.
              if (handedOn > 0) this.sweepSoon();
            },
            () => void this.releases.push(...releases),
          ),
      );
    }
    if (this.records.size > 0) void this.track(this.sendRuns());
    const starts = this.starts.splice(0);
    if (starts.length > 0) void this.track(this.beginAll(starts));
    // One claim per job: when a job asks twice in a turn, the later tick covers the earlier.
    const byJob = new Map<string, PendingClaim>();
    for (const claim of this.pending.splice(0)) {
      const other = byJob.get(claim.job.name);
      if (other === undefined) {
        byJob.set(claim.job.name, claim);
        continue;
      }
      const later = other.tick > claim.tick;
      const dropped = later ? claim : other;
      if (!later) byJob.set(claim.job.name, claim);
      // A claim asked again (its row was locked, or it was made ahead and is asked at its tick) and
      // overtaken by a later tick is reported missed: the later claim does not cover its tick.
      if (dropped.tries > 0 || dropped.atTick) dropped.decide({ outcome: 'unclaimed' });
    }
    // In batches of bounded size, each decided as soon as it is answered: the first runs of a herd
    // do not wait for the last claims.
    await Promise.all(batches([...byJob.values()]).map((asks) => this.claimBatch(asks)));
  }

  /**
   * Marks the leases of the runs claimed ahead that are due now started: with one write for all
   * (`startAll`) those this instance won lately, each of the others with its lease (`start`), in
   * batches decided as soon as they are answered. A lease won within its time is still this
   * instance's unless the store declared the instance dead — and then `startAll` is refused, and
   * each lease is asked about. The store could not be asked: each run is handed back (see {@link begun}).
   */
  private async beginAll(starts: readonly PendingStart[]): Promise<void> {
    const sentAt = this.clock.now();
    const { leaseMs } = this.timing;
    const recent: PendingStart[] = [];
    const others: PendingStart[] = [];
    let upTo = -Infinity;
    for (const start of starts) {
      const confirmedAt = this.leases.confirmedAt(start.job, start.fencingToken);
      if (confirmedAt === null || sentAt - confirmedAt >= leaseMs / 2) others.push(start);
      else {
        recent.push(start);
        upTo = Math.max(upTo, start.work.tick);
      }
    }
    const singly = (list: readonly PendingStart[]) => Promise.all(batches(list).map((batch) => this.begun(batch)));
    if (recent.length === 0) return void (await singly(others));
    const [marked] = await Promise.all([
      this.calls.ready()
        ? this.calls
            .call(() =>
              this.store.startAll(
                this.instanceId,
                upTo,
                recent.map(({ job }) => job.name),
              ),
            )
            .catch(() => null)
        : null,
      singly(others),
    ]);
    if (marked === null) return recent.forEach(({ job, fencingToken, work, go }) => (this.handBack(job, fencingToken, work), go(false)));
    if (!marked) return void (await singly(recent));
    // Still within its time as the mark was answered: the store cannot have taken it back since.
    const answeredAt = this.clock.now();
    const late = recent.filter(({ job, fencingToken, go }) => {
      const confirmedAt = this.leases.confirmedAt(job, fencingToken);
      if (confirmedAt === null || answeredAt - confirmedAt >= leaseMs) return true;
      go(true);
      return false;
    });
    if (late.length > 0) await singly(late);
  }

  /**
   * Marks the leases of runs claimed ahead started, and lets each run start if its lease is still
   * this instance's. One the store could not be asked about is handed back: the store may or may
   * not have marked it, and either way an instance that has the job takes it over, once.
   */
  private async begun(starts: readonly PendingStart[]): Promise<void> {
    const sentAt = this.clock.now();
    const leases = starts.map(({ job, fencingToken }) => ({ job: job.name, fencingToken }));
    const held = this.calls.ready() ? await this.calls.call(() => this.store.start(this.instanceId, leases)).catch(() => null) : null;
    starts.forEach(({ job, fencingToken, work, go }, index) => {
      if (held === null) {
        this.handBack(job, fencingToken, work);
        return go(false);
      }
      if (held[index]) this.leases.confirm(job, fencingToken, sentAt);
      go(held[index]);
    });
  }

  private async claimBatch(asks: readonly PendingClaim[]): Promise<void> {
    const sentAt = this.clock.now();
    // Made ahead of its tick: the lease waits for `begin`, and a run in the way is no reason to skip yet.
    const ahead = asks.map(({ from, atTick }) => !atTick && from > sentAt);
    const claims: TickClaim[] = asks.map(({ job, tick, from }, index) => ({
      job: job.name,
      tick,
      from,
      fingerprint: fingerprint(job.trigger),
      exclusive: job.options.overlap !== 'allow',
      leaseMs: this.timing.leaseMs,
      delivery: job.options.delivery,
      ahead: ahead[index],
      maxRuns: job.options.maxRuns,
      queue: job.options.overlap === 'queue',
    }));
    let outcomes: ClaimOutcome[] | null = null;
    if (this.calls.ready()) {
      outcomes = await this.calls
        .call(
          () => this.store.claim(this.instanceId, claims),
          // A claim answered after its time limit was reported unclaimed: give back what it won.
          (late) => late.forEach((outcome, index) => outcome.status === 'won' && this.hold(asks[index].job, outcome.fencingToken, 0)),
        )
        .catch(() => null);
    }
    asks.forEach((ask, index) => this.decide(ask, outcomes?.[index], sentAt, ahead[index]));
  }

  private decide(ask: PendingClaim, outcome: ClaimOutcome | undefined, sentAt: number, ahead: boolean): void {
    const { job, tick, decide } = ask;
    if (outcome && outcome.status !== 'unreachable' && this.events.wants('tick.claimed'))
      this.events.emit('tick.claimed', () => ({ at: new Date(this.clock.now()), job: job.name, scheduledAt: new Date(tick), outcome: outcome.status }));
    if (!outcome || outcome.status === 'unreachable') return decide({ outcome: 'unclaimed' });
    // Asked in time (ahead, or again at its tick after a claim made ahead), but carried out after a
    // claim of a later tick of the job (the store answered late: a failover, a stall): whether any
    // instance had the tick is not known, and it is reported missed. An instance whose claim went
    // out late (its clock behind, its event loop stalled) says nothing: the cluster was on time.
    if (outcome.status === 'overtaken' && (ask.atTick || sentAt <= tick)) return decide({ outcome: 'unclaimed' });
    if (outcome.status === 'superseded') return this.supersededBy(job, outcome.trigger);
    if (this.superseded.size > 0) this.superseded.delete(job);
    if (outcome.status === 'won') {
      if (outcome.replaced) this.reportLost(job.name, outcome.replaced);
      if (outcome.droppedQueued !== undefined) this.host.skip(job, outcome.droppedQueued, 'overlap');
      this.leases.won(job, outcome.fencingToken, sentAt);
      return decide({ outcome: 'won', fencingToken: outcome.fencingToken, started: !ahead });
    }
    if (outcome.status === 'busy') return decide({ outcome: 'busy' });
    if (outcome.status === 'queued') return decide({ outcome: 'queued' });
    if (outcome.status === 'completed') return decide({ outcome: 'completed' });
    if (outcome.status === 'locked') return this.askAgain(ask);
    if (outcome.status === 'later') return this.askAtTick(ask);
    // A stored job that was removed is not brought back: the next sync removes it here too. Any
    // other is registered again, and its tick reported missed.
    if (outcome.status === 'gone' && this.host.job(job.name) === job && !job.removed && !job.persisted) {
      this.registrations.again(job, tick);
      decide({ outcome: 'unclaimed' });
    }
  }

  /** The job's row is locked by another transaction: the claim is asked again shortly, a few times, then reported unclaimed. */
  private askAgain(ask: PendingClaim): void {
    if (++ask.tries >= LOCKED_TRIES || this.timers.length === 0) return ask.decide({ outcome: 'unclaimed' });
    this.clock.setTimer(
      () => {
        this.pending.push(ask);
        this.schedule();
      },
      20 * 2 ** (ask.tries - 1),
      { unref: true },
    );
  }

  /**
   * A claim made ahead found a run of the job holding the lease: asked again at the tick, when that
   * run may have ended — and, if it ran here, once the store has its release: a release still on
   * its way would make the tick look busy, and skip it.
   */
  private askAtTick(ask: PendingClaim): void {
    if (this.timers.length === 0) return ask.decide({ outcome: 'unclaimed' });
    ask.atTick = true;
    this.clock.setTimer(
      () => {
        if (this.releasing.has(ask.job.name)) {
          // One waits per job: an earlier tick still waiting (the release does not get through) is reported missed.
          this.afterRelease.get(ask.job.name)?.decide({ outcome: 'unclaimed' });
          return void this.afterRelease.set(ask.job.name, ask);
        }
        this.pending.push(ask);
        this.schedule();
      },
      Math.max(0, ask.tick - this.clock.now()),
      { unref: true },
    );
  }

  /** Releases the store has: claims that waited for them are asked now. */
  private released(leases: readonly Lease[]): void {
    for (const { job } of leases) {
      const left = (this.releasing.get(job) ?? 1) - 1;
      if (left > 0) {
        this.releasing.set(job, left);
        continue;
      }
      this.releasing.delete(job);
      const ask = this.afterRelease.get(job);
      if (!ask) continue;
      this.afterRelease.delete(job);
      this.pending.push(ask);
      this.schedule();
    }
  }

  /** Another definition of the job was registered since (another version of the application): its ticks are not this instance's. */
  private supersededBy(job: Job, stored: string): void {
    // A stored job changed by another instance is brought in line by the next sync: nothing to report.
    if (job.persisted || this.superseded.get(job) === stored) return;
    this.superseded.set(job, stored);
    const here = job.trigger.toString();
    this.events.emit('job.superseded', () => ({ at: new Date(this.clock.now()), job: job.name, trigger: here, storedTrigger: stored }));
  }

  /**
   * Renews the leases held here. A lease the store confirmed within the last sixth of its time (a
   * tick claimed ahead lately, whose run most often ends before the next heartbeat) waits for a
   * later one, which still comes with half its time to spare; with `all`, every lease is asked
   * about (this instance was declared dead: which of them are another's now?).
   */
  private async heartbeat(all = false): Promise<void> {
    // Work handed back, and releases, that failed (the store was away) go again with each heartbeat.
    if (this.releases.length > 0 || this.handBacks.length > 0 || this.records.size > 0) this.schedule();
    const sentAt = this.clock.now();
    const active = this.leases.active(all ? Infinity : sentAt - this.timing.leaseMs / 6);
    if (active.length === 0) return;
    const renewed = await this.calls
      .call(() =>
        this.store.renew(
          this.instanceId,
          active.map(({ lease }) => lease),
          this.timing.leaseMs,
        ),
      )
      .catch(() => null);
    if (renewed === null) {
      // Not renewed in time: the lease may have run out in the store, and the tick's work may be
      // another's. Nothing more runs under it (its run's signal is aborted).
      for (const { job, token } of this.leases.unconfirmedSince(this.clock.now() - this.timing.leaseMs)) this.lost(job, token);
      return;
    }
    renewed.forEach((stillHeld, index) => {
      const { job, lease } = active[index];
      if (stillHeld) this.leases.confirm(job, lease.fencingToken, sentAt);
      else this.lost(job, lease.fencingToken);
    });
  }

  /** The lease is no longer this instance's: nothing more starts under it, and an exclusive run is told. */
  private lost(job: Job, fencingToken: number): void {
    // Only an exclusive run is another's once its lease is: runs that may overlap share the slot
    // (and one that won its tick while another run held the slot never had a lease of its own).
    if (job.options.overlap === 'allow') return;
    this.leases.lose(job, fencingToken);
    // Work taken over from this instance by itself still carries the lease's earlier token.
    for (const token of this.leases.tokensOf(job, fencingToken)) this.host.abortLease(job, token);
  }

  /**
   * The instances that checked in lately (within the time after which one is dead). A read for
   * operators (the registry, a health check, the dashboard), not one of the protocol's calls: one
   * that fails or is slow is no outage, and holds up no claim. Fails with a `StoreUnavailableError`.
   */
  instances(): Promise<InstanceRecord[]> {
    return operatorRead(this.store, () => this.store.instances(this.deadAfterMs), this.timing.timeoutMs);
  }

  /** After how long without a check-in an instance is dead. */
  private get deadAfterMs(): number {
    return this.timing.checkInMs * MISSED_CHECK_INS;
  }

  /** Checks in, and takes over or gives up the leases that ran out, and those of dead instances. */
  private sweep(): Promise<void> {
    const sentAt = this.clock.now();
    const { count, jobs } = this.host.activeRuns();
    const self: InstanceCheckIn = { id: this.instanceId, host: hostname(), pid: process.pid, startedAt: this.startedAt, running: count, runningJobs: jobs };
    return this.track(
      this.calls
        .call(() => this.store.recover(this.instanceId, this.timing.leaseMs, this.host.clusterJobs, { self, deadAfterMs: this.deadAfterMs }))
        .then(
          (swept) => this.swept(swept, sentAt),
          () => undefined,
        ),
    );
  }

  private swept({ recovered, abandoned, more, reaped, revision, storeNow }: Sweep, sentAt: number): void {
    if (storeNow !== undefined) this.skew.measured(storeNow, sentAt, this.clock.now());
    // Declared dead while it did not check in (stalled, or cut off): its leases ran out. The
    // heartbeat finds which are another's now, and stops the work under them.
    if (reaped) void this.heartbeat(true);
    if (revision !== undefined) this.host.storeRevision(revision);
    for (const run of recovered) this.takeOver(run, sentAt);
    for (const run of abandoned) this.reportLost(run.job, run);
    // More ran out than one call deals with: the rest at once. So too when a run given up may have
    // had a tick queued behind it (overlap 'queue'), handed on to it by the store.
    if (more || abandoned.some((run) => this.host.job(run.job)?.options.overlap === 'queue')) this.sweepSoon();
  }

  /**
   * What the store would not take back: its lease was no longer this instance's. Another instance
   * took it over, or gave it up and reported it; but a run that may overlap others, won while
   * another run held the job's lease, never had a lease to hand back: it is lost, and said so here.
   */
  private handedBack(runs: readonly HandedBackRun[], handed: boolean[]): void {
    runs.forEach((run, index) => {
      if (handed[index] || this.host.job(run.job)?.options.overlap !== 'allow') return;
      this.reportLost(run.job, { tick: run.from, attempt: run.attempt, owner: this.instanceId });
    });
  }

  /** An at-most-once run whose instance stopped renewing its lease was given up here (by a sweep, or by a claim that replaced its lease). */
  private reportLost(job: string, run: { tick: number; attempt: number; owner: string }): void {
    this.events.emit('run.lost', () => ({ at: new Date(this.clock.now()), job, scheduledAt: new Date(run.tick), attempt: run.attempt, owner: run.owner }));
  }

  /** A run whose lease this instance took over. */
  private takeOver(run: ExpiredRun, sentAt: number): void {
    const job = this.host.job(run.job);
    const own = run.owner === this.instanceId && job !== undefined;
    // The run finished here and its release did not get through: done.
    if (own && this.releases.some((lease) => lease.job === run.job && lease.fencingToken === run.previousToken)) {
      return this.hold(job, run.fencingToken, 0);
    }
    // The lease ran out while this instance still runs under it (its event loop stalled, or the
    // store was out of reach), and this instance's own sweep took it over: still its own.
    if (own && this.leases.rename(job, run.previousToken, run.fencingToken, sentAt)) return;
    // The job went, or the scheduler is stopping: another instance is to run it.
    if (!job || job.removed || !this.host.running()) {
      this.handBacks.push({ job: run.job, fencingToken: run.fencingToken, tick: run.tick, from: run.from, attempt: run.attempt });
      return this.schedule();
    }
    this.leases.won(job, run.fencingToken, sentAt);
    this.host.runRecovered(job, run);
    // Nothing took it up (the job was paused, or completed): the lease goes.
    this.hold(job, run.fencingToken, 0);
  }
}
