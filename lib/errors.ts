/**
 * Typed errors. Every error the module throws on purpose is a {@link SchedulerError}
 * with a stable `code`; where `@nestjs/schedule` throws a message, the text is the same.
 */

/** Stable codes of {@link SchedulerError} subclasses, safe to branch on. */
export type SchedulerErrorCode =
  | 'SCHEDULER_NOT_RUNNING'
  | 'SCHEDULER_ALREADY_RUNNING'
  | 'JOB_NOT_FOUND'
  | 'DUPLICATE_JOB'
  | 'INVALID_SCHEDULE'
  | 'JOB_TARGET_NOT_ALLOWED'
  | 'STORE_UNAVAILABLE'
  | 'RUN_TIMED_OUT'
  | 'LEASE_LOST'
  | 'SCHEDULER_SHUTDOWN'
  | 'WORKER_TARGET_INVALID'
  | 'WORKER_EXITED'
  | 'RESCHEDULE_REFUSED'
  | 'INVALID_TIME'
  | 'CLOCK_BACKWARDS'
  | 'DASHBOARD_OPTIONS_INVALID'
  | 'PEER_DEPENDENCY_MISSING'
  | 'INVALID_OPERATIONS_OPTION';

/** Base class of every error this module throws on purpose. */
export abstract class SchedulerError extends Error {
  /** A stable, machine-readable code. */
  abstract readonly code: SchedulerErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The scheduler was asked to stop, or to do something that needs it running, while it is not running. */
export class SchedulerNotRunningError extends SchedulerError {
  readonly code = 'SCHEDULER_NOT_RUNNING' as const;
  constructor(action: string, state: string) {
    super(`Cannot ${action}: the scheduler is not running (state: ${state}).`);
  }
}

/** `start()` was called on a scheduler that is already running or still stopping. */
export class SchedulerAlreadyRunningError extends SchedulerError {
  readonly code = 'SCHEDULER_ALREADY_RUNNING' as const;
  constructor(state: string) {
    super(`Cannot start: the scheduler is already ${state}.`);
  }
}

/** No job, interval or timeout has the given name. */
export class JobNotFoundError extends SchedulerError {
  readonly code = 'JOB_NOT_FOUND' as const;
  constructor(
    /** The name that was looked up. */
    readonly jobName: string,
    message = `No job was found with the given name (${jobName}).`,
  ) {
    super(message);
  }
}

/** A job, interval or timeout with the given name already exists. */
export class DuplicateJobError extends SchedulerError {
  readonly code = 'DUPLICATE_JOB' as const;
  constructor(
    /** The name that is taken. */
    readonly jobName: string,
    message = `Job with the given name (${jobName}) already exists. Ignored.`,
  ) {
    super(message);
  }
}

/**
 * A schedule or a job option is invalid: a bad cron expression, time zone, interval or date,
 * or an option out of range. The message names the job, the field and the value.
 */
export class InvalidScheduleError extends SchedulerError {
  readonly code = 'INVALID_SCHEDULE' as const;
  constructor(
    /** The job the bad value belongs to (empty for module options). */
    readonly jobName: string,
    /** The field that holds the bad value, e.g. `cronTime`, `timeZone`, `misfire.graceMs`. */
    readonly field: string,
    /** The value that was refused. */
    readonly value: unknown,
    /** What is wrong with it, e.g. `must not be negative.` */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const where = jobName === '' ? 'in the ScheduleModule options' : `for job "${jobName}"`;
    super(`Invalid ${field} ${where}: ${describeValue(value)} ${reason}`, options);
  }
}

/** A job refers to a provider method that is not declared as a job handler. */
export class JobTargetNotAllowedError extends SchedulerError {
  readonly code = 'JOB_TARGET_NOT_ALLOWED' as const;
  constructor(
    readonly jobName: string,
    readonly target: string,
    reason: string,
  ) {
    super(`Job "${jobName}" cannot target ${target}: ${reason}`);
  }
}

/** The job store could not be reached, or cannot be used (its driver is not installed). */
export class StoreUnavailableError extends SchedulerError {
  readonly code = 'STORE_UNAVAILABLE' as const;
  constructor(
    /** The store's kind: `postgres`, `redis`. */
    readonly store: string,
    /** What is wrong, e.g. `no answer within 5000 ms`: the message without the store's name. */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    const reason = detail ?? causeText(options?.cause);
    super(`The job store (${store}) is unavailable${reason ? `: ${reason}` : '.'}`, options);
    this.detail = reason;
  }
}

/** The reason a run's signal is aborted when it exceeds `timeoutMs`. */
export class RunTimeoutError extends SchedulerError {
  readonly code = 'RUN_TIMED_OUT' as const;
  constructor(
    readonly jobName: string,
    readonly timeoutMs: number,
  ) {
    super(`Job "${jobName}" timed out after ${timeoutMs} ms`);
  }
}

/** The reason a run's signal is aborted when the store says its lease is now another instance's. */
export class LeaseLostError extends SchedulerError {
  readonly code = 'LEASE_LOST' as const;
  constructor(
    readonly jobName: string,
    readonly fencingToken: number,
  ) {
    super(`Job "${jobName}" lost the lease of its run (fencing token ${fencingToken}) to another instance`);
  }
}

/** The reason a run's signal is aborted, or a run that waits for a worker thread is refused, when the scheduler shuts down. */
export class SchedulerShutdownError extends SchedulerError {
  readonly code = 'SCHEDULER_SHUTDOWN' as const;
  constructor(message = 'The scheduler is shutting down') {
    super(message);
  }
}

/** A worker job's module cannot be used: it does not load, or has no such exported function. */
export class WorkerTargetError extends SchedulerError {
  readonly code = 'WORKER_TARGET_INVALID' as const;
  constructor(
    /** What is missing: the module, or the export in it. */
    readonly missing: 'module' | 'export',
    message: string,
  ) {
    super(message);
  }
}

/** The worker thread running a job exited before the run ended (`process.exit` in the job, an out-of-memory). */
export class WorkerExitedError extends SchedulerError {
  readonly code = 'WORKER_EXITED' as const;
  constructor(readonly exitCode: number) {
    super(`The worker thread exited with code ${exitCode}`);
  }
}

/**
 * `rescheduleJob` (or `CronJob.setTime`) on a cluster-wide job that each instance defines for
 * itself — a decorator, `addCronJob`, `addJob` without `persist` — while the store is shared: the
 * other instances would go on with the old trigger, so the change is refused.
 */
export class RescheduleRefusedError extends SchedulerError {
  readonly code = 'RESCHEDULE_REFUSED' as const;
  constructor(
    /** The job that was to be rescheduled. */
    readonly jobName: string,
  ) {
    super(
      `Cannot reschedule job "${jobName}" on this instance alone: with a shared store it is a cluster-wide job that each instance defines for itself ` +
        '(a decorator, addCronJob, or addJob without persist), so the other instances would keep the old schedule. ' +
        "To reschedule it for every instance, add it with addJob({ ..., persist: true }); to run and reschedule it on each instance on its own, give it scope: 'instance'.",
    );
  }
}

/** An option of `ScheduleDashboardModule.forRoot()` is invalid. The message names the option and the value. */
export class DashboardOptionsError extends SchedulerError {
  readonly code = 'DASHBOARD_OPTIONS_INVALID' as const;
  constructor(
    /** The option that holds the bad value, e.g. `path`. */
    readonly option: string,
    /** The value that was refused. */
    readonly value: unknown,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`Invalid ${option} in the ScheduleDashboardModule options: ${describeValue(value)} ${reason}`);
  }
}

