import type { RunOutcome } from '../engine/job';

/**
 * A finished run, as `SchedulerRegistry.runHistory()` and `RunFeed.runs$()` give it: with a shared
 * store that keeps a run history, the runs of every instance; otherwise this instance's.
 */
export interface RunHistoryEntry {
  job: string;
  /** The id of the instance that ran it (its `instanceId`). */
  instance: string;
  /** The tick it ran for. */
  scheduledAt: Date;
  /** When it started, by its instance's clock. */
  startedAt: Date;
  durationMs: number;
  /** 1 for the first attempt, counting up on retries. */
  attempt: number;
  outcome: RunOutcome;
  /** The error's message, when it failed; at most 500 characters. */
  error?: string;
}
