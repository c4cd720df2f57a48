import { Observable } from 'rxjs';
import { RunFeed } from '../application/run-feed';
import { RunHistoryEntry } from '../interfaces/run-history.interface';
import { SchedulerRegistry } from '../registry/scheduler.registry';

export type { RunHistoryEntry };

/**
 * Where the dashboard reads finished runs: the last runs of a job, and each run as it finishes.
 * Provided under {@link DASHBOARD_RUN_SOURCE}; the default, {@link RegistryRunSource}, reads the
 * run history: with a shared store that keeps one, the runs of every instance.
 */
export interface DashboardRunSource {
  /** The last `limit` runs of the job, newest first. */
  history(name: string, limit: number): Promise<RunHistoryEntry[]>;
  /** Each run as it finishes. */
  runs$(): Observable<RunHistoryEntry>;
}

/** The injection token of the dashboard's {@link DashboardRunSource}. */
export const DASHBOARD_RUN_SOURCE = Symbol('DASHBOARD_RUN_SOURCE');

/**
 * The run history as the scheduler keeps it: `registry.runHistory()` and `RunFeed.runs$()`. With a
 * shared store that keeps a run history, the runs of every instance, so that the page served by
 * any instance shows the same runs; otherwise this instance's.
 */
export class RegistryRunSource implements DashboardRunSource {
  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly feed: RunFeed,
  ) {}

  history(name: string, limit: number): Promise<RunHistoryEntry[]> {
    return this.registry.runHistory(name, limit);
  }

  runs$(): Observable<RunHistoryEntry> {
    return this.feed.runs$();
  }
}
