import type { FinishedRun } from '../stores/job-store';
import { Job } from './job';
import { LearnedLead } from './start-batches';

/** What became of a tick asked of the coordinator. */
export type ClaimDecision =
  /**
   * The tick is this instance's to run; in a cluster, under the lease `fencingToken`. `started:
   * false`: the tick was claimed ahead, and its run may start only once `Coordinator.begin` says so.
   */
  | { outcome: 'won'; fencingToken?: number; started?: boolean }
  /** This instance took the tick, but a run of the job holds a lease elsewhere: skip it. */
  | { outcome: 'busy' }
  /** The store could not be asked: the tick cannot run (running it unclaimed could run it twice). */
  | { outcome: 'unclaimed' }
  /** The job ran its `maxRuns` times across the cluster: it is complete. */
  | { outcome: 'completed' }
  /** Overlap `'queue'`: a run of the job holds a lease, and the store keeps the tick to run once after it, on whichever instance takes it. */
  | { outcome: 'queued' };

/**
 * Decides whose a job's ticks are. The scheduler computes the ticks and asks; it does not know
 * whether it runs alone or in a cluster. Two implementations: {@link LocalCoordinator} (every
 * tick is this instance's, at once) and `ClusterCoordinator` (ticks claimed in a shared store,
 * runs under leases that heartbeats renew, expired leases taken over).
 */
export interface Coordinator {
  start(): void;
  /** Stops its timers and sends what is still due to the store. */
  stop(): Promise<void>;
  /**
   * Places a job that is being armed: decides where its ticks count from and hands it back to the
   * scheduler (`CoordinatorHost.armAfter`), at once or once the store answered. `from` is now (plus
   * the job's start delay); `fromWatermark` asks to count from the last tick the cluster ran.
   */
  place(job: Job, from: number, fromWatermark: boolean): void;
  /**
   * Asks for `tick` of `job` (a run covering the ticks from `from`, when missed ticks run one after
   * another); `decide` is told the outcome, or nothing if another instance has the tick.
   */
  claim(job: Job, tick: number, from: number, decide: (decision: ClaimDecision) => void): void;
  /**
   * Something begins (+1) or ends (-1) holding the lease `fencingToken` of `job`; with 0, a lease
   * won but not used. Released once nothing holds it. Runs without a lease pass `undefined`.
   */
  hold(job: Job, fencingToken: number | undefined, change: 1 | -1 | 0): void;
  /**
   * How long before a tick due at `at` the job wakes up, to have its bookkeeping done in time: at
   * most `most` ms (half the time since the job's previous tick, so that its run has started by then).
   */
  lead(job: Job, at: number, most: number): number;
  /** A run of `job` started this many ms after its time. */
  startedLate(job: Job, lateMs: number): void;
  /** A run prepared ahead found its job paused when its time came. */
  pausedBeforeStart(job: Job, tick: number, fencingToken: number | undefined): void;
  /**
   * The scheduler stops with work of `job` under the lease `fencingToken` that did not start: the
   * ticks from `from` to `tick`, the first at `attempt`. It is handed back for another instance to
   * run, and the lease is not released when nothing holds it any more. Without a lease, nothing.
   */
  handBack(job: Job, fencingToken: number | undefined, work: { tick: number; from: number; attempt: number }): void;
  /** Whether work under the lease may still start: false once the store said it is another's. */
  owns(job: Job, fencingToken: number | undefined): boolean;
  /**
   * The run of a tick claimed ahead is due (`started: false`): `go(true)` once the store marked its
   * lease started, and only then may it run; `go(false)` if the lease is no longer this instance's
   * (another took the tick over) or the store could not be asked (the work is then handed back).
   */
  begin(job: Job, fencingToken: number, work: { tick: number; from: number; attempt: number }, go: (started: boolean) => void): void;
  /**
   * A run of the job ended (its outcome is known: it settled, or timed out). A coordinator that
   * keeps a run history in the store sends it there; others have none.
   */
  finished?(job: Job, run: EndedRun): void;
}

/** A run that ended, as the scheduler tells its job's coordinator (for a run history the store keeps): its record without the job and instance. */
export type EndedRun = Omit<FinishedRun, 'job' | 'instance'>;

/** How a coordinator reaches back into the scheduler. */
export interface CoordinatorHost {
  /** Queues the job for its first tick after `after`. */
  armAfter(job: Job, after: number): void;
}

const WON: ClaimDecision = Object.freeze({ outcome: 'won' });

/**
 * Every tick is this instance's. Jobs wake a learned lead ahead of their tick: the bookkeeping of
 * a tick is done ahead, so that the run starts on time; learned from the starts that were not
 * ready in time, 0 while everything is (always, on a virtual clock). A tick prepared ahead that
 * falls in a pause is taken up again on resume, by the job's misfire policy.
 */
export class LocalCoordinator implements Coordinator {
  constructor(
    private readonly host: CoordinatorHost,
    private readonly learned: LearnedLead,
  ) {}

  start(): void {}

  stop(): Promise<void> {
    return Promise.resolve();
  }

  place(job: Job, from: number): void {
    const { startAt } = job.options;
    // An interval counts from startAt (the anchor): its first tick is one period after it.
    this.host.armAfter(job, startAt !== null && startAt > from ? startAt - 1 : from);
  }

  claim(_job: Job, _tick: number, _from: number, decide: (decision: ClaimDecision) => void): void {
    decide(WON);
  }

  hold(): void {}

  lead(_job: Job, _at: number, most: number): number {
    return Math.min(this.learned.value, most);
  }

  startedLate(_job: Job, lateMs: number): void {
    this.learned.late(lateMs);
  }

  pausedBeforeStart(job: Job, tick: number): void {
    job.nextTick = Math.min(job.nextTick ?? tick, tick);
  }

  handBack(): void {}

  owns(): boolean {
    return true;
  }

  begin(_job: Job, _fencingToken: number, _work: unknown, go: (started: boolean) => void): void {
    go(true);
  }
}
