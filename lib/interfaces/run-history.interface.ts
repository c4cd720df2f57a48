import type { RunRecord } from '../engine/job';

/**
 * A finished run, as `SchedulerRegistry.runHistory()` and `RunFeed.runs$()` give it: a job's
 * {@link RunRecord} with the job and the instance that ran it. With a shared store that keeps a run
 * history, the runs of every instance; otherwise this instance's. An error's message is at most 500
 * characters.
 */
export interface RunHistoryEntry extends RunRecord {
  job: string;
  /** The id of the instance that ran it (its `instanceId`). */
  instance: string;
}
