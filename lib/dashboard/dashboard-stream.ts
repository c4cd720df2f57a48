import { MessageEvent } from '@nestjs/common';
import { Observable, bufferTime, filter, interval, map, merge } from 'rxjs';
import { SchedulerEvent, SchedulerEventType } from '../events';
import { RunHistoryEntry } from './run-source';

/** The events that change what the page shows of a job. */
const JOB_CHANGES: ReadonlySet<SchedulerEventType> = new Set<SchedulerEventType>([
  'job.added',
  'job.removed',
  'job.paused',
  'job.resumed',
  'job.rescheduled',
  'job.completed',
  'job.superseded',
  'run.started',
  'run.succeeded',
  'run.failed',
  'run.timed-out',
  'run.skipped',
  'run.missed',
  'run.lost',
]);

/** How the stream groups what happens, so that a busy scheduler sends a few events a second, not thousands. */
export interface StreamTiming {
  /** How long changes are gathered into one event, in ms. Default 250. */
  batchMs?: number;
  /** How often a `ping` keeps the connection open through proxies, in ms. Default 20,000. */
  pingMs?: number;
  /** The most job names one `jobs` event lists; past it, `all: true` tells the page to reload the list. Default 50. */
  maxNames?: number;
  /** The most runs one `runs` event carries (the latest); the others are counted in `dropped`. Default 50. */
  maxRuns?: number;
}

/** `jobs`: jobs that changed (`names`), or so many that the page should reload them all (`all`). */
export interface JobsMessage {
  names: string[];
  all: boolean;
}

/** `runs`: runs that finished, oldest first, and how many more finished that are not listed. */
export interface RunsMessage {
  entries: RunHistoryEntry[];
  dropped: number;
}

/**
 * The dashboard's event stream (`GET {path}/api/events`), as server-sent events:
 * - `jobs` ({@link JobsMessage}): jobs that were added, removed, paused, resumed, rescheduled, or
 *   whose runs started or ended, gathered over `batchMs`;
 * - `runs` ({@link RunsMessage}): runs that finished, from the run source (every instance's, when
 *   the source covers them);
 * - `ping`: every `pingMs`, to keep the connection open.
 */
export function dashboardStream(events$: Observable<SchedulerEvent>, runs$: Observable<RunHistoryEntry>, timing: StreamTiming = {}): Observable<MessageEvent> {
  const { batchMs = 250, pingMs = 20_000, maxNames = 50, maxRuns = 50 } = timing;
  const jobs = events$.pipe(
    filter((event): event is Extract<SchedulerEvent, { job: string }> => JOB_CHANGES.has(event.type)),
    map((event) => event.job),
    bufferTime(batchMs),
    filter((names) => names.length > 0),
    map((names): MessageEvent => {
      const unique = [...new Set(names)];
      const data: JobsMessage = unique.length > maxNames ? { names: [], all: true } : { names: unique, all: false };
      return { type: 'jobs', data };
    }),
  );
  const runs = runs$.pipe(
    bufferTime(batchMs),
    filter((entries) => entries.length > 0),
    map((entries): MessageEvent => {
      const data: RunsMessage = { entries: entries.slice(-maxRuns), dropped: Math.max(0, entries.length - maxRuns) };
      return { type: 'runs', data };
    }),
  );
  const pings = interval(pingMs).pipe(map((): MessageEvent => ({ type: 'ping', data: '' })));
  return merge(jobs, runs, pings);
}
