import type { Span, Tracer } from '@opentelemetry/api';
import { errorMessage } from '../../errors';
import type { RunOutcome } from '../../engine/job';
import type { ObservedRun, RunObserver, RunWatch } from '../../engine/run-observer';
import { RUN_SPAN_ATTRIBUTES as ATTRIBUTES } from './run-attributes';

type OpenTelemetry = typeof import('@opentelemetry/api');

/**
 * Traces runs: one span per run, named `run <job>`, with the job, the scheduled time, the attempt,
 * the fencing token and the outcome as attributes ({@link ATTRIBUTES}). The span is the active
 * context while the handler runs, so the spans the handler makes are its children. A failure is
 * recorded on the span (`recordException`, status `ERROR`), and so is a timeout.
 */
export class RunTracer implements RunObserver {
  /** The last scheduled time written as text: the runs of one tick share it. */
  private lastScheduled = { ms: Number.NaN, iso: '' };

  constructor(
    private readonly api: OpenTelemetry,
    private readonly tracer: Tracer,
    private readonly instanceId: string | undefined,
  ) {}

  runStarted(run: ObservedRun): RunWatch | undefined {
    const { api } = this;
    const attributes: Record<string, string | number> = {
      [ATTRIBUTES.job]: run.name,
      [ATTRIBUTES.scheduledAt]: this.scheduledAt(run.scheduledMs),
      [ATTRIBUTES.attempt]: run.attempt,
    };
    if (run.fencingToken !== undefined) attributes[ATTRIBUTES.fencingToken] = run.fencingToken;
    if (this.instanceId !== undefined) attributes[ATTRIBUTES.instance] = this.instanceId;
    // A root of its own: the context active here is whatever armed the scheduler's timer last (a
    // request that added a job, say), long finished, and no parent of this run.
    const parent = api.ROOT_CONTEXT;
    const span = this.tracer.startSpan(`run ${run.name}`, { kind: api.SpanKind.INTERNAL, attributes }, parent);
    // Without an SDK, a no-op span: nothing to make active, nothing to end. (A span a sampler
    // dropped still has a valid context, which the handler's spans inherit.)
    if (!span.isRecording() && !api.isSpanContextValid(span.spanContext())) return undefined;
    const active = api.trace.setSpan(parent, span);
    return {
      around: (handler) => api.context.with(active, handler),
      ended: (outcome, error) => this.end(span, outcome, error),
    };
  }

  private scheduledAt(ms: number): string {
    if (ms !== this.lastScheduled.ms) this.lastScheduled = { ms, iso: new Date(ms).toISOString() };
    return this.lastScheduled.iso;
  }

  private end(span: Span, outcome: RunOutcome, error: unknown): void {
    span.setAttribute(ATTRIBUTES.outcome, outcome);
    if (outcome !== 'succeeded') {
      if (outcome === 'timed-out') span.setAttribute(ATTRIBUTES.timedOut, true);
      span.recordException(error instanceof Error ? error : errorMessage(error));
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: errorMessage(error) });
    }
    span.end();
  }
}
