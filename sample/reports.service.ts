import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression, Interval, JobContext, JobCtx, JobHandler, Timeout } from 'nestjs-metronome';

/** Decorated jobs, each showing some job options. */
@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);
  private flakyCalls = 0;

  /** Every 10 seconds, read in Paris time; the context says which tick this run is for. */
  @Cron('*/10 * * * * *', { name: 'report', timeZone: 'Europe/Paris', jitterMs: 500 })
  report({ scheduledAt, firedAt }: JobContext) {
    this.logger.log(`report for the tick of ${scheduledAt.toISOString()} (started ${firedAt.getTime() - scheduledAt.getTime()} ms after it: jitter)`);
  }

  /**
   * Every 7 seconds a job that takes 4 seconds and listens to its abort signal: stop the sample
   * while it runs to see the graceful shutdown wait for it. `overlap: 'skip'` is the default.
   */
  @Interval('export', 7_000, { timeoutMs: 6_000 })
  async export({ signal }: JobContext) {
    this.logger.log('export started');
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    this.logger.log(signal.aborted ? 'export finished after the shutdown signal' : 'export finished');
  }

  /** Fails twice, then succeeds: the retries count up in `attempt`. */
  @Interval('flaky', 20_000, { retry: { attempts: 3, backoffMs: 1_000, factor: 2 } })
  flaky({ attempt }: JobContext) {
    if (++this.flakyCalls % 3 !== 0) throw new Error(`flaky failed on attempt ${attempt}`);
    this.logger.log(`flaky succeeded on attempt ${attempt}`);
  }

  /**
   * Once, three seconds after start. A method that does not ask for the context is called with no
   * arguments, as `@nestjs/schedule` calls it: `full` keeps its default.
   */
  @Timeout('warm-up', 3_000)
  warmUp(full = false) {
    this.logger.log(full ? 'all caches warmed up' : 'hot caches warmed up');
  }

  /** The peer's ready-made expressions work as they are; this one runs three times, then completes. */
  @Cron(CronExpression.EVERY_MINUTE, { name: 'minutely', maxRuns: 3 })
  minutely() {
    this.logger.log('a minute went by');
  }

  /**
   * A method that jobs added at run time may call, by class and handler name, with JSON arguments.
   * It asks for its context with `@JobCtx()` (typing the parameter `JobContext` does the same); a
   * handler that does not ask gets only the arguments.
   */
  @JobHandler('cleanup')
  cleanUp(@JobCtx() { attempt }: JobContext, olderThanDays: number) {
    this.logger.log(`cleaning up what is older than ${olderThanDays} days (attempt ${attempt})`);
  }
}
