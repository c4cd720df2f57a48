import { Module } from '@nestjs/common';
import { RedisJobStore, ScheduleModule } from 'nestjs-metronome';
import { DynamicJobs } from './dynamic-jobs.service';
import { ReportsService } from './reports.service';

/** With METRONOME_STORE=redis (as `npm run sample:cluster` sets), the instances share Redis: each tick runs once among them. */
const store =
  process.env.METRONOME_STORE === 'redis'
    ? new RedisJobStore({ url: process.env.METRONOME_REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: 'metronome-sample:' })
    : undefined;

@Module({
  imports: [
    ScheduleModule.forRoot({
      shutdownTimeout: 15_000,
      // Options every job gets, under its own.
      defaults: { misfire: { graceMs: 2_000, policy: 'once' } },
      workers: 2,
      store,
      instanceId: process.env.INSTANCE,
    }),
  ],
  providers: [ReportsService, DynamicJobs],
})
export class AppModule {}
