import { SchedulerEvent, SchedulerEventType } from '../../events';
import type { RunOutcome } from '../../engine/job';
import type { ObservedRun } from '../../engine/run-observer';

/**
 * The events the metrics count: a scheduler builds no other for them. Runs are counted as they
 * end, by a run observer ({@link Tallies.recordRun}), which costs no object per run.
 */
export const TALLIED_EVENTS: readonly SchedulerEventType[] = ['run.skipped', 'run.missed', 'run.lost', 'tick.claimed', 'store.unavailable'];

/** Reads the runs in flight of one scheduler: for each job, how many. */
export type RunningRuns = () => Iterable<readonly [job: string, running: number]>;

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

  constructor(durationBounds: readonly number[], latenessBounds: readonly number[]) {
    this.duration = new HistogramTally(durationBounds);
    this.lateness = new HistogramTally(latenessBounds);
  }
}

/**
 * What the schedulers reporting to one registry counted, by job, in plain numbers: counting an
 * event is a map lookup and an addition, and the registry turns the tallies into metrics only
 * when it is scraped. Shared by every scheduler on the registry (two applications in one process),
 * so their counts add up; never decreases, but on {@link reset}.
 */
export class Tallies {
  readonly jobs = new Map<string, JobTally>();
  /** Outages, by store kind. */
  readonly outages = new Map<string, number>();
  /** The schedulers whose runs in flight are read when scraped. */
  readonly running = new Set<RunningRuns>();

  constructor(
    readonly durationBounds: readonly number[],
    readonly latenessBounds: readonly number[],
  ) {}

  /** Counts a run that ended: its outcome, its duration (if it settled) and, for a first attempt, how late it started. */
  recordRun(run: ObservedRun, outcome: RunOutcome, durationMs: number): void {
    const tally = this.job(run.name);
    tally.runs[outcome]++;
    if (outcome !== 'timed-out') tally.duration.observe(durationMs / 1_000);
    // A retry is late by its backoff, on purpose: only first attempts say how late runs start.
    if (run.attempt === 1) tally.lateness.observe(Math.max(0, run.firedMs - run.scheduledMs) / 1_000);
  }

  /** Counts an event. */
  record(event: SchedulerEvent): void {
    switch (event.type) {
      case 'run.skipped':
        this.job(event.job).skipped[event.reason]++;
        return;
      case 'run.missed':
        this.job(event.job).missed[event.reason] += event.count;
        return;
      case 'run.lost':
        this.job(event.job).lost++;
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
  }

  private job(name: string): JobTally {
    let tally = this.jobs.get(name);
    if (!tally) this.jobs.set(name, (tally = new JobTally(this.durationBounds, this.latenessBounds)));
    return tally;
  }
}
