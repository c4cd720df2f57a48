import { INestApplication, Injectable, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  InvalidOperationsOptionError,
  Interval,
  MemoryJobStore,
  RUN_SPAN_ATTRIBUTES,
  ScheduleModule,
  ScheduleModuleOptions,
  ScheduleTracingModule,
  ScheduleTracingOptions,
  VirtualClock,
} from '../../lib';
import { T0 } from '../support/nest';
import { AsyncLocalStorageContextManager } from './async-context';

/**
 * `ScheduleTracingModule` with the OpenTelemetry SDK's in-memory exporter: one span per run, its
 * attributes and outcome, errors and timeouts on it, and the spans a handler makes as its children.
 */

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
/** Lets the runs of `hang` end, before an application closes. */
const hanging: Array<() => void> = [];
/** Whether the handler of `report` saw a recording span as the active one. */
const activeSpans: boolean[] = [];

@Injectable()
class Jobs {
  @Interval('report', 60_000)
  async report() {
    activeSpans.push(trace.getActiveSpan()?.isRecording() ?? false);
    const tracer = provider.getTracer('app');
    tracer.startSpan('query').end();
    await Promise.resolve();
    tracer.startSpan('after-await').end();
  }

  @Interval('flaky', 60_000, { retry: { attempts: 1, backoffMs: 1_000 } })
  flaky() {
    throw new Error('disk full');
  }

  @Interval('hang', 60_000, { timeoutMs: 1_000 })
  hang() {
    return new Promise<void>((resolve) => hanging.push(resolve));
  }
}

