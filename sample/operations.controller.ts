import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SchedulerHealthIndicator, SchedulerMetrics } from 'nestjs-metronome';

/** What operators read: `GET /health` (terminus) and `GET /metrics` (Prometheus). */
@Controller()
export class OperationsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly scheduler: SchedulerHealthIndicator,
    private readonly metrics: SchedulerMetrics,
  ) {}

  /** 200 while the scheduler runs and its store answers within a second; 503 otherwise. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.scheduler.isHealthy('scheduler')]);
  }

  /** The scheduler's metrics in Prometheus's text format. */
  @Get('metrics')
  async scrape(@Res({ passthrough: true }) response: { type(contentType: string): unknown }) {
    response.type(this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
