import { errorMessage, LeaseLostError, RunTimeoutError } from '../errors';
import { Clock } from './clock';
import { EventHub } from './event-hub';
import { Job, PendingRun, RunOutcome } from './job';
import { ActiveRun } from './active-run';
import { QueueEntry, TimerQueue } from './timer-queue';
import { RunObservers } from './run-observer';

/** A timed action in the scheduler's timer queue: a run's timeout, a retry. */
export class TimerTask implements QueueEntry {
  at = 0;
  index = -1;
  seq = 0;
  constructor(
    readonly fire: () => void,
    readonly ref: boolean,
  ) {}
}

/** What the runner needs from the scheduler that owns it. */
export interface RunnerHost {
  /** False once shutdown began: no new run may start. */
  accepting(): boolean;
  /** Whether the job, or the whole scheduler, is paused: held-back runs and retries are dropped. */
  paused(job: Job): boolean;
  /** The job reached `maxRuns`. */
  complete(job: Job, reason: 'max-runs'): void;
  /**
   * Something of the job that holds a store lease (a run, a held-back run, a waiting retry) begins
   * (+1) or ends (-1); the lease goes once nothing holds it.
   */
  lease(job: Job, fencingToken: number, change: 1 | -1): void;
  /** Whether work under the lease may still start: false once the store said it is another's. */
  owns(job: Job, fencingToken: number | undefined): boolean;
}

/**
 * Runs jobs: applies the overlap policy, calls the handler with its context, enforces `timeoutMs`,
 * schedules retries, records outcomes and emits run events. Errors never escape: a handler that
 * throws, rejects or never settles is reported, and the job stays scheduled.
 */
