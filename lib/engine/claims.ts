import { ClaimOutcome, JobStore, Lease, StoredJobState, TickClaim } from '../stores/job-store';
import { Clock, TimerHandle } from './clock';
import { EventHub } from './event-hub';
import { Job } from './job';

/** What became of a tick asked of the store. */
export type ClaimDecision =
  | { outcome: 'won'; fencingToken: number }
  /** This instance took the tick, but a run of the job holds a lease elsewhere: skip it. */
  | { outcome: 'busy' }
  /** The store could not be asked: the tick cannot run (running it unclaimed could run it twice). */
  | { outcome: 'unclaimed' };

/** How the coordinator reaches back into the scheduler. */
export interface ClaimsHost {
  job(name: string): Job | undefined;
  /** Run a tick taken over from an instance whose lease ran out. */
  runRecovered(job: Job, tick: number, attempt: number, fencingToken: number): void;
  /** Abort the runs holding a lease the store says is no longer theirs. */
  abortLease(job: Job, fencingToken: number): void;
}

/** Timing of the cluster protocol. */
export interface ClaimsTiming {
  /** How long a run's lease lasts without a heartbeat; heartbeats come every third of it. Default 30 s. */
  leaseMs: number;
  /** How often expired leases are looked for (and a lost store retried). Default 5 s. */
  syncEveryMs: number;
  /** A store call slower than this counts as failed. Default 5 s. */
  timeoutMs: number;
}

interface PendingClaim {
  job: Job;
  tick: number;
  decide: (decision: ClaimDecision) => void;
}

// Taken at load: claims of one event-loop turn go together even under fake timers installed later.
const nextTurn = globalThis.setImmediate;

/**
 * Coordinates the instances that share a store. Every tick of a cluster-wide job is claimed in the
 * store before it runs: claims from one turn of the event loop go in one round trip, one winner
 * per tick. A won run holds a lease, renewed by heartbeats and released when it settles; leases
 * that run out are taken over (at-least-once) or given up (at-most-once). While the store cannot
 * be reached, ticks are reported missed — one `store.unavailable` event per outage — and the store
 * is tried again with backoff.
 */
export class Claims {
  private pending: PendingClaim[] = [];
  private releases: Lease[] = [];
  private flushing = false;
  private readonly leases = new Map<string, number>();
  private downSince: number | null = null;
  private retryAt = 0;
  private backoffMs = 0;
  private timers: TimerHandle[] = [];

  constructor(
    readonly store: JobStore,
    private readonly instanceId: string,
    private readonly clock: Clock,
    private readonly events: EventHub,
    private readonly host: ClaimsHost,
    private readonly timing: ClaimsTiming,
  ) {}

  /** Whether the job's ticks are claimed: a shared store, and a job not scoped to the instance. */
  guards(job: Job): boolean {
    return this.store.shared && job.options.scope === 'cluster';
  }

  /** Starts the heartbeats and the lease sweeps. */
  start(): void {
    const { leaseMs, syncEveryMs } = this.timing;
    this.timers = [
      this.clock.setTimer(() => void this.heartbeat(), Math.max(1, Math.floor(leaseMs / 3)), { repeat: true, unref: true }),
      this.clock.setTimer(() => void this.sweep(), syncEveryMs, { repeat: true, unref: true }),
    ];
  }

  /** Stops the timers and gives back the leases still held (their runs are over or abandoned). */
  async stop(): Promise<void> {
    for (const timer of this.timers) this.clock.clearTimer(timer);
    this.timers = [];
    const held = [...this.leases].map(([job, fencingToken]) => ({ job, fencingToken }));
    this.leases.clear();
    await this.call(() => this.store.release([...this.releases.splice(0), ...held])).catch(() => undefined);
  }

  /** Registers jobs with the store: their shared anchor, watermark and paused flag. */
  register(jobs: Job[]): Promise<StoredJobState[]> {
    return this.call(() => this.store.register(jobs.map((job) => ({ name: job.name, anchor: job.anchor }))));
  }

  /** Asks for `tick` of `job`; `decide` is told the outcome, or nothing if another instance has the tick. */
  claim(job: Job, tick: number, decide: (decision: ClaimDecision) => void): void {
    this.pending.push({ job, tick, decide });
    this.schedule();
  }

