import { ClaimDecision, Coordinator } from './coordinator';
import { EventHub } from './event-hub';
import { Job, PendingRun } from './job';
import { Runner } from './runner';
import { StartBatches } from './start-batches';
import { countTicks, lastTicks, lastTickUpTo } from './ticks';

/** The ticks of a job that a wake-up found due. */
export interface DueTicks {
  /** The wake-up's time. */
  now: number;
  /** The first tick due. */
  first: number;
  /** The last tick due: the one that runs, unless the misfire policy says otherwise. */
  latest: number;
  /** The last tick found later than `misfire.graceMs`, or `null` when none was: the missed ones run from `first` to it. */
  lastMissed: number | null;
  /** When the run of `latest` may start: its due time, or now if that has passed. */
  runAt: number;
  /** Under misfire `'all'`, the missed ticks that run one after another (see {@link MisfirePolicy.firstToRun}). */
  catchUp?: number[];
}

/**
 * Finds the ticks of `job` due by `now` and moves `job.nextTick` past them. Returns `null` when
 * none is due (a job woken ahead of its tick plans as of its due time). Nothing here walks the
 * ticks one by one: after a long suspension there may be millions.
 */
export function takeDueTicks(job: Job, now: number): DueTicks | null {
  const { misfire, endAt } = job.options;
  const { trigger, anchor } = job;
  const first = job.nextTick!;
  // The first tick is due at its wake-up time (jitter included); later ones at the tick itself.
  const firstDueAt = Math.max(job.dueAt, first);
  const horizon = Math.max(now, firstDueAt);
  const last = endAt === null ? horizon : Math.min(horizon, endAt);
  if (first > last) {
    job.nextTick = trigger.next(last, anchor);
    return null;
  }
  // Usually one tick is due: the one after it is already the next (and is the same answer for
  // every job on the same schedule). Otherwise, a search.
  const following = trigger.next(first, anchor);
  const latest = following === null || following > last ? first : lastTickUpTo(trigger, anchor, following, last);
  job.nextTick = latest === first ? following : trigger.next(latest, anchor);
  const firstMissed = now - firstDueAt > misfire.graceMs;
  const lastMissed = firstMissed ? lastTickUpTo(trigger, anchor, first, Math.min(latest, Math.max(first, now - misfire.graceMs))) : null;
  return { now, first, latest, lastMissed, runAt: latest === first ? firstDueAt : now };
}

/** What {@link MisfirePolicy} acts through. */
export interface MisfireHost {
  /** False once shutdown began. */
  running(): boolean;
  coordinator(job: Job): Coordinator;
  /** The job ran its `maxRuns` times (counted across the cluster): it completes. */
  complete(job: Job): void;
}

/**
 * Runs the ticks a wake-up found due, once the coordinator said whose they are: reports missed
 * ticks (one `run.missed` event), then runs by the job's misfire policy — `skip` the latest tick
 * only if it is on time, `once` the latest, `all` each missed tick (the most recent `maxCatchUp`)
 * one after another, then the on-time ones as one. Several on-time ticks coalesce into one run.
 */
export class MisfirePolicy {
  constructor(
    private readonly runner: Runner,
    private readonly starts: StartBatches,
    private readonly events: EventHub,
    private readonly host: MisfireHost,
  ) {}

  /**
   * The first tick that runs of those due: under misfire `'all'` with ticks missed, the oldest
   * catch-up run (the list is kept in `due` for {@link carryOut}); else the latest. A claim covers
   * the ticks from it, so that a run taken over runs them all.
   */
  firstToRun(job: Job, due: DueTicks): number {
    const { misfire } = job.options;
    if (misfire.policy !== 'all' || due.lastMissed === null) return due.latest;
    due.catchUp = lastTicks(job.trigger, job.anchor, due.first, due.lastMissed, misfire.maxCatchUp);
    return due.catchUp[0] ?? due.latest;
  }

  carryOut(job: Job, due: DueTicks, decision: ClaimDecision): void {
    const { now, first, latest, lastMissed, runAt } = due;
    const coordinator = this.host.coordinator(job);
    if (job.removed || !this.host.running()) {
      if (decision.outcome !== 'won') return;
      // Won while shutting down: handed back for another instance; for a removed job, not needed.
      if (!job.removed) coordinator.handBack(job, decision.fencingToken, { tick: latest, from: due.catchUp?.[0] ?? latest, attempt: 1 });
      return coordinator.hold(job, decision.fencingToken, 0);
    }
    if (decision.outcome === 'unclaimed') return this.reportMissed(job, now, first, latest, 'unclaimed');
    if (lastMissed !== null) this.reportMissed(job, now, first, lastMissed, 'late');
    if (decision.outcome === 'busy') return this.runner.skip(job, { scheduledAt: latest, attempt: 1 }, 'overlap');
    // Kept in the store: the run holding the job's lease hands it on when it ends, here or elsewhere.
    if (decision.outcome === 'queued') return;
    if (decision.outcome === 'completed') {
      this.host.complete(job);
      return this.runner.skip(job, { scheduledAt: latest, attempt: 1 }, 'completed');
    }
    const { fencingToken } = decision;
    const { misfire } = job.options;
    const latestOnTime = latest !== lastMissed;
    if (misfire.policy === 'all' && lastMissed !== null && !(job.busy && job.options.overlap === 'skip')) {
      const ticks = due.catchUp ?? lastTicks(job.trigger, job.anchor, first, lastMissed, misfire.maxCatchUp);
      if (latestOnTime) ticks.push(latest);
      this.runAll(job, ticks, 1, fencingToken);
    } else if (misfire.policy !== 'skip' || latestOnTime) {
      this.starts.start(job, latest, fencingToken, runAt, now, 1, decision.started !== false);
    } else {
      coordinator.hold(job, fencingToken, 0);
    }
  }

  /**
   * Runs what this instance took over in the store: the ticks from `from` to `tick` of a run whose
   * lease ran out (at-least-once), or that a stopping instance handed back. One tick runs at once,
   * or at its time if that is still to come (handed back before it); several run one after another.
   */
  runTakenOver(job: Job, { tick, from, attempt, fencingToken }: { tick: number; from: number; attempt: number; fencingToken: number }, now: number): void {
    if (from >= tick) return this.starts.start(job, tick, fencingToken, attempt === 1 ? tick : now, now, attempt);
    const { maxCatchUp } = job.options.misfire;
    this.runAll(job, lastTicks(job.trigger, job.anchor, from, tick, maxCatchUp + 1), attempt, fencingToken);
  }

  private runAll(job: Job, ticks: number[], attempt: number, fencingToken: number | undefined): void {
    const runs = ticks.map((scheduledAt): PendingRun => ({ scheduledAt, attempt, fencingToken }));
    this.runner.enqueue(job, runs, job.options.misfire.maxCatchUp + 1);
  }

  /** One `run.missed` event for the ticks from `first` to `lastMissed`. */
  private reportMissed(job: Job, now: number, first: number, lastMissed: number, reason: 'late' | 'unclaimed'): void {
    if (!this.events.wants('run.missed')) return;
    const { count, truncated } = countTicks(job.trigger, job.anchor, first, lastMissed);
    this.events.emit('run.missed', () => ({
      at: new Date(now),
      job: job.name,
      scheduledAt: new Date(first),
      lastScheduledAt: new Date(lastMissed),
      attempt: 1,
      count,
      truncated,
      lateByMs: now - first,
      reason,
    }));
  }
}
