import type { Registry, RegistryContentType } from 'prom-client';
import { InvalidOperationsOptionError } from '../../errors';

/** Options of `ScheduleMetricsModule.forRoot`. */
export interface ScheduleMetricsOptions {
  /** The `prom-client` registry the metrics are registered on. Default: prom-client's default registry (`register`). */
  registry?: Registry<RegistryContentType>;
  /** Put before every metric's name. Default `metronome_`. */
  prefix?: string;
  /** Bucket bounds of the run duration histogram, in seconds. Default from 5 ms to 1 h. */
  durationBuckets?: number[];
  /** Bucket bounds of the start lateness histogram, in seconds. Default from 1 ms to 1 min. */
  latenessBuckets?: number[];
}

/** The options, checked and with their defaults (but the registry, which needs prom-client). */
export interface ResolvedMetricsOptions {
  registry: Registry<RegistryContentType> | undefined;
  prefix: string;
  durationBuckets: number[];
  latenessBuckets: number[];
}

export const DEFAULT_METRICS_PREFIX = 'metronome_';
export const DEFAULT_DURATION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
export const DEFAULT_LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 60];

const WHERE = 'ScheduleMetricsModule.forRoot';
/** What Prometheus allows at the start of a metric's name, and after. */
const METRIC_NAME_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/** Checks the options and fills in the defaults. Throws {@link InvalidOperationsOptionError}. */
export function resolveMetricsOptions(options: ScheduleMetricsOptions): ResolvedMetricsOptions {
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || !METRIC_NAME_PREFIX.test(prefix)) {
    throw new InvalidOperationsOptionError(
      WHERE,
      'prefix',
      prefix,
      'must be the start of a Prometheus metric name: letters, digits, _ and :, not starting with a digit.',
    );
  }
  return {
    registry: options.registry,
    prefix,
    durationBuckets: buckets('durationBuckets', options.durationBuckets ?? DEFAULT_DURATION_BUCKETS),
    latenessBuckets: buckets('latenessBuckets', options.latenessBuckets ?? DEFAULT_LATENESS_BUCKETS),
  };
}

function buckets(option: string, value: unknown): number[] {
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((bound, i) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (i === 0 || bound > (value[i - 1] as number)));
  if (!valid) throw new InvalidOperationsOptionError(WHERE, option, value, 'must be a non-empty list of positive numbers of seconds, in increasing order.');
  return [...(value as number[])];
}
