import { Module, Injectable } from '@nestjs/common';
import { Cron, CronExpression, JobContext, ScheduleModule } from 'nestjs-metronome';

// README: the example at the top.

@Injectable()
export class ReportsService {
  @Cron(CronExpression.EVERY_DAY_AT_1AM, { timeZone: 'Europe/London' })
  async nightly({ scheduledAt, signal }: JobContext) {
    await this.build(scheduledAt, { signal });
  }

  /** Reports built, by the tick they are for. */
  readonly built: string[] = [];

  private async build(since: Date, { signal }: { signal: AbortSignal }): Promise<void> {
    if (!signal.aborted) this.built.push(since.toISOString());
  }
}

@Module({ imports: [ScheduleModule.forRoot()], providers: [ReportsService] })
export class AppModule {}
