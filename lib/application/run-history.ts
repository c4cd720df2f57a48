import { errorMessage, InvalidScheduleError } from '../errors';
import { JobInfo, JobStatus } from '../engine/job';
import { RunHistoryEntry } from '../interfaces/run-history.interface';
import { boundedRun, FinishedRun, JobStore } from '../stores/job-store';

/**
 * Whether the runs of a job are kept in the store's run history, where every instance reads them:
 * a cluster-wide job, on a shared store that keeps one (`historySize` above 0).
 */
export function historyInStore(store: JobStore, job: Pick<JobStatus, 'scope'>): boolean {
  return store.shared && (store.historySize ?? 0) > 0 && typeof store.runHistory === 'function' && job.scope === 'cluster';
}

/** Whether the store has a feed of the runs every instance records (see `JobStore.runsSince`). */
export function feedInStore(store: JobStore): boolean {
  return store.shared && (store.historySize ?? 0) > 0 && typeof store.runsSince === 'function';
}

/** A run record of the store, as the public API gives it. */
export function historyEntry(run: FinishedRun): RunHistoryEntry {
  const entry: RunHistoryEntry = {
    job: run.job,
    instance: run.instance,
    scheduledAt: new Date(run.scheduledAt),
    startedAt: new Date(run.startedAt),
    durationMs: run.durationMs,
    attempt: run.attempt,
    outcome: run.outcome,
  };
  if (run.error !== undefined) entry.error = run.error;
  return entry;
}

/** The last `limit` runs of a job's local history (`JobInfo.history`, oldest first), newest first, as made by `instance`. */
export function localHistory(info: JobInfo, instance: string, limit: number): RunHistoryEntry[] {
  return info.history
    .slice(-limit)
    .reverse()
    .map((record) => ({ job: info.name, instance, ...record }));
}

/** A run of this instance, from the fields of its event, as the store would keep it (the error's text bounded). */
export function ownRun(
  job: string,
  instance: string,
  fields: { scheduledAt: Date; attempt: number; startedAt: number; durationMs: number; outcome: FinishedRun['outcome']; error?: unknown },
): RunHistoryEntry {
  const run: FinishedRun = {
    job,
    instance,
    scheduledAt: fields.scheduledAt.getTime(),
    startedAt: fields.startedAt,
    durationMs: fields.durationMs,
    attempt: fields.attempt,
    outcome: fields.outcome,
  };
  if (fields.outcome === 'failed') run.error = errorMessage(fields.error);
  return historyEntry(boundedRun(run));
}

/** Checks the `limit` of `runHistory`: a whole number, 1 or more. */
export function assertHistoryLimit(job: string, limit: unknown): void {
  if (limit !== undefined && !(typeof limit === 'number' && Number.isInteger(limit) && limit >= 1)) {
    throw new InvalidScheduleError(job, 'limit', limit, 'must be a whole number, 1 or more (the number of runs to return).');
  }
}
