import { Tallies } from './tallies';

/** One sample of a metric, as prom-client's registry formats it. */
export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  /** For a histogram's `_bucket`, `_sum` and `_count`; the metric's name otherwise. */
  metricName?: string;
}

/** Marks the metrics of this package on a registry, with their tallies: found by every copy of the package in the process. */
export const TALLIES = Symbol.for('nestjs-metronome:tallies');

/**
 * A metric whose values are read from {@link Tallies} when the registry is scraped: what
 * prom-client's `Registry` asks of a metric (`name`, `help`, `type`, `get()`, `reset()`), as its
 * own metrics and custom collectors have it. Counting costs the scheduler a map lookup and an
 * addition; prom-client's labelled `inc`/`observe` would cost several times what a run does.
 */
export class TalliedMetric {
  readonly aggregator = 'sum';
  readonly [TALLIES]: Tallies;

  constructor(
    /** Mutable: prom-client renames counters for OpenMetrics output. */
    public name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    readonly labelNames: readonly string[],
    tallies: Tallies,
    private readonly read: (tallies: Tallies, name: string) => MetricValue[],
  ) {
    this[TALLIES] = tallies;
  }

  /** Read when the registry is scraped: first forgets the jobs that are gone ({@link Tallies.prune}). */
  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string } {
    this[TALLIES].prune();
    return { name: this.name, help: this.help, type: this.type, values: this.read(this[TALLIES], this.name), aggregator: this.aggregator };
  }

  /** `registry.resetMetrics()`: forgets every count of the scheduler's metrics. */
  reset(): void {
    this[TALLIES].reset();
  }
}
