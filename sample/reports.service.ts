import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression, Interval, JobContext, Timeout } from 'nestjs-metronome';

/** Decorated jobs: a cron job in a time zone, an interval, a one-off timeout. */
@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);

  /** Every 10 seconds, read in Paris time; the context says which tick this run is for. */
  @Cron('*/10 * * * * *', { name: 'report', timeZone: 'Europe/Paris' })
  report({ scheduledAt }: JobContext) {
    this.logger.log(`report for the tick of ${scheduledAt.toISOString()}`);
  }

  /**
   * Every 7 seconds a job that takes 4 seconds and listens to its abort signal: stop the sample
   * while it runs to see the graceful shutdown wait for it.
   */
  @Interval('export', 7_000)
  async export({ signal }: JobContext) {
    this.logger.log('export started');
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    this.logger.log(signal.aborted ? 'export finished after the shutdown signal' : 'export finished');
  }

  /** Once, three seconds after start. */
  @Timeout('warm-up', 3_000)
  warmUp() {
    this.logger.log('caches warmed up');
  }

  /** The peer's ready-made expressions work as they are. */
  @Cron(CronExpression.EVERY_MINUTE, { name: 'minutely' })
  minutely() {
    this.logger.log('a minute went by');
  }
}
