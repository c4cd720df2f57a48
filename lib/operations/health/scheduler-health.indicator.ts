import { Injectable } from '@nestjs/common';
import type { HealthIndicatorService } from '@nestjs/terminus';
import { AppScheduler } from '../../application/app-scheduler';
import { errorMessage, InvalidOperationsOptionError } from '../../errors';
import { SchedulerRegistry } from '../../registry/scheduler.registry';
import { within } from '../../stores/driver';
import { loadPeer } from '../peer';
import { DEFAULT_HEALTH_TIMEOUT_MS, FAILED_JOBS_LISTED, SchedulerHealthDetails, SchedulerHealthOptions, SchedulerHealthResult } from './scheduler-health';

/**
 * A health indicator for `@nestjs/terminus` (an optional peer dependency, 11 or 12). The scheduler
 * is up when it runs and its store answers within a time limit; the details say how many jobs it
 * has, the runs in flight, the jobs whose last run failed, the store's round trip and the live
 * instances.
 *
 * Provide it beside `TerminusModule` and check it in a health endpoint:
 *
 * ```ts
 * @Controller('health')
 * export class HealthController {
 *   constructor(
 *     private readonly health: HealthCheckService,
 *     private readonly scheduler: SchedulerHealthIndicator,
 *   ) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.scheduler.isHealthy('scheduler')]);
 *   }
 * }
 * ```
 *
 * Made without `@nestjs/terminus` installed, it throws `PeerDependencyMissingError`.
 * @publicApi
 */
@Injectable()
export class SchedulerHealthIndicator {
  private readonly indicators: HealthIndicatorService;

  constructor(
    private readonly app: AppScheduler,
    private readonly registry: SchedulerRegistry,
  ) {
    const terminus = loadPeer<typeof import('@nestjs/terminus')>('@nestjs/terminus', 'SchedulerHealthIndicator');
    this.indicators = new terminus.HealthIndicatorService();
  }

  /**
   * The scheduler's health under `key`: `up` when it is running and the store answered within
   * `timeoutMs` (default 1000 ms), `down` otherwise, with a `message` saying why. Terminus answers
   * 503 when any indicator is down. Rejects with `InvalidOperationsOptionError` for a bad `timeoutMs`.
   */
  async isHealthy<const Key extends string>(key: Key, options: SchedulerHealthOptions = {}): Promise<SchedulerHealthResult<Key>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidOperationsOptionError('SchedulerHealthIndicator.isHealthy', 'timeoutMs', timeoutMs, 'must be a positive number of milliseconds.');
    }
    const indicator = this.indicators.check(key);
    const details = this.details();
    if (details.state !== 'running') {
      return indicator.down({ ...details, message: `The scheduler is not running (state: ${details.state}).` }) as SchedulerHealthResult<Key>;
    }
    const sentAt = performance.now();
    try {
      // A cheap read of the store, bounded in real time: also the live instances.
      const instances = await within(this.registry.instances(), timeoutMs, 'answer');
      const roundTripMs = Math.round((performance.now() - sentAt) * 10) / 10;
      return indicator.up({ ...details, store: { ...details.store, roundTripMs }, instances }) as SchedulerHealthResult<Key>;
    } catch (error) {
      const message = `The job store (${details.store.kind}) did not answer: ${errorMessage(error)}`;
      return indicator.down({ ...details, message }) as SchedulerHealthResult<Key>;
    }
  }

  /** What the scheduler says of itself, without asking the store. */
  private details(): SchedulerHealthDetails {
    const { scheduler, store } = this.app;
    const jobs = scheduler.list();
    let running = 0;
    let failed = 0;
    const failedJobs: string[] = [];
    for (const job of jobs) {
      running += job.running;
      if (job.lastOutcome !== 'failed' && job.lastOutcome !== 'timed-out') continue;
      failed++;
      if (failedJobs.length < FAILED_JOBS_LISTED) failedJobs.push(job.name);
    }
    return { state: scheduler.state, jobs: jobs.length, running, failed, failedJobs, store: { kind: store.kind } };
  }
}
