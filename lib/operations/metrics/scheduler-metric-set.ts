import type { Registry, RegistryContentType } from 'prom-client';
import { InvalidOperationsOptionError } from '../../errors';
import { ResolvedMetricsOptions } from './metrics-options';
import { MetricValue, TALLIES, TalliedMetric } from './tallied-metric';
import { HistogramTally, JobTally, Tallies } from './tallies';

type Read = (tallies: Tallies, name: string) => MetricValue[];

/** The scheduler's metrics: name (after the prefix), help, type, labels, and how each is read from the tallies. */
const METRICS: ReadonlyArray<{ name: string; help: string; type: TalliedMetric['type']; labels: string[]; read: Read }> = [
  {
    name: 'runs_total',
    help: 'Runs of scheduled jobs that ended, by job and outcome.',
    type: 'counter',
    labels: ['job', 'outcome'],
    read: byJob((job, tally) => counts(tally.runs, (outcome) => ({ job, outcome }))),
  },
  {
    name: 'run_duration_seconds',
    help: 'How long runs of scheduled jobs took (those that settled), by job.',
    type: 'histogram',
    labels: ['job'],
    read: (tallies, name) => histogram(tallies, name, (tally) => tally.duration),
  },
  {
    name: 'run_start_lateness_seconds',
    help: 'How long after its scheduled time a run started (first attempts, counted as they end), by job.',
    type: 'histogram',
    labels: ['job'],
    read: (tallies, name) => histogram(tallies, name, (tally) => tally.lateness),
  },
  {
    name: 'runs_in_flight',
    help: 'Runs of scheduled jobs in flight, by job.',
    type: 'gauge',
    labels: ['job'],
    read: (tallies) => {
      const running = new Map<string, number>();
      for (const scheduler of tallies.schedulers) {
        for (const job of scheduler.names()) {
          const status = scheduler.status(job);
          // A completed job with nothing in flight has no series left (its tally is forgotten too).
          if (status === undefined || (status.completed && status.running === 0)) continue;
          running.set(job, (running.get(job) ?? 0) + status.running);
        }
      }
      return [...running].map(([job, value]) => ({ labels: { job }, value }));
    },
  },
  {
    name: 'ticks_missed_total',
    help: 'Ticks found too late to run as scheduled (late), or that could not be claimed (unclaimed), by job and reason.',
    type: 'counter',
    labels: ['job', 'reason'],
    read: byJob((job, tally) => counts(tally.missed, (reason) => ({ job, reason }))),
  },
  {
    name: 'ticks_skipped_total',
    help: 'Ticks that did not run (overlap, paused, completed), by job and reason.',
    type: 'counter',
    labels: ['job', 'reason'],
    read: byJob((job, tally) => counts(tally.skipped, (reason) => ({ job, reason }))),
  },
  {
    name: 'claims_total',
    help: "The shared store's answers to claims of ticks, by job and outcome.",
    type: 'counter',
    labels: ['job', 'outcome'],
    read: byJob((job, tally) => [...(tally.claims ?? [])].map(([outcome, value]) => ({ labels: { job, outcome }, value }))),
  },
  {
    name: 'runs_lost_total',
    help: 'At-most-once runs lost with the instance that held them, by job.',
    type: 'counter',
    labels: ['job'],
    read: byJob((job, tally) => (tally.lost > 0 ? [{ labels: { job }, value: tally.lost }] : [])),
  },
  {
    name: 'store_unavailable_total',
    help: 'Times the job store stopped answering, by store.',
    type: 'counter',
    labels: ['store'],
    read: (tallies) => [...tallies.outages].map(([store, value]) => ({ labels: { store }, value })),
  },
];

/**
 * The scheduler's metrics on one `prom-client` registry, and the {@link Tallies} they are read
 * from. Labels are bounded: the name of a job that exists (a removed or completed job's series
 * go, see {@link Tallies.retire}), and an outcome or reason from a fixed list; never a job's
 * arguments. When the registry already has this package's metrics under the same names (the
 * module made twice, two applications in one process), their tallies are shared, so counts add
 * up; a metric of the same name from something else is refused.
 */
export class SchedulerMetricSet {
  readonly tallies: Tallies;

  constructor(registry: Registry<RegistryContentType>, options: ResolvedMetricsOptions) {
    const names = METRICS.map((metric) => options.prefix + metric.name);
    const existing = names.map((name) => registry.getSingleMetric(name) as unknown as Partial<TalliedMetric> | undefined);
    existing.forEach((metric, i) => {
      if (metric !== undefined && !(metric[TALLIES] instanceof Object)) conflict(options.prefix, names[i]);
    });
    this.tallies = existing.find((metric) => metric !== undefined)?.[TALLIES] ?? new Tallies(options.durationBuckets, options.latenessBuckets);
    METRICS.forEach(({ help, type, labels, read }, i) => {
      if (existing[i] !== undefined) return;
      registry.registerMetric(new TalliedMetric(names[i], help, type, labels, this.tallies, read) as unknown as Parameters<Registry['registerMetric']>[0]);
    });
  }
}

function conflict(prefix: string, name: string): never {
  throw new InvalidOperationsOptionError(
    'ScheduleMetricsModule.forRoot',
    'prefix',
    prefix,
    `makes the metric name "${name}", which the registry already has from something else: give another prefix, or another registry.`,
  );
}

/** Reads every job's tally. */
function byJob(read: (job: string, tally: JobTally) => MetricValue[]): Read {
  return (tallies) => {
    const values: MetricValue[] = [];
    for (const [job, tally] of tallies.jobs) values.push(...read(job, tally));
    return values;
  };
}

/** The counts that are not 0, labelled. */
function counts<K extends string>(byKey: Record<K, number>, labels: (key: K) => Record<string, string>): MetricValue[] {
  return (Object.keys(byKey) as K[]).filter((key) => byKey[key] > 0).map((key) => ({ labels: labels(key), value: byKey[key] }));
}

/** A histogram's samples, as Prometheus has them: cumulative `_bucket`s up to `+Inf`, `_sum` and `_count`, for each job with observations. */
function histogram(tallies: Tallies, name: string, of: (tally: JobTally) => HistogramTally): MetricValue[] {
  const values: MetricValue[] = [];
  for (const [job, tally] of tallies.jobs) {
    const { bounds, counts: inBucket, sum, count } = of(tally);
    if (count === 0) continue;
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += inBucket[i];
      values.push({ labels: { job, le }, value: cumulative, metricName: `${name}_bucket` });
    });
    values.push(
      { labels: { job, le: '+Inf' }, value: count, metricName: `${name}_bucket` },
      { labels: { job }, value: sum, metricName: `${name}_sum` },
      { labels: { job }, value: count, metricName: `${name}_count` },
    );
  }
  return values;
}
