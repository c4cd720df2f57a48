import { ClaimOutcome, JobStore, Lease, TickClaim } from '../stores/job-store';
import { Backoff } from './backoff';
import { Clock, TimerHandle } from './clock';
import { ClaimDecision, Coordinator, CoordinatorHost } from './coordinator';
import { EventHub } from './event-hub';
import { Job } from './job';
import { StoreCalls } from './store-calls';

/** How the cluster coordinator reaches back into the scheduler. */
export interface ClusterHost extends CoordinatorHost {
  job(name: string): Job | undefined;
  /** Whether the job is still the scheduler's, not paused, and the scheduler running: a registration answered late is dropped otherwise. */
  live(job: Job): boolean;
  /** The job is paused cluster-wide (in the store): pause it here. */
  pausedInStore(job: Job): void;
  /** Run a tick taken over from an instance whose lease ran out. */
  runRecovered(job: Job, tick: number, attempt: number, fencingToken: number): void;
  /** Abort the runs holding a lease the store says is no longer theirs. */
  abortLease(job: Job, fencingToken: number): void;
  /** Report a claimed tick that does not run because its job is paused (the lease goes separately). */
  skipPaused(job: Job, tick: number): void;
}

/** Timing of the cluster protocol. */
export interface ClusterTiming {
  /** How long a run's lease lasts without a heartbeat; heartbeats come every third of it. Default 30 s. */
  leaseMs: number;
  /** How often expired leases are looked for (and a lost store retried). Default 5 s. */
  syncEveryMs: number;
  /** A store call slower than this counts as failed. Default 5 s. */
  timeoutMs: number;
  /**
   * How long before its tick a cluster-wide tick is claimed, so that the round trip to the store
   * is over when the run is due; up to 1.75 times this for the jobs an instance prefers (see
   * `lead`). At most half the time since the job's previous tick. Default 0: at the tick.
   */
  claimAheadMs: number;
}

const DEFAULT_TIMING: ClusterTiming = { leaseMs: 30_000, syncEveryMs: 5_000, timeoutMs: 5_000, claimAheadMs: 0 };

/** The timing of the cluster protocol: the defaults, with the values `given` sets (one given as `undefined` keeps its default). */
export function clusterTiming(given: Partial<ClusterTiming> = {}): ClusterTiming {
  const timing = { ...DEFAULT_TIMING };
  for (const key of Object.keys(given) as Array<keyof ClusterTiming>) if (given[key] !== undefined) timing[key] = given[key];
  return timing;
}

interface PendingClaim {
  job: Job;
  tick: number;
  decide: (decision: ClaimDecision) => void;
}

interface Placement {
  job: Job;
  from: number;
  fromWatermark: boolean;
}

// Taken at load: claims of one event-loop turn go together even under fake timers installed later.
const nextTurn = globalThis.setImmediate;

/**
 * Coordinates the instances that share a store. A cluster-wide job is registered before it is
 * armed: it takes the anchor, watermark and paused flag every instance shares. Every tick is
 * claimed in the store before it runs: claims from one turn of the event loop go in one round
 * trip, one winner per tick. A won lease is held by what runs under it — the run, runs held back,
 * a waiting retry — renewed by heartbeats while anything holds it, and released when nothing
 * does. Leases that run out are taken over (at-least-once) or given up (at-most-once). While the
 * store cannot be reached, ticks are reported missed (see {@link StoreCalls}) and registrations
 * are tried again.
 */
