/**
 * What the fire scenario's variants add to the application:
 * - `ops`: the scheduler's Prometheus metrics (a registry of their own) and a span per run on a
 *   real OpenTelemetry SDK provider (a batch span processor into an in-memory exporter emptied
 *   every second), with an AsyncLocalStorage context manager, as a Node application registers;
 * - `ops-sampled`: as `ops`, with the sampler production tracing uses at this rate: the parent's
 *   decision, else 1 trace in 10 (`ParentBasedSampler` over `TraceIdRatioBasedSampler(0.1)`);
 * - `ops-nosdk`: the same modules without an SDK (the API's no-op tracer): what the package
 *   itself costs;
 * - `metrics`, `tracing`, `tracing-noctx` (no context manager), `tracing-simple` (a simple span
 *   processor, which exports each span as it ends): one part at a time, to see where the cost goes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamicModule } from '@nestjs/common';
import { Context, context, ContextManager, ROOT_CONTEXT } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';

/** As `@opentelemetry/context-async-hooks`' AsyncLocalStorageContextManager does. */
class AsyncLocalStorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

/** The modules to import beside `ScheduleModule.forRoot()` for a variant, and how many spans were exported. */
export function operationsModules(variant: string): { imports: DynamicModule[]; spans: () => number } {
  const { ScheduleMetricsModule, ScheduleTracingModule } = require('nestjs-metronome') as typeof import('nestjs-metronome');
  const imports: DynamicModule[] = [];
  const metrics = variant.startsWith('ops') || variant === 'metrics';
  const tracing = variant === 'ops' || variant === 'ops-sampled' || variant.startsWith('tracing');
  if (metrics) imports.push(ScheduleMetricsModule.forRoot({ registry: new Registry() }));
  if (variant === 'ops-nosdk') imports.push(ScheduleTracingModule.forRoot());
  if (!tracing) return { imports, spans: () => 0 };
  if (variant !== 'tracing-noctx') context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  const exporter = new InMemorySpanExporter();
  let exported = 0;
  setInterval(() => {
    exported += exporter.getFinishedSpans().length;
    exporter.reset();
  }, 1_000).unref();
  // A queue large enough that no span is dropped at 10,000 runs a second.
  const processor =
    variant === 'tracing-simple'
      ? new SimpleSpanProcessor(exporter)
      : new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 10_000, scheduledDelayMillis: 500 });
  const sampler = variant === 'ops-sampled' ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }) : undefined;
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [processor], ...(sampler ? { sampler } : {}) });
  imports.push(ScheduleTracingModule.forRoot({ tracerProvider }));
  return { imports, spans: () => exported + exporter.getFinishedSpans().length };
}
