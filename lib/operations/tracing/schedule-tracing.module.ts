import { DynamicModule, Module } from '@nestjs/common';
import { loadPeer } from '../peer';
import { SchedulerTracing, TRACING_SETUP, TracingSetup } from './scheduler-tracing';
import { checkTracingOptions, ScheduleTracingOptions } from './tracing-options';

/**
 * OpenTelemetry spans of the scheduler's runs, on `@opentelemetry/api` (an optional peer
 * dependency): one span per run, the active context while its handler runs. Without an SDK
 * registered, the API makes no-op spans and this costs next to nothing.
 *
 * ```ts
 * @Module({ imports: [ScheduleModule.forRoot(), ScheduleTracingModule.forRoot()] })
 * export class AppModule {}
 * ```
 *
 * `forRoot` throws `PeerDependencyMissingError` when `@opentelemetry/api` is not installed, and
 * `InvalidOperationsOptionError` for a bad option.
 * @publicApi
 */
@Module({})
export class ScheduleTracingModule {
  static forRoot(options: ScheduleTracingOptions = {}): DynamicModule {
    checkTracingOptions(options);
    const api = loadPeer<typeof import('@opentelemetry/api')>('@opentelemetry/api', 'ScheduleTracingModule');
    const setup: TracingSetup = { api, options: { ...options } };
    return {
      module: ScheduleTracingModule,
      providers: [{ provide: TRACING_SETUP, useValue: setup }, SchedulerTracing],
      exports: [SchedulerTracing],
    };
  }
}