  /** A run this instance won settled; its lease goes once the job has nothing more to run. */
  settled(job: Job, fencingToken: number): void {
    // Kept while the job still has work in hand: a retry waiting, a held-back run, another run.
    if (job.running > 0 || job.backlog?.length || job.retries?.size) return;
    if (this.leases.get(job.name) === fencingToken) this.leases.delete(job.name);
    this.releases.push({ job: job.name, fencingToken });
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    nextTurn(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushing = false;
    const releases = this.releases.splice(0);
    // One claim per job: when a job asks twice in a turn, the later tick covers the earlier.
    const byJob = new Map<string, PendingClaim[]>();
    for (const claim of this.pending.splice(0)) byJob.set(claim.job.name, [...(byJob.get(claim.job.name) ?? []), claim]);
    const batches = [...byJob.values()];
    if (releases.length > 0) void this.call(() => this.store.release(releases)).catch(() => undefined);
    if (batches.length === 0) return;
    const claims: TickClaim[] = batches.map((asks) => {
      const { job, tick } = asks[asks.length - 1];
      return { job: job.name, tick, exclusive: job.options.overlap !== 'allow', leaseMs: this.timing.leaseMs, delivery: job.options.delivery };
    });
    let outcomes: ClaimOutcome[] | null = null;
    if (this.downSince === null || this.clock.now() >= this.retryAt) {
      outcomes = await this.call(() => this.store.claim(this.instanceId, claims)).catch(() => null);
    }
    batches.forEach((asks, index) => {
      const outcome = outcomes?.[index];
      const decision: ClaimDecision | null = !outcome
        ? { outcome: 'unclaimed' }
        : outcome.status === 'won'
          ? { outcome: 'won', fencingToken: outcome.fencingToken }
          : outcome.status === 'busy'
            ? { outcome: 'busy' }
            : null;
      if (outcome?.status === 'won') this.leases.set(asks[0].job.name, outcome.fencingToken);
      if (outcome?.status === 'gone') void this.reregister(asks[0].job);
      // Earlier asks of the same job in this turn are covered by the last one, which claims the later tick.
      if (decision) asks[asks.length - 1].decide(decision);
    });
  }

  /** A job the store does not know (removed there, or never registered while it was down). */
  private async reregister(job: Job): Promise<void> {
    if (this.host.job(job.name) !== job || job.removed) return;
    await this.register([job]).catch(() => undefined);
  }

  private async heartbeat(): Promise<void> {
    const leases = [...this.leases].map(([job, fencingToken]) => ({ job, fencingToken }));
    if (leases.length === 0) return;
    const held = await this.call(() => this.store.renew(this.instanceId, leases, this.timing.leaseMs)).catch(() => null);
    held?.forEach((stillHeld, index) => {
      if (stillHeld) return;
      const { job: name, fencingToken } = leases[index];
      this.leases.delete(name);
      const job = this.host.job(name);
      if (job) this.host.abortLease(job, fencingToken);
    });
  }

  private async sweep(): Promise<void> {
    const swept = await this.call(() => this.store.recover(this.instanceId, this.timing.leaseMs)).catch(() => null);
    if (!swept) return;
    for (const run of swept.recovered) {
      const job = this.host.job(run.job);
      if (!job) {
        this.releases.push({ job: run.job, fencingToken: run.fencingToken });
        this.schedule();
        continue;
      }
      this.leases.set(run.job, run.fencingToken);
      this.host.runRecovered(job, run.tick, run.attempt, run.fencingToken);
    }
    for (const run of swept.abandoned) {
      this.events.emit('run.lost', () => ({ at: new Date(this.clock.now()), job: run.job, scheduledAt: new Date(run.tick), attempt: run.attempt, owner: run.owner }));
    }
  }

  /**
   * Calls the store with a time limit. The first failure of an outage emits `store.unavailable`
   * and backs off (100 ms, doubling to 5 s) before claims are tried again; the first success
   * after it emits `store.recovered`.
   */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    let timer: TimerHandle | undefined;
    try {
      const result = await Promise.race([
        operation(),
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimer(() => reject(new Error(`no answer within ${this.timing.timeoutMs} ms`)), this.timing.timeoutMs, { unref: true });
        }),
      ]);
      if (this.downSince !== null) {
        const downMs = this.clock.now() - this.downSince;
        this.downSince = null;
        this.backoffMs = 0;
        this.events.emit('store.recovered', () => ({ at: new Date(this.clock.now()), store: this.store.kind, downMs }));
      }
      return result;
    } catch (error) {
      const now = this.clock.now();
      if (this.downSince === null) {
        this.downSince = now;
        this.events.emit('store.unavailable', () => ({ at: new Date(now), store: this.store.kind, error }));
      }
      this.backoffMs = Math.min(Math.max(100, this.backoffMs * 2), 5_000);
      this.retryAt = now + this.backoffMs;
      throw error;
    } finally {
      if (timer !== undefined) this.clock.clearTimer(timer);
    }
  }
}
