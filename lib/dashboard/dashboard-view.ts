import { JobInfo, RunOutcome } from '../engine/job';
import { JobScope } from '../engine/job-options';
import { TriggerKind } from '../triggers/trigger';
import { RunHistoryEntry } from './run-source';
import { triggerWords } from './trigger-words';

/** A job as the dashboard's API returns it (`GET {path}/api/jobs`). Dates are ISO 8601 strings in JSON. */
export interface DashboardJob {
  name: string;
  kind: TriggerKind;
  trigger: {
    /** The trigger as `JobInfo.trigger` gives it, e.g. `cron "0 6 * * 1-5" (UTC)`. */
    text: string;
    /** In words, e.g. `at 06:00 on weekdays`; the expression as written when it has no simple reading. */
    summary: string;
    /** The exact trigger, e.g. `0 6 * * 1-5 · UTC`. */
    detail: string;
  };
  /** What the job runs, e.g. `ReportsService.nightly`, when known. */
  target: string | null;
  scope: JobScope;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastOutcome: RunOutcome | null;
  /** Runs in flight on this instance. */
  running: number;
  /** Runs started on this instance so far. */
  runs: number;
  paused: boolean;
  completed: boolean;
  /**
   * Whether removing it here removes it for every instance: without a shared store, for a job of
   * this instance alone (`scope: 'instance'`), or for a job kept in the store (`persist: true`).
   * A job the code of every instance defines is not removed from the dashboard in a cluster: the
   * others would go on running it. Pause it instead.
   */
  removable: boolean;
}

/** One job with its last runs (`GET {path}/api/jobs/:name`), newest first. */
export interface DashboardJobDetail extends DashboardJob {
  history: RunHistoryEntry[];
}

/**
 * A job's snapshot as the dashboard shows it; its last run is `last` when that is newer than the
 * snapshot's (in a cluster, a run another instance made).
 */
export function jobView(info: JobInfo, sharedStore: boolean, last?: RunHistoryEntry): DashboardJob {
  const newer = last !== undefined && (info.lastRunAt === null || last.startedAt.getTime() > info.lastRunAt.getTime());
  const target = info.meta.target;
  return {
    name: info.name,
    kind: info.kind,
    trigger: { text: info.trigger, ...triggerWords(info.trigger) },
    // A function given to addJob says only `handler`: nothing worth showing.
    target: typeof target === 'string' && target !== 'handler' ? target : null,
    scope: info.options.scope,
    nextRunAt: info.nextRunAt,
    lastRunAt: newer ? last.startedAt : info.lastRunAt,
    lastOutcome: newer ? last.outcome : info.lastOutcome,
    running: info.running,
    runs: info.runs,
    paused: info.paused,
    completed: info.completed,
    removable: !sharedStore || info.options.scope === 'instance' || info.meta.persisted === true,
  };
}

/** Runs newest first (by start), at most `limit`. */
export function newestFirst(entries: RunHistoryEntry[], limit: number): RunHistoryEntry[] {
  return [...entries].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime()).slice(0, limit);
}