export class ClusterCoordinator implements Coordinator {
  private pending: PendingClaim[] = [];
  private releases: Lease[] = [];
  private flushing = false;
  /**
   * The jobs that hold leases. Each keeps its own (`job.holds`: fencing token, count, token,
   * count…, rarely more than one lease), where a tick finds it without a lookup. A count of 0 is
   * a free slot: the array is used again for the job's next lease, and let go at a heartbeat.
   */
  private readonly held = new Set<Job>();
  /** Jobs armed in this turn of the event loop: they register together. */
  private placing: Placement[] = [];
  /** Registrations to try again: their timers, and what each tries. */
  private readonly retries = new Map<TimerHandle, () => void>();
  private timers: TimerHandle[] = [];
  private readonly store: JobStore;
  private readonly instanceHash: number;

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
    // Registrations waiting for the store go at once when it is back, not at their next backoff.
    calls.onRecovered(() => {
      for (const [timer, retry] of [...this.retries]) {
        this.clock.clearTimer(timer);
        this.retries.delete(timer);
        retry();
      }
    });
    this.instanceHash = Math.imul(fnv1a(instanceId), 0x85ebca6b);
  }

  /**
   * How long before `tick` a tick of `job` is claimed: `claimAheadMs`, or up to three quarters
   * more. How much more is a hash of the job, the instance and the tick, different on each
   * instance: each claims a different part of the jobs first, so that the runs of one tick are
   * shared out among the instances instead of all going to the quickest, and a different part at
   * each tick, so that every instance gets its turn even with few jobs. (A lead learned by each
   * instance would hand every tick to the instance that had learned the longest.)
   */
  lead(job: Job, tick: number): number {
    if (job.nameHash < 0) job.nameHash = fnv1a(job.name);
    const preference = mix(job.nameHash ^ this.instanceHash ^ Math.imul((tick % 0x1_0000_0000) | 0, 0x9e3779b1)) % 4;
    return this.timing.claimAheadMs * (1 + preference / 4);
  }

  /** Starts the heartbeats and the lease sweeps. */
  start(): void {
    const { leaseMs, syncEveryMs } = this.timing;
    this.calls.start();
    this.timers = [
      this.clock.setTimer(() => void this.heartbeat(), Math.max(1, Math.floor(leaseMs / 3)), { repeat: true, unref: true }),
      this.clock.setTimer(() => void this.sweep(), syncEveryMs, { repeat: true, unref: true }),
    ];
  }

  /**
   * Stops the timers and sends the releases still due. Leases of runs still going (abandoned by a
   * shutdown that timed out) are left to run out: an at-least-once run is then taken over elsewhere.
   */
  async stop(): Promise<void> {
    for (const timer of [...this.timers, ...this.retries.keys()]) this.clock.clearTimer(timer);
    this.timers = [];
    this.retries.clear();
    this.calls.stop();
    const releases = this.releases.splice(0);
    if (releases.length > 0) await this.calls.call(() => this.store.release(releases)).catch(() => undefined);
  }

  place(job: Job, from: number, fromWatermark: boolean): void {
    this.placing.push({ job, from, fromWatermark });
    if (this.placing.length === 1) nextTurn(() => this.registerThenArm(this.placing.splice(0), new Backoff(1_000, 30_000)));
  }

  /**
   * Registers a batch and arms its jobs. When the scheduler starts, ticks count from the watermark:
   * those missed while the whole cluster was down follow the misfire policy. A job is never armed
   * on an anchor of its own: while the store cannot be reached, registration is tried again (1 s,
   * doubling to 30 s), and at once when another call finds the store back.
   */
  private registerThenArm(batch: Placement[], backoff: Backoff): void {
    const live = batch.filter(({ job }) => this.host.live(job));
    if (live.length === 0) return;
    this.register(live.map(({ job }) => job)).then(
      (states) =>
        live.forEach(({ job, from, fromWatermark }, index) => {
          if (!this.host.live(job)) return;
          const state = states[index];
          const { startAt } = job.options;
          job.anchor = state.anchor;
          if (state.paused) return this.host.pausedInStore(job);
          // A stored job's ticks count from its creation (its anchor) until one is claimed.
          const after = fromWatermark ? (state.lastTick ?? (job.persisted ? state.anchor : from)) : startAt !== null && startAt > from ? startAt - 1 : from;
          this.host.armAfter(job, after);
        }),
      () => {
        const again = () => this.registerThenArm(live, backoff);
        const timer = this.clock.setTimer(
          () => {
            this.retries.delete(timer);
            again();
          },
          backoff.next(),
          { unref: true },
        );
        this.retries.set(timer, again);
      },
    );
  }

  /** Registers jobs with the store: their shared anchor, watermark and paused flag. */
  private register(jobs: Job[]) {
    return this.calls.call(() => this.store.register(jobs.map((job) => ({ name: job.name, anchor: job.anchor }))));
  }

  claim(job: Job, tick: number, decide: (decision: ClaimDecision) => void): void {
    this.pending.push({ job, tick, decide });
    this.schedule();
  }

  hold(job: Job, fencingToken: number | undefined, change: 1 | -1 | 0): void {
    // A run made with `triggerJob` holds no lease.
    if (fencingToken === undefined) return;
    let holds = job.holds;
    if (!holds) {
      job.holds = holds = [];
      this.held.add(job);
    }
    let at = -1;
    let free = -1;
    for (let i = 0; i < holds.length; i += 2) {
      if (holds[i + 1] === 0) free = free < 0 ? i : free;
      else if (holds[i] === fencingToken) {
        at = i;
        break;
      }
    }
    const count = (at < 0 ? 0 : holds[at + 1]) + change;
    if (count > 0) {
      if (at < 0) at = free < 0 ? holds.length : free;
      holds[at] = fencingToken;
      holds[at + 1] = count;
      return;
    }
    if (at >= 0) holds[at + 1] = 0;
    this.releases.push({ job: job.name, fencingToken });
    this.schedule();
  }

  startedLate(): void {}

  /** A claimed tick that falls in a pause is given back, skipped. */
  pausedBeforeStart(job: Job, tick: number): void {
    this.host.skipPaused(job, tick);
  }

  /**
   * The lease of a claimed at-least-once tick is left to run out, so that another instance runs
   * it; an at-most-once one is given back.
   */
  dropPrepared(job: Job, fencingToken: number | undefined): void {
    if (job.options.delivery === 'at-most-once') this.hold(job, fencingToken, -1);
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    nextTurn(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushing = false;
    const releases = this.releases.splice(0);
    if (releases.length > 0) {
      // A release that fails is kept for later: dropping it would leave the job busy, or let an
      // at-least-once run that finished be taken over and run again.
      void this.calls.call(() => this.store.release(releases)).catch(() => this.releases.push(...releases));
    }
    // One claim per job: when a job asks twice in a turn, the later tick covers the earlier.
    const byJob = new Map<string, PendingClaim>();
    for (const claim of this.pending.splice(0)) byJob.set(claim.job.name, claim);
    const asks = [...byJob.values()];
    if (asks.length === 0) return;
    const claims: TickClaim[] = asks.map(({ job, tick }) => ({
      job: job.name,
      tick,
      exclusive: job.options.overlap !== 'allow',
      leaseMs: this.timing.leaseMs,
      delivery: job.options.delivery,
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
    asks.forEach(({ job, decide }, index) => {
      const outcome = outcomes?.[index];
      if (!outcome) return decide({ outcome: 'unclaimed' });
      if (outcome.status === 'won') return decide({ outcome: 'won', fencingToken: outcome.fencingToken });
      if (outcome.status === 'busy') return decide({ outcome: 'busy' });
      if (outcome.status === 'gone') void this.reregister(job);
    });
  }

  /**
   * A job the store does not know: never registered while the store was down, or removed there.
   * A stored job that was removed is not brought back: the next sync removes it here too.
   */
  private async reregister(job: Job): Promise<void> {
    if (this.host.job(job.name) !== job || job.removed || job.persisted) return;
    await this.register([job]).catch(() => undefined);
  }

  private async heartbeat(): Promise<void> {
    // Releases that failed (the store was away) go again with each heartbeat.
    if (this.releases.length > 0) this.schedule();
    const leases: Lease[] = [];
    for (const job of this.held) {
      const holds = job.holds!;
      const before = leases.length;
      for (let i = 0; i < holds.length; i += 2) if (holds[i + 1] > 0) leases.push({ job: job.name, fencingToken: holds[i] });
      if (leases.length > before) continue;
      job.holds = null;
      this.held.delete(job);
    }
    if (leases.length === 0) return;
    const renewed = await this.calls.call(() => this.store.renew(this.instanceId, leases, this.timing.leaseMs)).catch(() => null);
    renewed?.forEach((stillHeld, index) => {
      if (stillHeld) return;
      const { job: name, fencingToken } = leases[index];
      const job = this.host.job(name);
      // Only an exclusive run is another's once its lease is: runs that may overlap share the slot.
      if (job && job.options.overlap !== 'allow') this.host.abortLease(job, fencingToken);
    });
  }

  private async sweep(): Promise<void> {
    const swept = await this.calls.call(() => this.store.recover(this.instanceId, this.timing.leaseMs)).catch(() => null);
    if (!swept) return;
    for (const run of swept.recovered) {
      const job = this.host.job(run.job);
      const count = (job?.holds ?? []).reduce((sum, value, i) => (i % 2 === 1 ? sum + value : sum), 0);
      if (!job || job.removed) {
        this.releases.push({ job: run.job, fencingToken: run.fencingToken });
        this.schedule();
      } else if (count > 0) {
        // The lease ran out while this instance still runs it (the store was out of reach): keep
        // running, under the new token.
        job.holds = [run.fencingToken, count];
      } else {
        this.host.runRecovered(job, run.tick, run.attempt, run.fencingToken);
      }
    }
    for (const run of swept.abandoned) {
      this.events.emit('run.lost', () => ({
        at: new Date(this.clock.now()),
        job: run.job,
        scheduledAt: new Date(run.tick),
        attempt: run.attempt,
        owner: run.owner,
      }));
    }
  }
}

/** The final mix of MurmurHash3: every bit of the input moves every bit of the result (unsigned). */
function mix(hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** The 32-bit FNV-1a hash of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
