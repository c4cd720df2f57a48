import { SchedulerEvent, SchedulerEventType } from '../../events';
import type { RunOutcome } from '../../engine/job';
import type { ObservedRun } from '../../engine/run-observer';

/**
 * The events the metrics count, and those after which a job may be gone (`job.removed`,
 * `job.completed`: see {@link Tallies.retire}): a scheduler builds no other for them. Runs are
 * counted as they end, by a run observer ({@link Tallies.recordRun}), which costs no object per run.
 */
export const TALLIED_EVENTS: readonly SchedulerEventType[] = [
  'run.skipped',
  'run.missed',
  'run.lost',
  'tick.claimed',
  'store.unavailable',
  'job.removed',
  'job.completed',
];

/**
 * What the tallies read of a scheduler counting into them: its jobs, for `runs_in_flight` and to
 * know which jobs still exist. A `Scheduler` is one.
 */
export interface TalliedScheduler {
  /** Names of every job. */
  names(): Iterable<string>;
  /** A job's status, or `undefined` when the scheduler has no such job. */
  status(name: string): { readonly completed: boolean; readonly running: number } | undefined;
}

/** Observations in buckets, as a Prometheus histogram keeps them: each bucket counts the values up to its bound, and above the one before. */
export class HistogramTally {
  /** One count per bound; values above the last are only in {@link count}. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

/** What was counted of one job. */
export class JobTally {
  readonly runs = { succeeded: 0, failed: 0, 'timed-out': 0 };
  readonly duration: HistogramTally;
  readonly lateness: HistogramTally;
  readonly missed = { late: 0, unclaimed: 0 };
  readonly skipped = { overlap: 0, paused: 0, completed: 0 };
  /** The store's answers to claims, by outcome; made on the first (only with a shared store). */
  claims: Map<string, number> | null = null;
  lost = 0;
  /** Runs started and not counted yet (a run is counted when its outcome is known). */
  inFlight = 0;

  constructor(durationBounds: readonly number[], latenessBounds: readonly number[]) {
    this.duration = new HistogramTally(durationBounds);
    this.lateness = new HistogramTally(latenessBounds);
  }
}

/**
 * What the schedulers reporting to one registry counted, by job, in plain numbers: counting an
 * event is a map lookup and an addition, and the registry turns the tallies into metrics only
 * when it is scraped. Shared by every scheduler on the registry (two applications in one process),
 * so their counts add up; each scheduler is counted once however many times it is attached
 * ({@link attach}).
 *
 * A job's counts never decrease while the job exists (but on {@link reset}). Once no attached
 * scheduler has the job, or only completed with no run in flight, and its last run was counted,
 * its tally is forgotten ({@link retire}), so that its series leave the scrape: the `job` label
 * takes the names of the jobs that exist, not of every job there ever was.
 */
export class Tallies {
  readonly jobs = new Map<string, JobTally>();
  /** Outages, by store kind. */
  readonly outages = new Map<string, number>();
  /** The schedulers counting into these tallies, whose runs in flight are read when scraped. */
  readonly schedulers = new Set<TalliedScheduler>();
  /** Jobs whose tally may have to be forgotten: checked as their runs end, and when scraped ({@link prune}). */
  private readonly retiring = new Set<string>();

  constructor(
    readonly durationBounds: readonly number[],
    readonly latenessBounds: readonly number[],
  ) {}

  /**
   * Starts counting into these tallies for `scheduler`. Returns `false`, and does nothing, when it
   * already counts here: the module imported twice in one application makes two providers for the
   * same scheduler, and its runs are counted once.
   */
  attach(scheduler: TalliedScheduler): boolean {
    if (this.schedulers.has(scheduler)) return false;
    this.schedulers.add(scheduler);
    return true;
  }

  /** Stops counting for `scheduler` (its application shut down): what it counted stays. */
  detach(scheduler: TalliedScheduler): void {
    this.schedulers.delete(scheduler);
  }

  /** A run starts: it is in flight until {@link recordRun} counts it, and its job's tally stays until then. */
  recordStart(run: ObservedRun): void {
    this.job(run.name).inFlight++;
  }

  /** Counts a run that ended: its outcome, its duration (if it settled) and, for a first attempt, how late it started. */
  recordRun(run: ObservedRun, outcome: RunOutcome, durationMs: number): void {
    const tally = this.job(run.name);
    if (tally.inFlight > 0) tally.inFlight--;
    tally.runs[outcome]++;
    if (outcome !== 'timed-out') tally.duration.observe(durationMs / 1_000);
    // A retry is late by its backoff, on purpose: only first attempts say how late runs start.
    if (run.attempt === 1) tally.lateness.observe(Math.max(0, run.firedMs - run.scheduledMs) / 1_000);
    if (this.retiring.size > 0 && this.retiring.has(run.name)) this.check(run.name);
  }

  /**
   * A job was removed, or completed (`job.removed`, `job.completed`): its tally is forgotten now if
   * no attached scheduler still has it and its runs were counted, or else once they are.
   */
  retire(name: string): void {
    this.retiring.add(name);
    this.check(name);
  }

  /** Forgets the tallies of the retiring jobs that are gone and have no run left to count: before each read of the metrics. */
  prune(): void {
    for (const name of this.retiring) this.check(name);
  }

  /** Counts an event. */
  record(event: SchedulerEvent): void {
    switch (event.type) {
      case 'job.removed':
      case 'job.completed':
        this.retire(event.job);
        return;
      case 'run.skipped':
        this.job(event.job).skipped[event.reason]++;
        return;
      case 'run.missed':
        this.job(event.job).missed[event.reason] += event.count;
        return;
      case 'run.lost':
        // Any instance's run may be reported lost here, of a job this one may not have: kept.
        this.job(event.job, false).lost++;
        return;
      case 'tick.claimed': {
        const tally = this.job(event.job);
        const claims = (tally.claims ??= new Map());
        claims.set(event.outcome, (claims.get(event.outcome) ?? 0) + 1);
        return;
      }
      case 'store.unavailable':
        this.outages.set(event.store, (this.outages.get(event.store) ?? 0) + 1);
        return;
      default:
        return;
    }
  }

  /** Forgets every count (`registry.resetMetrics()`). */
  reset(): void {
    this.jobs.clear();
    this.outages.clear();
    this.retiring.clear();
  }

  /**
   * The tally of a job, made on its first count. A tally made for a job that no attached scheduler
   * has any more (a run or a claim counted after the job was removed or completed, a retry of a
   * completed job) is checked as it ends too, so that it does not stay for good.
   */
  private job(name: string, checkNew = true): JobTally {
    let tally = this.jobs.get(name);
    if (!tally) {
      this.jobs.set(name, (tally = new JobTally(this.durationBounds, this.latenessBounds)));
      if (checkNew) this.retiring.add(name);
    }
    return tally;
  }

  /**
   * Forgets a retiring job's tally if none of its runs is left to count and no attached scheduler
   * has it but completed and idle; stops watching it if one has it (it is retired again when that
   * one removes it or it completes).
   */
  private check(name: string): void {
    const tally = this.jobs.get(name);
    if (!tally) {
      this.retiring.delete(name);
      return;
    }
    if (tally.inFlight > 0) return;
    for (const scheduler of this.schedulers) {
      const status = scheduler.status(name);
      if (status === undefined) continue;
      if (!status.completed) {
        this.retiring.delete(name);
        return;
      }
      if (status.running > 0) return;
    }
    this.jobs.delete(name);
    this.retiring.delete(name);
  }
}
