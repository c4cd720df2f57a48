// README: "Health" (Operations), compiled against the packed package.
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { SchedulerHealthIndicator } from 'nestjs-metronome';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly scheduler: SchedulerHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.scheduler.isHealthy('scheduler')]);
  }
}

@Module({ imports: [TerminusModule.forRoot()], controllers: [HealthController], providers: [SchedulerHealthIndicator] })
export class HealthModule {}