describe('ScheduleTracingModule', () => {
  let app: INestApplication | undefined;

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  });

  afterAll(() => {
    context.disable();
  });

  afterEach(async () => {
    hanging.splice(0).forEach((release) => release());
    await app?.close();
    app = undefined;
    exporter.reset();
    activeSpans.length = 0;
    trace.disable();
  });

  async function start(schedule: ScheduleModuleOptions, tracing: ScheduleTracingOptions, metadata: ModuleMetadata = { providers: [Jobs] }) {
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(schedule), ScheduleTracingModule.forRoot(tracing)],
      ...metadata,
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  }

  const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === name);
  const only = (name: string): ReadableSpan => {
    const found = spans(name);
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('makes one span per run with the job, scheduled time, attempt, instance and outcome; the handler’s spans are its children', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock, instanceId: 'tracing-test' }, { tracerProvider: provider });

    await clock.advanceAsync(60_000);

    const run = only('run report');
    expect(run.kind).toBe(SpanKind.INTERNAL);
    expect(run.instrumentationScope.name).toBe('nestjs-metronome');
    expect(run.attributes).toEqual({
      [RUN_SPAN_ATTRIBUTES.job]: 'report',
      [RUN_SPAN_ATTRIBUTES.scheduledAt]: '2026-01-01T00:01:00.000Z',
      [RUN_SPAN_ATTRIBUTES.attempt]: 1,
      [RUN_SPAN_ATTRIBUTES.instance]: 'tracing-test',
      [RUN_SPAN_ATTRIBUTES.outcome]: 'succeeded',
    });
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
    expect(run.events).toEqual([]);
    expect(activeSpans).toEqual([true]);
    for (const child of [only('query'), only('after-await')]) {
      expect(child.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(run.spanContext().traceId);
    }
    // A run is a root of its own: not the child of whatever was active when the timer fired.
    expect(run.parentSpanContext).toBeUndefined();
  });

  it('makes a run a root of its own even when what fires it runs inside another span (a request that armed the timer)', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock }, { tracerProvider: provider });
    const request = provider.getTracer('app').startSpan('request');
    // The timer fires within the request's context, as a Node timer armed during the request would.
    await context.with(trace.setSpan(context.active(), request), () => clock.advanceAsync(60_000));
    request.end();
    expect(only('run report').parentSpanContext).toBeUndefined();
    expect(only('run report').spanContext().traceId).not.toBe(request.spanContext().traceId);
  });

  it('records a failure on the span, one span per attempt', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock }, { tracerProvider: provider });

    await clock.advanceAsync(61_000);

    const attempts = spans('run flaky');
    expect(attempts.map((span) => span.attributes[RUN_SPAN_ATTRIBUTES.attempt])).toEqual([1, 2]);
    for (const span of attempts) {
      expect(span.attributes[RUN_SPAN_ATTRIBUTES.outcome]).toBe('failed');
      expect(span.attributes[RUN_SPAN_ATTRIBUTES.scheduledAt]).toBe('2026-01-01T00:01:00.000Z');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'disk full' });
      expect(span.events.map((event) => [event.name, event.attributes?.['exception.type'], event.attributes?.['exception.message']])).toEqual([
        ['exception', 'Error', 'disk full'],
      ]);
    }
  });

  it('marks a timeout on the span, ended when the run timed out', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock }, { tracerProvider: provider });

    await clock.advanceAsync(60_000);
    expect(spans('run hang')).toEqual([]);
    await clock.advanceAsync(1_000);

    const span = only('run hang');
    expect(span.attributes).toMatchObject({ [RUN_SPAN_ATTRIBUTES.outcome]: 'timed-out', [RUN_SPAN_ATTRIBUTES.timedOut]: true });
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Job "hang" timed out after 1000 ms' });
    // OpenTelemetry names an exception by its `code` when it has one.
    expect(span.events.map((event) => [event.name, event.attributes?.['exception.type'], event.attributes?.['exception.message']])).toEqual([
      ['exception', 'RUN_TIMED_OUT', 'Job "hang" timed out after 1000 ms'],
    ]);
  });

  it('carries the fencing token of a run claimed from a shared store', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock, store: new MemoryJobStore({ shared: true, now: () => clock.now() }) }, { tracerProvider: provider });

    await clock.advanceAsync(120_000);

    const tokens = spans('run report').map((span) => span.attributes[RUN_SPAN_ATTRIBUTES.fencingToken]);
    expect(tokens).toHaveLength(2);
    expect(tokens.every((token) => typeof token === 'number')).toBe(true);
    expect(tokens[1]).toBeGreaterThan(tokens[0] as number);
  });

  it('uses the global tracer provider by default, taken at initialization, under the tracer name given', async () => {
    const clock = new VirtualClock(T0);
    const module = ScheduleTracingModule.forRoot({ tracerName: 'jobs' });
    // Registered after the module was declared, before the application starts: as an SDK set up in main.ts.
    trace.setGlobalTracerProvider(provider);
    const moduleRef = await Test.createTestingModule({ imports: [ScheduleModule.forRoot({ clock }), module], providers: [Jobs] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();

    await clock.advanceAsync(60_000);

    expect(only('run report').instrumentationScope.name).toBe('jobs');
  });

  it('is a no-op without an SDK: runs go on, and nothing records', async () => {
    const clock = new VirtualClock(T0);
    await start({ clock }, {});

    await clock.advanceAsync(120_000);

    expect(activeSpans).toEqual([false, false]);
    expect(exporter.getFinishedSpans().filter((span) => span.name.startsWith('run '))).toEqual([]);
    // The spans the handler made itself have no run to be children of.
    expect(spans('query').map((span) => span.parentSpanContext)).toEqual([undefined, undefined]);
  });

  it('refuses a bad tracer name or provider, naming the option', () => {
    expect(() => ScheduleTracingModule.forRoot({ tracerName: ' ' })).toThrow(InvalidOperationsOptionError);
    expect(() => ScheduleTracingModule.forRoot({ tracerName: '' })).toThrow(
      'Invalid tracerName in ScheduleTracingModule.forRoot: "" must be a non-empty string.',
    );
    expect(() => ScheduleTracingModule.forRoot({ tracerProvider: {} as never })).toThrow(
      'Invalid tracerProvider in ScheduleTracingModule.forRoot: {} must be an OpenTelemetry TracerProvider (with getTracer).',
    );
  });
});
