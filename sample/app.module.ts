import { Module } from '@nestjs/common';
import { ScheduleModule } from 'nestjs-metronome';
import { DynamicJobs } from './dynamic-jobs.service';
import { ReportsService } from './reports.service';

@Module({
  imports: [
    ScheduleModule.forRoot({
      shutdownTimeout: 15_000,
      // Options every job gets, under its own.
      defaults: { misfire: { graceMs: 2_000, policy: 'once' } },
      workers: 2,
    }),
  ],
  providers: [ReportsService, DynamicJobs],
})
export class AppModule {}
