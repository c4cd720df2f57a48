export { ScheduleModule } from './schedule.module';
export { ScheduleExplorer } from './discovery/schedule.explorer';
export type { ScheduleModuleOptions, ScheduleModuleOptionsFactory, ScheduleModuleAsyncOptions } from './interfaces/schedule-module-options.interface';
export * from './decorators';
export { SchedulerRegistry } from './registry/scheduler.registry';
export type { AddJobDefinition, ProviderTarget, WorkerTarget } from './interfaces/job-definition.interface';
export type { TriggerDefinition } from './triggers/trigger-factory';
export type { SchedulerType } from './registry/scheduler.registry';
export { CronExpression } from './compat/cron-expression.enum';
export { CronJob } from './compat/cron-job';
export type { CronJobParams, CronCallback, CronOnComplete } from './compat/cron-job';
export { CronTime } from './compat/cron-time';
export type { CronTimeSource } from './compat/cron-time';
export {
  SchedulerError,
  SchedulerNotRunningError,
  SchedulerAlreadyRunningError,
  JobNotFoundError,
  DuplicateJobError,
  InvalidScheduleError,
  JobTargetNotAllowedError,
  StoreUnavailableError,
  RunTimeoutError,
  LeaseLostError,
  SchedulerShutdownError,
  WorkerTargetError,
  WorkerExitedError,
  RescheduleRefusedError,
  InvalidTimeError,
  ClockBackwardsError,
  DashboardOptionsError,
  PeerDependencyMissingError,
  InvalidOperationsOptionError,
} from './errors';
export type { SchedulerErrorCode } from './errors';
export { NO_SCHEDULER_FOUND, DUPLICATE_SCHEDULER } from './compat/messages';
export type * from './events';
export { systemClock, MAX_TIMER_DELAY } from './engine/clock';
export type { Clock, TimerHandle, TimerOptions } from './engine/clock';
export { VirtualClock } from './engine/virtual-clock';
export { ScheduleTestingModule } from './testing/schedule-testing.module';
export { ScheduleTestingClock } from './testing/schedule-testing-clock';
export type { ScheduleTestingOptions } from './testing/schedule-testing-options.interface';
export type { TestingDuration } from './testing/duration';
export type { TestingInstant } from './testing/instant';
export { JobContext } from './engine/job-context';
export type { JobInfo, RunRecord, RunOutcome } from './engine/job';
export type { JobOptions, MisfireOptions, RetryOptions, OverlapPolicy, MisfirePolicy, DeliveryGuarantee, JobScope } from './engine/job-options';
export { MemoryJobStore } from './stores/memory.store';
export type { MemoryJobStoreOptions } from './stores/memory.store';
export { PostgresJobStore } from './stores/postgres.store';
export type { PostgresJobStoreOptions, PgPoolLike, PgClientLike } from './stores/postgres.store';
export { RedisJobStore } from './stores/redis.store';
export type { RedisJobStoreOptions, RedisLike } from './stores/redis.store';
export type {
  JobStore,
  StoredJobState,
  TickClaim,
  ClaimOutcome,
  Lease,
  ExpiredRun,
  StoredJobDefinition,
  JobChange,
  JobSet,
  Sweep,
  CheckIn,
  InstanceCheckIn,
  InstanceRecord,
  FinishedRun,
  RunPage,
} from './stores/job-store';
export type { InstanceInfo } from './interfaces/instance-info.interface';
export type { RunHistoryEntry } from './interfaces/run-history.interface';
export { RunFeed } from './application/run-feed';
export type { RunFeedOptions } from './application/run-feed';
export type { TriggerKind } from './triggers/trigger';
export * from './dashboard';
export { SchedulerHealthIndicator } from './operations/health/scheduler-health.indicator';
export type { SchedulerHealthOptions, SchedulerHealthDetails, SchedulerHealthResult } from './operations/health/scheduler-health';
export { ScheduleMetricsModule } from './operations/metrics/schedule-metrics.module';
export { SchedulerMetrics } from './operations/metrics/scheduler-metrics';
export type { ScheduleMetricsOptions } from './operations/metrics/metrics-options';
export { ScheduleTracingModule } from './operations/tracing/schedule-tracing.module';
export type { ScheduleTracingOptions } from './operations/tracing/tracing-options';
export { RUN_SPAN_ATTRIBUTES } from './operations/tracing/run-attributes';
