/**
 * The OpenTelemetry SDK's own cost per span, with no scheduler: `node span-cost.js [bare|run|sampled]`.
 * On the provider the `ops` variants use (a batch span processor into an in-memory exporter emptied
 * every second), 10,000 spans a round, started and ended at once: `bare` with a name only, `run`
 * with the attributes of a run's span and its outcome, `sampled` as `run` with 1 trace in 10
 * sampled. Prints `RESULT {json}`: the CPU per span of each measured round, in µs.
 */
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { report, sleep } from './common';

const SPANS = 10_000;
const WARMUP_ROUNDS = 3;
const ROUNDS = 10;

async function main() {
  const mode = process.argv[2] ?? 'run';
  const exporter = new InMemorySpanExporter();
  setInterval(() => exporter.reset(), 1_000).unref();
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 10_000, scheduledDelayMillis: 500 });
  const sampler = mode === 'sampled' ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }) : undefined;
  const tracer = new BasicTracerProvider({ spanProcessors: [processor], ...(sampler ? { sampler } : {}) }).getTracer('span-cost');
  const perSpanUs: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < SPANS; i++) {
      if (mode === 'bare') {
        tracer.startSpan('run').end();
        continue;
      }
      const attributes = { 'metronome.job.name': `job-${i}`, 'metronome.run.scheduled_at': '2026-12-01T00:00:00.000Z', 'metronome.run.attempt': 1 };
      const span = tracer.startSpan(`run job-${i}`, { kind: SpanKind.INTERNAL, attributes }, ROOT_CONTEXT);
      span.setAttribute('metronome.run.outcome', 'succeeded');
      span.end();
    }
    const { user, system } = process.cpuUsage(start);
    if (round >= WARMUP_ROUNDS) perSpanUs.push(Math.round(((user + system) / SPANS) * 100) / 100);
    await sleep(1_000);
  }
  return { mode, spans: SPANS, perSpanUs };
}

report(main());
