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
  | 'STORE_UNAVAILABLE';

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
    detail?: string,
    options?: { cause?: unknown },
  ) {
    const reason = detail ?? (options?.cause instanceof Error ? options.cause.message : undefined);
    super(`The job store (${store}) is unavailable${reason ? `: ${reason}` : '.'}`, options);
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
