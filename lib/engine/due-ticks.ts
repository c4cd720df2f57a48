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

  carryOut(job: Job, due: DueTicks, decision: ClaimDecision): void {
    const { now, first, latest, lastMissed, runAt } = due;
    const coordinator = this.host.coordinator(job);
    if (job.removed || !this.host.running()) {
      // Removed (or shutting down) while the store answered: a lease won for it is not needed.
      if (decision.outcome === 'won') coordinator.hold(job, decision.fencingToken, 0);
      return;
    }
    if (decision.outcome === 'unclaimed') return this.reportMissed(job, now, first, latest, 'unclaimed');
    if (lastMissed !== null) this.reportMissed(job, now, first, lastMissed, 'late');
    if (decision.outcome === 'busy') return this.runner.skip(job, { scheduledAt: latest, attempt: 1 }, 'overlap');
    const { fencingToken } = decision;
    const { misfire } = job.options;
    const latestOnTime = latest !== lastMissed;
    if (misfire.policy === 'all' && lastMissed !== null && !(job.busy && job.options.overlap === 'skip')) {
      const ticks = lastTicks(job.trigger, job.anchor, first, lastMissed, misfire.maxCatchUp);
      if (latestOnTime) ticks.push(latest);
      const runs = ticks.map((scheduledAt): PendingRun => ({ scheduledAt, attempt: 1, fencingToken }));
      this.runner.enqueue(job, runs, misfire.maxCatchUp + 1);
    } else if (misfire.policy !== 'skip' || latestOnTime) {
      this.starts.start(job, latest, fencingToken, runAt, now);
    } else {
      coordinator.hold(job, fencingToken, 0);
    }
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
