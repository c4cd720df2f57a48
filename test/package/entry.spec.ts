import * as entry from '../../lib';

/**
 * The package entry exports the public API and nothing else: what is exported is what users come
 * to depend on. A new export is added here on purpose, never by accident.
 */
describe('the package entry', () => {
  it('exports exactly the public API', () => {
    expect(Object.keys(entry).sort()).toEqual(
      [
        'CSRF_COOKIE',
        'CSRF_HEADER',
        'ClockBackwardsError',
        'Cron',
        'CronExpression',
        'CronJob',
        'CronTime',
        'DASHBOARD_RUN_SOURCE',
        'DUPLICATE_SCHEDULER',
        'DashboardOptionsError',
        'DuplicateJobError',
        'Interval',
        'InvalidOperationsOptionError',
        'InvalidScheduleError',
        'InvalidTimeError',
        'JobContext',
        'JobCtx',
        'JobHandler',
        'JobNotFoundError',
        'JobTargetNotAllowedError',
        'LeaseLostError',
        'MAX_TIMER_DELAY',
        'MemoryJobStore',
        'NO_SCHEDULER_FOUND',
        'PeerDependencyMissingError',
        'PostgresJobStore',
        'RedisJobStore',
        'RUN_SPAN_ATTRIBUTES',
        'RescheduleRefusedError',
        'RunFeed',
        'RunTimeoutError',
        'ScheduleDashboardModule',
        'ScheduleExplorer',
        'ScheduleMetricsModule',
        'ScheduleModule',
        'ScheduleTestingClock',
        'ScheduleTestingModule',
        'ScheduleTracingModule',
        'SchedulerHealthIndicator',
        'SchedulerMetrics',
        'SchedulerAlreadyRunningError',
        'SchedulerError',
        'SchedulerNotRunningError',
        'SchedulerRegistry',
        'SchedulerShutdownError',
        'StoreUnavailableError',
        'Timeout',
        'VirtualClock',
        'WorkerExitedError',
        'WorkerTargetError',
        'systemClock',
      ].sort(),
    );
  });

  it("exports @nestjs/schedule's message builders, with its words", () => {
    expect(entry.NO_SCHEDULER_FOUND('Cron Job', 'sync')).toBe(
      'No Cron Job was found with the given name (sync). Check that you created one with a decorator or with the create API.',
    );
    expect(entry.NO_SCHEDULER_FOUND('Interval')).toBe('No Interval was found. Check your configuration.');
    expect(entry.DUPLICATE_SCHEDULER('Timeout', 'warm-up')).toBe('Timeout with the given name (warm-up) already exists. Ignored.');
  });
});
