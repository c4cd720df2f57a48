import { DynamicModule, Module } from '@nestjs/common';
import { loadPeer } from '../peer';
import { resolveMetricsOptions, ScheduleMetricsOptions } from './metrics-options';
import { METRICS_SETUP, MetricsSetup, SchedulerMetrics } from './scheduler-metrics';

/**
 * Prometheus metrics of the scheduler, on `prom-client` (an optional peer dependency):
 *
 * ```ts
 * @Module({ imports: [ScheduleModule.forRoot(), ScheduleMetricsModule.forRoot()] })
 * export class AppModule {}
 * ```
 *
 * Every metric's name starts with `prefix` (default `metronome_`); they are registered on the
 * `registry` given, or on prom-client's default one. Inject {@link SchedulerMetrics} to reach the
 * registry. `forRoot` throws `PeerDependencyMissingError` when `prom-client` is not installed,
 * and `InvalidOperationsOptionError` for a bad option.
 * @publicApi
 */
@Module({})
export class ScheduleMetricsModule {
  static forRoot(options: ScheduleMetricsOptions = {}): DynamicModule {
    const resolved = resolveMetricsOptions(options);
    const client = loadPeer<typeof import('prom-client')>('prom-client', 'ScheduleMetricsModule');
    const setup: MetricsSetup = { registry: resolved.registry ?? client.register, options: resolved };
    return {
      module: ScheduleMetricsModule,
      providers: [{ provide: METRICS_SETUP, useValue: setup }, SchedulerMetrics],
      exports: [SchedulerMetrics],
    };
  }
}
