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
  /**
   * How long before its tick a cluster-wide tick is claimed, so that the round trip to the store
   * is over when the run is due; up to 1.75 times this for the jobs an instance prefers (see
   * `lead`). At most half the time since the job's previous tick. Default 0: at the tick.
   */
  claimAheadMs: number;
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
 * per tick. A won lease is held by what runs under it — the run, runs held back, a waiting retry —
 * renewed by heartbeats while anything holds it, and released when nothing does. Leases that run
 * out are taken over (at-least-once) or given up (at-most-once). While the store cannot be
 * reached, ticks are reported missed — one `store.unavailable` event per outage — and the store is
 * tried again with backoff.
 */
export class Claims {
  private pending: PendingClaim[] = [];
  private releases: Lease[] = [];
  private flushing = false;
  /**
   * The jobs that hold leases. Each keeps its own (`job.holds`: fencing token, count, token,
   * count…, rarely more than one lease), where a tick finds it without a lookup. A count of 0 is
   * a free slot: the array is used again for the job's next lease, and let go at a heartbeat.
   */
  private readonly held = new Set<Job>();
  private downSince: number | null = null;
  private retryAt = 0;
  private backoffMs = 0;
  private timers: TimerHandle[] = [];
  /** Stopped: calls still out fail quietly (the store is being closed), they are no outage. */
  private stopped = true;
  private readonly instanceHash: number;

  constructor(
    readonly store: JobStore,
    private readonly instanceId: string,
    private readonly clock: Clock,
    private readonly events: EventHub,
    private readonly host: ClaimsHost,
    private readonly timing: ClaimsTiming,
  ) {
    this.instanceHash = Math.imul(fnv1a(instanceId), 0x85ebca6b);
  }

  /** Whether the job's ticks are claimed: a shared store, and a job not scoped to the instance. */
  guards(job: Job): boolean {
    return this.store.shared && job.options.scope === 'cluster';
  }

  /**
   * How long before `tick` a tick of `job` is claimed: `claimAheadMs`, or up to three quarters
   * more. How much more is a hash of the job, the instance and the tick, different on each
   * instance: each claims a different part of the jobs first, so that the runs of one tick are
   * shared out among the instances instead of all going to the quickest, and a different part at
   * each tick, so that every instance gets its turn even with few jobs.
   */
  lead(job: Job, tick: number): number {
    if (job.nameHash < 0) job.nameHash = fnv1a(job.name);
    const preference = mix(job.nameHash ^ this.instanceHash ^ Math.imul((tick % 0x1_0000_0000) | 0, 0x9e3779b1)) % 4;
    return this.timing.claimAheadMs * (1 + preference / 4);
  }

  /** Starts the heartbeats and the lease sweeps. */
  start(): void {
    const { leaseMs, syncEveryMs } = this.timing;
    this.stopped = false;
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
    for (const timer of this.timers) this.clock.clearTimer(timer);
    this.timers = [];
    this.stopped = true;
    const releases = this.releases.splice(0);
    if (releases.length > 0) await this.call(() => this.store.release(releases)).catch(() => undefined);
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

  /**
   * Something begins (+1) or ends (-1) holding the lease `fencingToken` of `job`; with 0, a lease
   * won but not used. The lease is released once nothing holds it.
   */
  hold(job: Job, fencingToken: number, change: 1 | -1 | 0): void {
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
      void this.call(() => this.store.release(releases)).catch(() => this.releases.push(...releases));
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
    if (this.downSince === null || this.clock.now() >= this.retryAt) {
      outcomes = await this.call(
        () => this.store.claim(this.instanceId, claims),
        // A claim answered after its time limit was reported unclaimed: give back what it won.
        (late) => late.forEach((outcome, index) => outcome.status === 'won' && this.hold(asks[index].job, outcome.fencingToken, 0)),
      ).catch(() => null);
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
    const renewed = await this.call(() => this.store.renew(this.instanceId, leases, this.timing.leaseMs)).catch(() => null);
    renewed?.forEach((stillHeld, index) => {
      if (stillHeld) return;
      const { job: name, fencingToken } = leases[index];
      const job = this.host.job(name);
      // Only an exclusive run is another's once its lease is: runs that may overlap share the slot.
      if (job && job.options.overlap !== 'allow') this.host.abortLease(job, fencingToken);
    });
  }

  private async sweep(): Promise<void> {
    const swept = await this.call(() => this.store.recover(this.instanceId, this.timing.leaseMs)).catch(() => null);
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

  /**
   * Calls the store with a time limit. The first failure of an outage emits `store.unavailable`
   * and backs off (100 ms, doubling to 5 s) before claims are tried again; the first success
   * after it emits `store.recovered`. `late` gets the result of a call that answered after its
   * time limit.
   */
  private async call<T>(operation: () => Promise<T>, late?: (result: T) => void): Promise<T> {
    let timer: TimerHandle | undefined;
    let timedOut = false;
    const running = operation();
    try {
      const result = await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimer(
            () => {
              timedOut = true;
              reject(new Error(`no answer within ${this.timing.timeoutMs} ms`));
            },
            this.timing.timeoutMs,
            { unref: true },
          );
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
      if (timedOut && late) running.then(late, () => undefined);
      if (this.stopped) throw error;
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
