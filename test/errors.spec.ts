import {
  ClockBackwardsError,
  DashboardOptionsError,
  DuplicateJobError,
  InvalidOperationsOptionError,
  InvalidScheduleError,
  InvalidTimeError,
  JobNotFoundError,
  JobTargetNotAllowedError,
  LeaseLostError,
  PeerDependencyMissingError,
  RescheduleRefusedError,
  RunTimeoutError,
  SchedulerAlreadyRunningError,
  SchedulerError,
  SchedulerNotRunningError,
  SchedulerShutdownError,
  StoreUnavailableError,
  WorkerExitedError,
  WorkerTargetError,
} from '../lib';
import { errorMessage } from '../lib/errors';

/** Every error the module throws on purpose is a SchedulerError with a stable code, its class's name, and a message that says what happened. */
describe('errors', () => {
  it.each([
    [
      new SchedulerNotRunningError('pause the scheduler', 'stopped'),
      'SCHEDULER_NOT_RUNNING',
      'Cannot pause the scheduler: the scheduler is not running (state: stopped).',
    ],
    [new SchedulerAlreadyRunningError('running'), 'SCHEDULER_ALREADY_RUNNING', 'Cannot start: the scheduler is already running.'],
    [new JobNotFoundError('sync'), 'JOB_NOT_FOUND', 'No job was found with the given name (sync).'],
    [new DuplicateJobError('sync'), 'DUPLICATE_JOB', 'Job with the given name (sync) already exists. Ignored.'],
    [
      new InvalidScheduleError('sync', 'jitterMs', -1, 'must not be negative.'),
      'INVALID_SCHEDULE',
      'Invalid jitterMs for job "sync": -1 must not be negative.',
    ],
    [new JobTargetNotAllowedError('sync', 'Reports.drop', 'no.'), 'JOB_TARGET_NOT_ALLOWED', 'Job "sync" cannot target Reports.drop: no.'],
    [new StoreUnavailableError('redis', 'no answer within 5000 ms'), 'STORE_UNAVAILABLE', 'The job store (redis) is unavailable: no answer within 5000 ms'],
    [new RunTimeoutError('sync', 500), 'RUN_TIMED_OUT', 'Job "sync" timed out after 500 ms'],
    [new LeaseLostError('sync', 7), 'LEASE_LOST', 'Job "sync" lost the lease of its run (fencing token 7) to another instance'],
    [new SchedulerShutdownError(), 'SCHEDULER_SHUTDOWN', 'The scheduler is shutting down'],
    [new WorkerTargetError('export', 'the module has no export "hash"'), 'WORKER_TARGET_INVALID', 'the module has no export "hash"'],
    [new WorkerExitedError(3), 'WORKER_EXITED', 'The worker thread exited with code 3'],
    [
      new RescheduleRefusedError('sync'),
      'RESCHEDULE_REFUSED',
      'Cannot reschedule job "sync" on this instance alone: with a shared store it is a cluster-wide job that each instance defines for itself ' +
        '(a decorator, addCronJob, or addJob without persist), so the other instances would keep the old schedule. ' +
        "To reschedule it for every instance, add it with addJob({ ..., persist: true }); to run and reschedule it on each instance on its own, give it scope: 'instance'.",
    ],
    [
      new InvalidTimeError('ScheduleTestingClock.advanceBy', '1x', 'is not a duration.'),
      'INVALID_TIME',
      'Invalid time given to ScheduleTestingClock.advanceBy: "1x" is not a duration.',
    ],
    [
      new ClockBackwardsError('ScheduleTestingClock.advanceTo', new Date('2026-01-01T00:01:00Z'), new Date('2026-01-01T00:00:00Z')),
      'CLOCK_BACKWARDS',
      'ScheduleTestingClock.advanceTo cannot move time back from 2026-01-01T00:01:00.000Z to 2026-01-01T00:00:00.000Z: the clock only moves forward.',
    ],
    [
      new DashboardOptionsError('path', '/', 'must name a path below the root, e.g. "/scheduler".'),
      'DASHBOARD_OPTIONS_INVALID',
      'Invalid path in the ScheduleDashboardModule options: "/" must name a path below the root, e.g. "/scheduler".',
    ],
    [
      new PeerDependencyMissingError('prom-client', 'ScheduleMetricsModule'),
      'PEER_DEPENDENCY_MISSING',
      'ScheduleMetricsModule needs the package "prom-client", which is not installed; run: npm install prom-client',
    ],
    [
      new InvalidOperationsOptionError('ScheduleMetricsModule.forRoot', 'prefix', '1x', 'must start with a letter.'),
      'INVALID_OPERATIONS_OPTION',
      'Invalid prefix in ScheduleMetricsModule.forRoot: "1x" must start with a letter.',
    ],
  ] as const)('%s', (error, code, message) => {
    expect(error).toBeInstanceOf(SchedulerError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
    expect(error.message).toBe(message);
  });

  it('a store error keeps what went wrong apart from the store, from a detail or a cause', () => {
    expect(new StoreUnavailableError('postgres', 'down').detail).toBe('down');
    expect(new StoreUnavailableError('postgres', undefined, { cause: new Error('ECONNREFUSED') })).toMatchObject({
      detail: 'ECONNREFUSED',
      message: 'The job store (postgres) is unavailable: ECONNREFUSED',
    });
    expect(new StoreUnavailableError('postgres').message).toBe('The job store (postgres) is unavailable.');
    // A refused connection: an AggregateError with no message of its own.
    const refused = new AggregateError([Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' })], '');
    expect(new StoreUnavailableError('postgres', undefined, { cause: refused }).detail).toBe('connect ECONNREFUSED 127.0.0.1:5999');
    expect(new StoreUnavailableError('postgres', undefined, { cause: Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }) }).detail).toBe(
      'ECONNREFUSED',
    );
  });

  it('errorMessage gives a short text for an error of any type', () => {
    expect(errorMessage(new Error('disk full'))).toBe('disk full');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage({ code: 42 })).toBe('{"code":42}');
    expect(errorMessage(undefined)).toBe('undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(errorMessage(circular)).toBe('[object Object]');
  });
});
