import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Registry, RegistryContentType } from 'prom-client';
import { AppScheduler } from '../../application/app-scheduler';
import { ResolvedMetricsOptions } from './metrics-options';
import { SchedulerMetricSet } from './scheduler-metric-set';
import { TALLIED_EVENTS } from './tallies';

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

  /**
   * Starts counting the scheduler's runs and events. A no-op when the scheduler already counts on
   * this registry under these names: `forRoot()` imported by two modules of one application makes
   * two providers, and each run must be counted once.
   */
  onModuleInit(): void {
    if (this.stop) return;
    const { scheduler } = this.app;
    const { tallies } = this.metrics;
    if (!tallies.attach(scheduler)) return;
    const unsubscribe = scheduler.on((event) => tallies.record(event), TALLIED_EVENTS);
    const unobserve = scheduler.observeRuns({
      // Returns nothing: no object per run.
      runStarted: (run) => void tallies.recordStart(run),
      runEnded: (run, outcome, durationMs) => tallies.recordRun(run, outcome, durationMs),
    });
    this.stop = () => {
      unsubscribe();
      unobserve();
      tallies.detach(scheduler);
    };
  }

  /** After the scheduler stopped (in `onModuleDestroy`), so the last runs are counted. */
  onApplicationShutdown(): void {
    this.stop?.();
    this.stop = null;
  }
}
