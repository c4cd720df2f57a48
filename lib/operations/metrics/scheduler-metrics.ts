import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Registry, RegistryContentType } from 'prom-client';
import { AppScheduler } from '../../application/app-scheduler';
import { Scheduler } from '../../engine/scheduler';
import { ResolvedMetricsOptions } from './metrics-options';
import { SchedulerMetricSet } from './scheduler-metric-set';
import { RunningRuns, TALLIED_EVENTS } from './tallies';

/** The injection token of what `ScheduleMetricsModule.forRoot` resolved: the options and the registry. */
export const METRICS_SETUP = Symbol('ScheduleMetricsSetup');

/** What `ScheduleMetricsModule.forRoot` gives {@link SchedulerMetrics}. */
export interface MetricsSetup {
  registry: Registry<RegistryContentType>;
  options: ResolvedMetricsOptions;
}

/**
 * The scheduler's Prometheus metrics, made by `ScheduleMetricsModule.forRoot()`. It counts the
 * scheduler's runs (as they end) and events from the module's initialization to the
 * application's shutdown; the registry reads the counts, and the runs in flight, when it is scraped. Inject it to reach the
 * `registry`, for a `/metrics` endpoint.
 * @publicApi
 */
@Injectable()
export class SchedulerMetrics implements OnModuleInit, OnApplicationShutdown {
  /** The registry the metrics are on: the one given to `forRoot`, or prom-client's default. */
  readonly registry: Registry<RegistryContentType>;
  private readonly metrics: SchedulerMetricSet;
  private stop: (() => void) | null = null;

  constructor(
    private readonly app: AppScheduler,
    @Inject(METRICS_SETUP) setup: MetricsSetup,
  ) {
    this.registry = setup.registry;
    this.metrics = new SchedulerMetricSet(setup.registry, setup.options);
  }

  onModuleInit(): void {
    if (this.stop) return;
    const { scheduler } = this.app;
    const { tallies } = this.metrics;
    const unsubscribe = scheduler.on((event) => tallies.record(event), TALLIED_EVENTS);
    const unobserve = scheduler.observeRuns({ runEnded: (run, outcome, durationMs) => tallies.recordRun(run, outcome, durationMs) });
    const running = runningRuns(scheduler);
    tallies.running.add(running);
    this.stop = () => {
      unsubscribe();
      unobserve();
      tallies.running.delete(running);
    };
  }

  /** After the scheduler stopped (in `onModuleDestroy`), so the last runs are counted. */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = null;
  }
}

/** The runs in flight of each job of the scheduler, from its snapshots. */
function runningRuns(scheduler: Scheduler): RunningRuns {
  return function* () {
    for (const name of scheduler.names()) yield [name, scheduler.status(name)?.running ?? 0] as const;
  };
}
