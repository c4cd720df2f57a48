import { Observable, filter, map } from 'rxjs';
import { errorMessage } from '../errors';
import { RunOutcome } from '../engine/job';
import { SchedulerEvent } from '../events';
import { SchedulerRegistry } from '../registry/scheduler.registry';

/** One finished run, as the dashboard shows it: which job, on which instance, when, how long and how it went. */
export interface RunHistoryEntry {
  job: string;
  /** The `instanceId` of the instance that ran it. */
  instance: string;
  /** The instant the run was scheduled for. */
  scheduledAt: Date;
  startedAt: Date;
  durationMs: number;
  /** 1 for the first attempt, counting up on retries. */
  attempt: number;
  outcome: RunOutcome;
  /** The error's message, when the run failed. */
  error?: string;
}

/**
 * Where the dashboard reads finished runs: the last runs of a job, and each run as it finishes.
 * Provided under {@link DASHBOARD_RUN_SOURCE}; the default, {@link LocalRunSource}, knows the runs
 * of this instance.
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
 * The runs of this instance: a job's history as its snapshot keeps it (`registry.getJob(name).history`)
 * and its runs as `events$` reports them.
 */
export class LocalRunSource implements DashboardRunSource {
  constructor(
    private readonly registry: SchedulerRegistry,
    /** The `instanceId` the entries carry. */
    private readonly instance: string,
  ) {}

  history(name: string, limit: number): Promise<RunHistoryEntry[]> {
    try {
      const { history } = this.registry.getJob(name);
      const entries = history.slice(Math.max(0, history.length - limit)).map((record) => ({ job: name, instance: this.instance, ...record }));
      return Promise.resolve(entries.reverse());
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  runs$(): Observable<RunHistoryEntry> {
    return this.registry.events$.pipe(
      map((event) => runEntry(event, this.instance)),
      filter((entry): entry is RunHistoryEntry => entry !== undefined),
    );
  }
}

/** The finished run an event reports, as a history entry; `undefined` for an event that reports none. */
export function runEntry(event: SchedulerEvent, instance: string): RunHistoryEntry | undefined {
  const at = event.at.getTime();
  switch (event.type) {
    case 'run.succeeded':
      return {
        job: event.job,
        instance,
        scheduledAt: event.scheduledAt,
        startedAt: new Date(at - event.durationMs),
        durationMs: event.durationMs,
        attempt: event.attempt,
        outcome: 'succeeded',
      };
    case 'run.failed':
      return {
        job: event.job,
        instance,
        scheduledAt: event.scheduledAt,
        startedAt: new Date(at - event.durationMs),
        durationMs: event.durationMs,
        attempt: event.attempt,
        outcome: 'failed',
        error: errorMessage(event.error),
      };
    case 'run.timed-out':
      return {
        job: event.job,
        instance,
        scheduledAt: event.scheduledAt,
        startedAt: new Date(at - event.timeoutMs),
        durationMs: event.timeoutMs,
        attempt: event.attempt,
        outcome: 'timed-out',
      };
    default:
      return undefined;
  }
}