/**
 * A duration or an instant given to the testing clock cannot be read: a string such as `"1x"`, a
 * number that is not finite, a date that does not parse. The message names where and the value.
 */
export class InvalidTimeError extends SchedulerError {
  readonly code = 'INVALID_TIME' as const;
  constructor(
    /** Where the value was given, e.g. `ScheduleTestingClock.advanceBy`. */
    readonly where: string,
    /** The value that was refused. */
    readonly value: unknown,
    /** What is wrong with it, e.g. `is not a duration; ...`. */
    readonly reason: string,
  ) {
    super(`Invalid time given to ${where}: ${describeValue(value)} ${reason}`);
  }
}

/** The testing clock was asked to move back in time; it only moves forward. */
export class ClockBackwardsError extends SchedulerError {
  readonly code = 'CLOCK_BACKWARDS' as const;
  constructor(
    /** The call that asked, e.g. `ScheduleTestingClock.advanceTo`. */
    readonly where: string,
    /** Where the clock is. */
    readonly now: Date,
    /** Where it was asked to go. */
    readonly target: Date,
  ) {
    super(`${where} cannot move time back from ${now.toISOString()} to ${target.toISOString()}: the clock only moves forward.`);
  }
}

/**
 * A feature needs an optional peer dependency that is not installed: `@nestjs/terminus` for
 * `SchedulerHealthIndicator`, `prom-client` for `ScheduleMetricsModule`, `@opentelemetry/api` for
 * `ScheduleTracingModule`. The message says what to install.
 */
export class PeerDependencyMissingError extends SchedulerError {
  readonly code = 'PEER_DEPENDENCY_MISSING' as const;
  constructor(
    /** The package to install. */
    readonly packageName: string,
    /** What needs it. */
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    super(`${feature} needs the package "${packageName}", which is not installed; run: npm install ${packageName}`, options);
  }
}

/**
 * An option of an operations feature (health, metrics, tracing) is invalid, or conflicts with
 * what is already there (a metric of the same name registered by something else). The message
 * names the feature, the option and the value.
 */
export class InvalidOperationsOptionError extends SchedulerError {
  readonly code = 'INVALID_OPERATIONS_OPTION' as const;
  constructor(
    /** Where the option was given, e.g. `ScheduleMetricsModule.forRoot`. */
    readonly where: string,
    /** The option, e.g. `prefix`. */
    readonly option: string,
    /** The value that was refused. */
    readonly value: unknown,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`Invalid ${option} in ${where}: ${describeValue(value)} ${reason}`);
  }
}

/**
 * What a driver's error says, for a store error's message: its message, or for one without (a
 * refused connection is an `AggregateError` with none) its code or the first of its errors.
 */
function causeText(cause: unknown): string | undefined {
  if (!(cause instanceof Error)) return undefined;
  if (cause.message) return cause.message;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return cause instanceof AggregateError ? causeText(cause.errors[0]) : undefined;
}

/** A short text for an error of any type: its message, the string itself, or its JSON. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    return String(error);
  }
}

/** Renders a value for an error message: strings quoted, everything else as JavaScript would show it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