export class Runner {
  /** Runs in flight, in no order (a run knows its slot): starting and settling allocate nothing. */
  private readonly inFlight: ActiveRun[] = [];
  private drained: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly queue: TimerQueue<QueueEntry>,
    private readonly events: EventHub,
    private readonly host: RunnerHost,
    /** Watch runs from the inside (see `RunObserver`); the scheduler adds and removes them. */
    private readonly observers: RunObservers = new RunObservers(() => undefined),
  ) {}

  /** Runs in flight now. */
  get active(): number {
    return this.inFlight.length;
  }

  /**
   * Starts a run for `scheduledAt`, or holds it back or skips it by the job's overlap policy.
   * `onDone` is called when the run settles, or at once if it does not happen.
   */
  dispatch(job: Job, scheduledAt: number, attempt = 1, onDone?: () => void, fencingToken?: number): void {
    this.hold(job, fencingToken);
    const accepting = this.host.accepting();
    if (accepting && (!job.busy || job.options.overlap === 'allow')) return this.start(job, scheduledAt, attempt, onDone, fencingToken);
    const run: PendingRun = { scheduledAt, attempt, onDone, fencingToken };
    if (!accepting) return this.drop(job, run);
    if (job.options.overlap === 'queue' && !job.backlog?.length) {
      (job.backlog ??= []).push(run);
      return;
    }
    this.skip(job, run, 'overlap');
  }

  /**
   * The store gave the lease to another instance (or it ran out unrenewed): the job's runs under it
   * are aborted, and its held-back runs and waiting retries under it are dropped, never to run with it.
   */
  abortLease(job: Job, fencingToken: number): void {
    for (const run of [...this.inFlight]) if (run.job === job && run.fencingToken === fencingToken) run.abort(new LeaseLostError(job.name, fencingToken));
    const stale = job.backlog?.filter((run) => run.fencingToken === fencingToken);
    if (stale?.length) {
      job.backlog = job.backlog!.filter((run) => run.fencingToken !== fencingToken);
      stale.forEach((run) => this.drop(job, run));
    }
    for (const [task, run] of job.retries ?? []) {
      if (run.fencingToken !== fencingToken) continue;
      this.queue.cancel(task);
      job.retries!.delete(task);
      this.drop(job, run);
    }
  }

  /**
   * Hands back the job's work that did not start when the scheduler stops — held-back runs and
   * waiting retries — lease by lease: the ticks from the oldest to the newest, at the oldest one's
   * attempt. Not the work of a lease a run still holds (abandoned by the shutdown): that lease runs
   * out, and its ticks are taken over or reported lost. The work itself is dropped with the job.
   */
  handBackWaiting(job: Job, handBack: (fencingToken: number, work: { tick: number; from: number; attempt: number }) => void): void {
    const byLease = new Map<number, PendingRun[]>();
    for (const run of [...(job.backlog ?? []), ...(job.retries?.values() ?? [])]) {
      if (run.fencingToken !== undefined) byLease.set(run.fencingToken, [...(byLease.get(run.fencingToken) ?? []), run]);
    }
    for (const [fencingToken, runs] of byLease) {
      if (this.inFlight.some((run) => run.job === job && run.fencingToken === fencingToken)) continue;
      const oldest = runs.reduce((a, b) => (b.scheduledAt < a.scheduledAt ? b : a));
      handBack(fencingToken, { tick: Math.max(...runs.map((run) => run.scheduledAt)), from: oldest.scheduledAt, attempt: oldest.attempt });
    }
  }

  /**
   * Lease bookkeeping. Each thing that holds a lease — a held-back run, a run, a waiting retry —
   * holds it once; holding passes from one to the next (a held-back run starts, a failed run
   * leaves a retry) and is given back when the thing ends.
   */
  private hold(job: Job, fencingToken: number | undefined): void {
    if (fencingToken !== undefined) this.host.lease(job, fencingToken, 1);
  }

  private unhold(job: Job, fencingToken: number | undefined): void {
    if (fencingToken !== undefined) this.host.lease(job, fencingToken, -1);
  }

  /** Resolves once no run of the job is in flight. */
  whenIdle(job: Job): Promise<void> {
    if (job.running === 0) return Promise.resolve();
    return new Promise((resolve) => (job.idleWaiters ??= []).push(resolve));
  }

  /**
   * Queues missed ticks to run one after another. At most `limit` wait at any time: the oldest
   * beyond are dropped, reported skipped.
   */
  enqueue(job: Job, runs: PendingRun[], limit: number): void {
    const backlog = (job.backlog ??= []);
    for (const run of runs) this.hold(job, run.fencingToken);
    backlog.push(...runs);
    while (backlog.length > limit) this.skip(job, backlog.shift()!, 'overlap');
    if (!job.busy) this.next(job);
  }

  /** Lets go of a removed job's held-back runs: their callers, and their holds on the lease. */
  dropBacklog(job: Job): void {
    const backlog = job.backlog;
    job.backlog = null;
    backlog?.forEach((pending) => this.drop(job, pending));
  }

  /** Aborts the signal of every run in flight. */
  abortAll(reason: unknown): void {
    for (const run of [...this.inFlight]) run.abort(reason);
  }

  /**
   * Resolves when no run is in flight, or after `timeoutMs`; returns the names of the jobs whose
   * runs were still going then.
   */
  drain(timeoutMs: number): Promise<string[]> {
    if (this.inFlight.length === 0) return Promise.resolve([]);
    if (timeoutMs <= 0) return Promise.resolve(this.runningJobs());
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(
        () => {
          this.drained = null;
          resolve(this.runningJobs());
        },
        Math.min(timeoutMs, this.clock.maxDelay),
      );
      this.drained = () => {
        this.clock.clearTimer(timer);
        this.drained = null;
        resolve([]);
      };
    });
  }

  /** How many runs are in flight, and the jobs of the first `limit` of them. */
  activeRuns(limit: number): { count: number; jobs: string[] } {
    const jobs = new Set<string>();
    for (const run of this.inFlight) {
      if (jobs.size === limit) break;
      jobs.add(run.job.name);
    }
    return { count: this.inFlight.length, jobs: [...jobs] };
  }

  /** Names of the jobs with runs in flight. */
  private runningJobs(): string[] {
    return [...new Set([...this.inFlight].map((run) => run.job.name))];
  }

  /** Reports a run that does not happen, and lets its caller go. */
  skip(job: Job, run: PendingRun, reason: 'overlap' | 'paused' | 'completed'): void {
    const consecutive = job.countSkip(reason === 'overlap' ? this.clock.now() : undefined);
    this.events.emit('run.skipped', () => ({
      at: this.now(),
      job: job.name,
      scheduledAt: new Date(run.scheduledAt),
      attempt: run.attempt,
      reason,
      consecutive,
    }));
    this.drop(job, run);
  }

  /** Lets go of a run that does not happen: its caller, and its hold on the lease. */
  private drop(job: Job, run: PendingRun): void {
    run.onDone?.();
    this.unhold(job, run.fencingToken);
  }

  private start(job: Job, scheduledAt: number, attempt: number, onDone: (() => void) | undefined, fencingToken: number | undefined): void {
    const { maxRuns, timeoutMs } = job.options;
    if (attempt === 1 && maxRuns !== null && job.runs >= maxRuns) {
      this.host.complete(job, 'max-runs');
      return this.skip(job, { scheduledAt, attempt, onDone, fencingToken }, 'completed');
    }
    const startedAt = this.clock.now();
    const run = new ActiveRun(job, scheduledAt, startedAt, attempt, onDone, fencingToken);
    run.slot = this.inFlight.push(run) - 1;
    job.running++;
    job.started(startedAt);
    if (attempt === 1) job.runs++;
    // Checked here, not only in emit(): the hot path does not even make the closure.
    if (this.events.wants('run.started'))
      this.events.emit('run.started', () => ({ at: new Date(startedAt), job: job.name, scheduledAt: new Date(scheduledAt), attempt }));
    if (attempt === 1 && maxRuns !== null && job.runs >= maxRuns) this.host.complete(job, 'max-runs');
    if (timeoutMs !== null) {
      run.timeout = new TimerTask(() => this.timeOut(run, timeoutMs), false);
      this.queue.schedule(run.timeout, startedAt + timeoutMs);
    }
    // Checked here: without observers, a run makes nothing for them.
    const watch = this.observers.any ? this.observers.started(run) : null;
    run.watch = watch;
    let result: unknown;
    try {
      result = watch ? watch.around(() => job.handler(run, job.source)) : job.handler(run, job.source);
    } catch (error) {
      this.settle(run, error, true);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        () => this.settle(run, undefined, false),
        (error: unknown) => this.settle(run, error, true),
      );
    } else {
      this.settle(run, undefined, false);
    }
  }

  private timeOut(run: ActiveRun, timeoutMs: number): void {
    run.timeout = null;
    run.timedOut = true;
    const reason = new RunTimeoutError(run.job.name, timeoutMs);
    run.abort(reason);
    const willRetry = this.retry(run);
    this.record(run, 'timed-out');
    run.watch?.ended('timed-out', reason);
    if (this.observers.any) this.observers.ended(run, 'timed-out', this.clock.now() - run.firedMs, reason);
    this.events.emit('run.timed-out', () => ({
      at: this.now(),
      job: run.job.name,
      scheduledAt: new Date(run.scheduledMs),
      attempt: run.attempt,
      timeoutMs,
      willRetry,
    }));
    // The outcome is known; the slot stays taken until the handler settles.
    run.done();
  }

  private settle(run: ActiveRun, error: unknown, failed: boolean): void {
    const { job } = run;
    const last = this.inFlight.pop()!;
    if (last !== run) {
      this.inFlight[run.slot] = last;
      last.slot = run.slot;
    }
    job.running--;
    if (run.timeout) this.queue.cancel(run.timeout);
    if (!run.timedOut) {
      const durationMs = this.clock.now() - run.firedMs;
      const willRetry = failed && this.retry(run);
      this.record(run, failed ? 'failed' : 'succeeded', failed ? error : undefined, durationMs);
      run.watch?.ended(failed ? 'failed' : 'succeeded', failed ? error : undefined);
      if (this.observers.any) this.observers.ended(run, failed ? 'failed' : 'succeeded', durationMs, failed ? error : undefined);
      if (failed) {
        this.events.emit('run.failed', () => ({
          at: this.now(),
          job: job.name,
          scheduledAt: new Date(run.scheduledMs),
          attempt: run.attempt,
          durationMs,
          error,
          willRetry,
        }));
      } else if (this.events.wants('run.succeeded')) {
        this.events.emit('run.succeeded', () => ({ at: this.now(), job: job.name, scheduledAt: new Date(run.scheduledMs), attempt: run.attempt, durationMs }));
      }
    }
    run.done();
    this.unhold(job, run.fencingToken);
    if (job.running === 0 && job.idleWaiters) {
      const waiters = job.idleWaiters;
      job.idleWaiters = null;
      for (const resolve of waiters) resolve();
    }
    // The overlap slot is free only now that the handler really settled.
    if (!job.busy) this.next(job);
    if (this.inFlight.length === 0) this.drained?.();
  }

  /** Starts the next held-back run, if any; a paused job drops it. */
  private next(job: Job): void {
    const pending = job.backlog?.shift();
    if (!pending) return;
    if (job.removed) return this.drop(job, pending);
    if (!this.host.accepting()) return this.keepForHandBack(job, pending);
    // Work under a lease that is no longer this instance's never runs with it.
    if (!this.host.owns(job, pending.fencingToken)) {
      this.drop(job, pending);
      return this.next(job);
    }
    if (this.host.paused(job)) return this.skip(job, pending, 'paused');
    this.startPending(job, pending);
  }

  /**
   * While the scheduler stops, work under a lease that did not start stays held back, to be
   * handed back with the job's other waiting work ({@link handBackWaiting}); without a lease, it goes.
   */
  private keepForHandBack(job: Job, pending: PendingRun): void {
    if (pending.fencingToken === undefined) return this.drop(job, pending);
    (job.backlog ??= []).unshift(pending);
  }

  private startPending(job: Job, { scheduledAt, attempt, onDone, fencingToken }: PendingRun): void {
    this.start(job, scheduledAt, attempt, onDone, fencingToken);
  }

  /** Schedules another attempt if the job allows one; returns whether it did. */
  private retry(run: ActiveRun): boolean {
    const { job } = run;
    const retry = job.options.retry;
    if (!retry || run.attempt > retry.attempts || job.removed || !this.host.owns(job, run.fencingToken)) return false;
    const pending: PendingRun = { scheduledAt: run.scheduledMs, attempt: run.attempt + 1, fencingToken: run.fencingToken };
    if (!this.host.accepting()) {
      // Stopping: a retry under a lease is handed back for another instance to make.
      if (run.fencingToken === undefined) return false;
      this.hold(job, run.fencingToken);
      (job.backlog ??= []).push(pending);
      return true;
    }
    const delay = retry.backoffMs * retry.factor ** (run.attempt - 1);
    const task: TimerTask = new TimerTask(() => {
      job.retries!.delete(task);
      // The retry's hold on the lease passes to the run it becomes.
      if (job.removed || !this.host.owns(job, pending.fencingToken)) return this.drop(job, pending);
      if (!this.host.accepting()) return this.keepForHandBack(job, pending);
      if (this.host.paused(job)) return this.skip(job, pending, 'paused');
      // A retry takes its turn: after the run still holding the slot, never beside it.
      if (job.running > 0 && job.options.overlap !== 'allow') (job.backlog ??= []).unshift(pending);
      else this.startPending(job, pending);
    }, job.ref);
    this.hold(job, run.fencingToken);
    (job.retries ??= new Map()).set(task, pending);
    this.queue.schedule(task, this.clock.now() + delay);
    return true;
  }

  /** Forgets a removed job's waiting retries, so their timers go too. */
  cancelRetries(job: Job): void {
    for (const [task, run] of job.retries ?? []) {
      this.queue.cancel(task);
      this.unhold(job, run.fencingToken);
    }
    job.retries = null;
  }

  private record(run: ActiveRun, outcome: RunOutcome, error?: unknown, durationMs = this.clock.now() - run.firedMs): void {
    run.job.record(run.scheduledMs, run.firedMs, durationMs, run.attempt, outcome, outcome === 'failed' ? errorMessage(error) : undefined);
  }

  private now(): Date {
    return new Date(this.clock.now());
  }
}

/** Whether `value` is a promise, or any object with a `then` method. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
