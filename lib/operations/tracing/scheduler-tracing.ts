import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppScheduler } from '../../application/app-scheduler';
import { RunTracer } from './run-tracer';
import { DEFAULT_TRACER_NAME, ScheduleTracingOptions } from './tracing-options';

/** The injection token of what `ScheduleTracingModule.forRoot` resolved: the options and the OpenTelemetry API. */
export const TRACING_SETUP = Symbol('ScheduleTracingSetup');

/** What `ScheduleTracingModule.forRoot` gives {@link SchedulerTracing}. */
export interface TracingSetup {
  api: typeof import('@opentelemetry/api');
  options: ScheduleTracingOptions;
}

/**
 * Traces the scheduler's runs, made by `ScheduleTracingModule.forRoot()`: from the module's
 * initialization to the application's shutdown, every run gets a span (see `RUN_SPAN_ATTRIBUTES`).
 * @publicApi
 */
@Injectable()
export class SchedulerTracing implements OnModuleInit, OnApplicationShutdown {
  private stop: (() => void) | null = null;

  constructor(
    private readonly app: AppScheduler,
    @Inject(TRACING_SETUP) private readonly setup: TracingSetup,
  ) {}

  onModuleInit(): void {
    if (this.stop) return;
    const { api, options } = this.setup;
    // The tracer is taken now, not when the module was declared: an SDK registered in between counts.
    const provider = options.tracerProvider ?? api.trace.getTracerProvider();
    const tracer = provider.getTracer(options.tracerName ?? DEFAULT_TRACER_NAME);
    this.stop = this.app.scheduler.observeRuns(new RunTracer(api, tracer, this.app.options.instanceId));
  }

  /** After the scheduler stopped (in `onModuleDestroy`), so the last runs are traced to their end. */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = null;
  }
}
