import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import {
  RedisJobStore,
  ScheduleDashboardModule,
  ScheduleMetricsModule,
  ScheduleModule,
  ScheduleTracingModule,
  SchedulerHealthIndicator,
} from 'nestjs-metronome';
import { DashboardGuard } from './dashboard.guard';
import { DynamicJobs } from './dynamic-jobs.service';
import { OperationsController } from './operations.controller';
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
    // The dashboard at /dashboard: behind a password (METRONOME_DASHBOARD_PASSWORD), or open to
    // anyone who can reach the sample with METRONOME_DASHBOARD_OPEN=1 (on your own machine only).
    ScheduleDashboardModule.forRoot(
      process.env.METRONOME_DASHBOARD_OPEN === '1' ? { path: '/dashboard', allowUnauthenticated: true } : { path: '/dashboard', guard: DashboardGuard },
    ),
    TerminusModule.forRoot(),
    // Prometheus metrics on prom-client's default registry, served at GET /metrics.
    ScheduleMetricsModule.forRoot(),
    // A span per run; a no-op until an OpenTelemetry SDK is registered.
    ScheduleTracingModule.forRoot(),
  ],
  controllers: [OperationsController],
  providers: [ReportsService, DynamicJobs, SchedulerHealthIndicator],
})
export class AppModule {}
