import { SchedulerEventType } from '../events';
import { errorMessage, StoreUnavailableError } from '../errors';
import { Scheduler } from './scheduler';

/** Where the scheduler's own log lines go: NestJS's `Logger`, `console`, or anything alike. */
export interface SchedulerLogger {
  error(message: string, ...rest: unknown[]): unknown;
  warn(message: string, ...rest: unknown[]): unknown;
  debug?(message: string, ...rest: unknown[]): unknown;
}

const LOGGED: readonly SchedulerEventType[] = [
  'run.failed',
  'run.timed-out',
  'run.skipped',
  'run.missed',
  'run.lost',
  'job.rejected',
  'job.superseded',
  'store.unavailable',
  'store.recovered',
  'history.dropped',
  'clock.skewed',
  'scheduler.stopped',
];

/**
 * Logs what needs a human's attention, from the event stream: failed, timed-out and lost runs,
 * missed ticks, rejected stored jobs, a store outage (once per outage, not once per tick),
 * shutdowns that gave up on runs, and runs skipped because the previous one is still going (once
 * per streak: a job stuck for an hour on a one-second schedule logs once, not 3,600 times).
 * Returns the function that stops logging.
 */
export function logEvents(scheduler: Scheduler, logger: SchedulerLogger): () => void {
  return scheduler.on((event) => {
    switch (event.type) {
      case 'run.failed': {
        const retry = event.willRetry ? '; it will be retried' : '';
        const stack = event.error instanceof Error ? event.error.stack : undefined;
        logger.error(`Job "${event.job}" failed (attempt ${event.attempt})${retry}: ${errorMessage(event.error)}`, stack);
        break;
      }
      case 'run.timed-out':
        logger.error(
          `Job "${event.job}" timed out after ${event.timeoutMs} ms (attempt ${event.attempt}); its signal was aborted${event.willRetry ? '; it will be retried' : ''}.`,
        );
        break;
      case 'run.skipped':
        if (event.reason === 'paused') {
          logger.debug?.(`Job "${event.job}" dropped a held-back run (attempt ${event.attempt}): it is paused.`);
        } else if (event.consecutive === 1) {
          logger.warn(`Job "${event.job}" skipped the tick of ${event.scheduledAt.toISOString()}: its previous run is still going (overlap: 'skip').`);
        } else {
          logger.debug?.(`Job "${event.job}" skipped the tick of ${event.scheduledAt.toISOString()}: still running (${event.consecutive} ticks in a row).`);
        }
        break;
      case 'run.missed':
        // Ticks that could not be claimed are covered by the one store.unavailable line of the outage.
        if (event.reason === 'unclaimed') break;
        logger.warn(
          `Job "${event.job}" missed ${event.truncated ? 'more than ' : ''}${event.count} tick${event.count === 1 ? '' : 's'} (from ${event.scheduledAt.toISOString()}, found ${event.lateByMs} ms late).`,
        );
        break;
      case 'run.lost':
        logger.warn(
          `Job "${event.job}" lost its run of ${event.scheduledAt.toISOString()} (attempt ${event.attempt}): instance ${event.owner} stopped renewing its lease. With delivery 'at-most-once' it is not run again.`,
        );
        break;
      case 'job.rejected':
        logger.error(`Stored job "${event.job}" was not loaded: ${event.reason}`);
        break;
      case 'job.superseded':
        logger.warn(
          `Job "${event.job}" is defined here as ${event.trigger}, but another instance registered it since as ${event.storedTrigger}: the newest definition runs, so this instance stops claiming its ticks. Two versions of the application disagree (a rolling deploy?).`,
        );
        break;
      case 'store.unavailable':
        logger.error(
          `The job store (${event.store}) cannot be reached: ${storeProblem(event.error)}. Ticks are reported missed until it is back; retrying with backoff.`,
        );
        break;
      case 'store.recovered':
        logger.warn(`The job store (${event.store}) is back after ${event.downMs} ms; claiming resumed.`);
        break;
      case 'history.dropped':
        logger.warn(
          `${event.count} record${event.count === 1 ? '' : 's'} of finished runs did not reach the job store's run history (${event.reason === 'stopped' ? 'the scheduler stopped first' : 'it could not be reached, and no more wait'}); each run is still in its job's local history.`,
        );
        break;
      case 'clock.skewed':
        logger.warn(
          `This instance's clock is ${Math.abs(event.offsetMs)} ms ${event.offsetMs > 0 ? 'ahead of' : 'behind'} the job store's: cron ticks follow the local clock, leases the store's. Keep the clocks in sync (NTP).`,
        );
        break;
      case 'scheduler.stopped':
        if (event.abandoned.length > 0) {
          logger.warn(`Shutdown timeout of ${scheduler.shutdownTimeout} ms reached; still running: ${event.abandoned.join(', ')}.`);
        }
        break;
    }
  }, LOGGED);
}

/** What went wrong with the store, without repeating its name. */
function storeProblem(error: unknown): string {
  return error instanceof StoreUnavailableError && error.detail ? error.detail : errorMessage(error);
}
