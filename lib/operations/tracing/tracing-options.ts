import type { TracerProvider } from '@opentelemetry/api';
import { InvalidOperationsOptionError } from '../../errors';

/** Options of `ScheduleTracingModule.forRoot`. */
export interface ScheduleTracingOptions {
  /** The name of the tracer the spans come from (the instrumentation scope). Default `nestjs-metronome`. */
  tracerName?: string;
  /** Where the tracer comes from. Default: the global one (`trace.getTracerProvider()`), as the OpenTelemetry SDK registers it. */
  tracerProvider?: TracerProvider;
}

export const DEFAULT_TRACER_NAME = 'nestjs-metronome';

/** Checks the options. Throws {@link InvalidOperationsOptionError}. */
export function checkTracingOptions(options: ScheduleTracingOptions): void {
  const { tracerName, tracerProvider } = options;
  if (tracerName !== undefined && (typeof tracerName !== 'string' || tracerName.trim() === '')) {
    throw new InvalidOperationsOptionError('ScheduleTracingModule.forRoot', 'tracerName', tracerName, 'must be a non-empty string.');
  }
  if (tracerProvider !== undefined && typeof (tracerProvider as { getTracer?: unknown } | null)?.getTracer !== 'function') {
    throw new InvalidOperationsOptionError(
      'ScheduleTracingModule.forRoot',
      'tracerProvider',
      tracerProvider,
      'must be an OpenTelemetry TracerProvider (with getTracer).',
    );
  }
}
