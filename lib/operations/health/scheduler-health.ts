import type { SchedulerState } from '../../engine/scheduler-options';
import type { InstanceInfo } from '../../interfaces/instance-info.interface';

/** Options of {@link SchedulerHealthIndicator.isHealthy}. */
export interface SchedulerHealthOptions {
  /** How long the store may take to answer, in ms, before the scheduler is reported down. Default 1000. */
  timeoutMs?: number;
}

/** The default of {@link SchedulerHealthOptions.timeoutMs}. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 1_000;

/** How many names of failed jobs the details list. */
export const FAILED_JOBS_LISTED = 20;

/**
 * What the health check says of the scheduler, beside its `status` (`up` or `down`). On `down`,
 * `message` says why; the fields that could not be measured are left out.
 */
export interface SchedulerHealthDetails {
  /** The scheduler's state: `running` when up. */
  state: SchedulerState;
  /** How many jobs it has. */
  jobs: number;
  /** Runs in flight on this instance. */
  running: number;
  /** How many jobs' last run failed or timed out. */
  failed: number;
  /** The names of those jobs (the first {@link FAILED_JOBS_LISTED}). */
  failedJobs: string[];
  /** The store: its kind and, once it answered, its round trip in ms. */
  store: { kind: string; roundTripMs?: number };
  /** The live instances (with a shared store, those that checked in lately; otherwise this one). */
  instances?: InstanceInfo[];
  /** Why the scheduler is down. */
  message?: string;
}

/**
 * The health of the scheduler under a key, as `@nestjs/terminus` reads a health indicator's result
 * (`HealthIndicatorResult`): `{ [key]: { status, ...details } }`.
 */
export type SchedulerHealthResult<Key extends string = string> = Record<Key, SchedulerHealthDetails & { status: 'up' | 'down' }>;
