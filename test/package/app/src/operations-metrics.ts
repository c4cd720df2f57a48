// README: "Metrics" (Operations), compiled against the packed package.
import { Controller, Get, Module, Res } from '@nestjs/common';
import { ScheduleMetricsModule, ScheduleModule, SchedulerMetrics } from 'nestjs-metronome';

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: SchedulerMetrics) {}

  @Get()
  async scrape(@Res({ passthrough: true }) response: { type(contentType: string): unknown }) {
    response.type(this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}

@Module({ imports: [ScheduleModule.forRoot(), ScheduleMetricsModule.forRoot()], controllers: [MetricsController] })
export class MetricsModule {}
