import { DuplicateJobError, errorMessage, JobNotFoundError, SchedulerAlreadyRunningError, SchedulerNotRunningError, SchedulerShutdownError } from '../errors';
import { SchedulerEvent, SchedulerEventType } from '../events';
import { Trigger } from '../triggers/trigger';
import { InstanceRecord } from '../stores/job-store';
import { Clock, systemClock } from './clock';
import { EventHub, SchedulerEventListener } from './event-hub';
import { Job, JobDefinition, JobInfo, JobStatus, Waker } from './job';
import { JobOptions, resolveJobOptions } from './job-options';
import { assertJobName } from './job-name';
import { Runner, TimerTask } from './runner';
import { RunObserver, RunObservers } from './run-observer';
import { Coordinator, EndedRun } from './coordinator';
import { Coordinators } from './coordinators';
import { SchedulerOptions, SchedulerState } from './scheduler-options';
import { ClusterHost } from './cluster-coordinator';
import { QueueWaker } from './queue-waker';
import { StartBatches } from './start-batches';
import { Exhausted, WakeUps } from './wake-ups';
import { MisfirePolicy, takeDueTicks } from './due-ticks';
import { QueueEntry, TimerQueue } from './timer-queue';

export type { SchedulerOptions, SchedulerState } from './scheduler-options';

/** An external timer may fire this much before the tick, by rounding; the tick is then due. */
const EARLY_WAKE_SLACK_MS = 5;

/**
 * The scheduler, free of NestJS: a lifecycle state machine, the jobs, one timer queue, and the
 * runner. It computes each job's ticks and asks the job's {@link Coordinator} whose they are; it
 * does not know whether it runs alone or in a cluster. States: `idle` → `running` → `stopping` →
 * `stopped` (→ `running` again).
 */
export class Scheduler {
  readonly clock: Clock;
  readonly defaults: JobOptions;
  readonly shutdownTimeout: number;
  private readonly events: EventHub;
  private readonly queue: TimerQueue<QueueEntry>;
  private readonly runner: Runner;
  private readonly jobs = new Map<string, Job>();
  /** What watches runs from the inside ({@link observeRuns}); shared with the runner. */
  private readonly observers: RunObservers;
  private readonly wakeUps: WakeUps;
  private readonly waker: QueueWaker;
  private readonly starts: StartBatches;
  private readonly misfires: MisfirePolicy;
  /** Decide whose each tick is: this instance's, or the cluster's to share out. */
  private readonly coordinators: Coordinators;
  private currentState: SchedulerState = 'idle';
  private paused = false;
  private stopping: Promise<void> | null = null;
  private revision: number | null = null;
  /** Told when a check-in finds the store's revision changed (see {@link storeRevision}). */
  storeChanged: (() => void) | null = null;

  constructor(options: SchedulerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.defaults = options.defaults ?? {};
    this.shutdownTimeout = options.shutdownTimeout ?? 10_000;
    const onListenerError = options.onListenerError ?? ((error: unknown) => console.error('[Scheduler] event listener failed:', error));
    this.events = new EventHub(onListenerError);
    this.observers = new RunObservers(onListenerError);
    this.queue = new TimerQueue(this.clock, () => this.onWake());
    this.waker = new QueueWaker(this.queue);
    this.runner = new Runner(
      this.clock,
      this.queue,
      this.events,
      {
        accepting: () => this.currentState === 'running',
        paused: (job) => job.paused || this.paused,
        complete: (job, reason) => this.complete(job, reason),
        lease: (job, fencingToken, change) => this.coordinator(job).hold(job, fencingToken, change),
        owns: (job, fencingToken) => this.coordinator(job).owns(job, fencingToken),
      },
      this.observers,
    );
    // A run history is kept only in a shared store that keeps one: otherwise nothing is made per run.
    if (options.store?.shared && (options.store.historySize ?? 0) > 0) {
      this.observers.add({
        runEnded: (run, outcome, durationMs, error) => {
          const job = this.jobs.get(run.name);
          if (!job) return;
          const ended: EndedRun = { scheduledAt: run.scheduledMs, startedAt: run.firedMs, durationMs, attempt: run.attempt, outcome };
          if (outcome === 'failed') ended.error = errorMessage(error);
          this.coordinator(job).finished?.(job, ended);
        },
      });
    }
    this.starts = new StartBatches(this.clock, this.queue, {
      running: () => this.currentState === 'running',
      paused: (job) => job.paused || this.paused,
      coordinator: (job) => this.coordinator(job),
      dispatch: (job, tick, fencingToken, attempt) => this.runner.dispatch(job, tick, attempt, undefined, fencingToken),
    });
    this.misfires = new MisfirePolicy(this.runner, this.starts, this.events, {
      running: () => this.currentState === 'running',
      coordinator: (job) => this.coordinator(job),
      complete: (job) => this.complete(job, 'max-runs'),
    });
    this.wakeUps = new WakeUps(options.random ?? Math.random, (job) => this.coordinator(job));
    this.coordinators = new Coordinators(options, this.clock, this.events, this.clusterHost());
  }

  /** How the cluster's coordinator reaches back into the scheduler. */
  private clusterHost(): ClusterHost {
    return {
      armAfter: (job, after) => this.armAfter(job, after),
      job: (name) => this.jobs.get(name),
      live: (job) => this.jobs.get(job.name) === job && !job.paused && this.currentState === 'running',
      running: () => this.currentState === 'running',
      clusterJobs: { has: (name) => this.jobs.get(name)?.options.scope === 'cluster' },
      pausedInStore: (job) => this.pause(job.name, { byStore: true }),
      disarm: (job) => job.waker.cancel(job),
      rejected: (job, reason) => this.report('job.rejected', { job: job.name, reason, error: undefined }),
      runRecovered: (job, run) => this.misfires.runTakenOver(job, run, this.clock.now()),
      abortLease: (job, fencingToken) => this.runner.abortLease(job, fencingToken),
      skip: (job, tick, reason) => this.runner.skip(job, { scheduledAt: tick, attempt: 1 }, reason),
      activeRuns: () => this.runner.activeRuns(20),
      storeRevision: (revision) => {
        const changed = revision !== this.revision;
        this.revision = revision;
        if (changed) this.storeChanged?.();
      },
    };
  }

  /** The coordinator that decides the job's ticks. */
  private coordinator(job: Job): Coordinator {
    return this.coordinators.of(job);
  }

  get state(): SchedulerState {
    return this.currentState;
  }

  /** The shared store's revision at the last check-in: it changes when a job is saved, removed, paused or resumed; `null` before one. */
  get storeRevision(): number | null {
    return this.revision;
  }

  /** The instances alive in the cluster (checked in lately), or this one alone without a shared store. */
  instances(): Promise<InstanceRecord[]> {
    return this.coordinators.instances();
  }

  /** Emits an event on the scheduler's stream, for the layers above (a stored job rejected). */
  report<T extends 'job.rejected'>(type: T, fields: Omit<Extract<SchedulerEvent, { type: T }>, 'type' | 'at'>): void {
    this.events.emit(type, () => ({ at: this.now(), ...fields }) as Omit<Extract<SchedulerEvent, { type: T }>, 'type'>);
  }

  /** Subscribes to events, all or only some types. Returns the function that unsubscribes. */
  on(listener: SchedulerEventListener, types?: readonly SchedulerEventType[]): () => void {
    return this.events.on(listener, types);
  }

  /**
   * Adds an observer that watches every run from the inside: it may call the handler within a
   * context of its own (tracing), and is told each run's outcome (metrics). Returns the function
   * that removes it.
   */
  observeRuns(observer: RunObserver): () => void {
    return this.observers.add(observer);
  }

  /** Starts firing jobs. Throws {@link SchedulerAlreadyRunningError} if running or stopping. */
  start(): void {
    if (this.currentState === 'running' || this.currentState === 'stopping') {
      throw new SchedulerAlreadyRunningError(this.currentState);
    }
    this.currentState = 'running';
    const now = this.clock.now();
    for (const job of this.jobs.values()) if (!job.paused) this.arm(job, now, true);
    this.queue.start();
    this.coordinators.start();
    this.events.emit('scheduler.started', () => ({ at: new Date(now) }));
  }

  /**
   * Stops: no new run starts, runs in flight get their signal aborted and are awaited up to
   * `shutdownTimeout`, then every job is removed and no timer is left. Throws
   * {@link SchedulerNotRunningError} if the scheduler never started or already stopped; while
   * stopping, returns the shutdown in progress.
   */
  shutdown(): Promise<void> {
    if (this.currentState === 'stopping') return this.stopping!;
    if (this.currentState !== 'running') {
      return Promise.reject(new SchedulerNotRunningError('shut down', this.currentState));
    }
    this.currentState = 'stopping';
    this.stopping = this.stop().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async stop(): Promise<void> {
    this.events.emit('scheduler.stopping', () => ({ at: this.now(), inFlight: this.runner.active }));
    this.queue.stop();
    for (const job of this.jobs.values()) job.waker.cancel(job);
    // What was claimed and did not start goes back to the store, for another instance to run:
    // runs prepared ahead at once (they would hold their leases through the drain), then what
    // waits behind the runs in flight.
    this.starts.drop();
    this.runner.abortAll(new SchedulerShutdownError());
    const abandoned = await this.runner.drain(this.shutdownTimeout);
    for (const job of this.jobs.values()) this.runner.handBackWaiting(job, (token, work) => this.coordinator(job).handBack(job, token, work));
    await this.coordinators.stop();
    for (const job of this.jobs.values()) this.release(job);
    this.jobs.clear();
    this.queue.clear();
    this.paused = false;
    this.currentState = 'stopped';
    this.events.emit('scheduler.stopped', () => ({ at: this.now(), abandoned }));
  }

  /**
   * Adds a job. While running it is armed at once; before `start()` it waits for it.
   * Throws {@link DuplicateJobError} if the name is taken, {@link SchedulerNotRunningError} once
   * shutdown began, and `InvalidScheduleError` for bad options.
   */
  add(definition: JobDefinition): JobInfo {
    this.assertNotStopped('add a job');
    assertJobName(definition.name);
    if (this.jobs.has(definition.name)) throw new DuplicateJobError(definition.name);
    const options = resolveJobOptions(definition.name, definition.options, this.defaults);
    const job = new Job(
      definition.name,
      definition.trigger,
      definition.handler,
      options,
      Boolean(definition.paused),
      definition.waker ?? this.waker,
      definition.meta,
      definition.source,
    );
    job.startDelayMs = definition.startDelayMs ?? 0;
    job.persisted = Boolean(definition.persisted);
    this.jobs.set(job.name, job);
    if (this.currentState === 'running' && !job.paused) this.arm(job, this.clock.now(), !definition.fresh);
    this.events.emit('job.added', () => ({ at: this.now(), job: job.name }));
    return job.info();
  }

  /** Removes a job. Its runs in flight finish; nothing else of it runs. */
  remove(name: string): void {
    const job = this.get(name);
    job.waker.cancel(job);
    this.release(job);
    this.jobs.delete(name);
    this.events.emit('job.removed', () => ({ at: this.now(), job: name }));
  }

  has(name: string): boolean {
    return this.jobs.has(name);
  }

  /** A snapshot of one job. Throws {@link JobNotFoundError}. */
  info(name: string): JobInfo {
    return this.get(name).info();
  }

  /** Snapshots of every job, in the order they were added. */
  list(): JobInfo[] {
    return [...this.jobs.values()].map((job) => job.info());
  }

  /** Names of every job. */
  names(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * Pauses one job: its ticks stop running until {@link resume}. `byStore`: because the shared
   * store says it is paused for every instance (see `JobStatus.pausedByStore`).
   */
  pause(name: string, { byStore = false }: { byStore?: boolean } = {}): void {
    const job = this.get(name);
    if (job.paused) return;
    job.pausedByStore = byStore;
    job.paused = true;
    job.waker.pause(job);
    this.events.emit('job.paused', () => ({ at: this.now(), job: name }));
  }

  /**
   * Resumes a paused job. By default ticks that fell in the pause go through the job's misfire
   * policy; with `skipMissed` the job simply waits for its next tick from now (as `cron`'s `start()`).
   */
  resume(name: string, { skipMissed = false }: { skipMissed?: boolean } = {}): void {
    const job = this.get(name);
    if (!job.paused) return;
    job.paused = false;
    job.pausedByStore = false;
    this.events.emit('job.resumed', () => ({ at: this.now(), job: name }));
    if (this.currentState !== 'running' || job.completed) return;
    const now = this.clock.now();
    if (skipMissed || job.nextTick === null) this.arm(job, now);
    else if (job.nextTick <= now && !this.paused) this.process(job, now);
    else this.wakeUps.at(job, job.nextTick);
  }

  /** Pauses every job; ticks that fall in the pause go through each job's misfire policy on {@link resumeAll}. */
  pauseAll(): void {
    this.assertRunning('pause the scheduler');
    if (this.paused) return;
    this.paused = true;
    this.events.emit('scheduler.paused', () => ({ at: this.now() }));
  }

  /** Resumes after {@link pauseAll}. */
  resumeAll(): void {
    this.assertRunning('resume the scheduler');
    if (!this.paused) return;
    this.paused = false;
    this.events.emit('scheduler.resumed', () => ({ at: this.now() }));
    const now = this.clock.now();
    for (const job of this.jobs.values()) {
      if (job.paused || job.completed || job.nextTick === null) continue;
      if (job.nextTick <= now) this.process(job, now);
    }
  }

  /**
   * Runs a job now, under its overlap policy. Resolves when that run settles (its outcome is in
   * the events and the job's history), or at once if the overlap policy skipped it.
   */
  trigger(name: string): Promise<void> {
    const job = this.get(name);
    this.assertRunning(`trigger job "${name}"`);
    return new Promise((resolve) => this.runner.dispatch(job, this.clock.now(), 1, resolve));
  }

  /** Another instance handed work back to the store (announced): take it up now rather than at the next sweep. */
  leasesHandedBack(): void {
    this.coordinators.sweepSoon();
  }

  /** Resolves once no run of the job is in flight. */
  whenIdle(name: string): Promise<void> {
    return this.runner.whenIdle(this.get(name));
  }

  /** What the layers above read of a job besides {@link info}, or `undefined` if there is no such job. */
  status(name: string): JobStatus | undefined {
    return this.jobs.get(name)?.status();
  }

  /**
   * Calls the store for the layers above (connection, sync of stored jobs), tracking outages with
   * the scheduler's own calls: one `store.unavailable` per outage, whoever met it first.
   */
  callStore<T>(operation: () => Promise<T>): Promise<T> {
    return this.coordinators.track(operation);
  }

  /** Gives a job a new trigger, and a fresh start: an interval counts from now, `maxRuns` from 0. */
  reschedule(name: string, trigger: Trigger): void {
    const job = this.get(name);
    job.waker.cancel(job);
    job.trigger = trigger;
    job.completed = false;
    job.runs = 0;
    job.nextTick = null;
    job.planned = null;
    if (this.currentState === 'running' && !job.paused) this.arm(job, this.clock.now());
    this.events.emit('job.rescheduled', () => ({ at: this.now(), job: name, trigger: trigger.toString() }));
  }

  /**
   * Hands a job's wake-ups to a waker of its own from now on (a decorated interval whose Node
   * timer someone asked for). Until then the job rides the shared timer queue. @internal
   */
  attachWaker(name: string, waker: Waker): void {
    const job = this.get(name);
    if (job.waker !== this.waker) return;
    job.waker.cancel(job);
    job.waker = waker;
    if (this.currentState === 'running' && !job.completed && job.nextTick !== null) this.wakeUps.at(job, job.dueAt);
  }

  /** Called by a job's own {@link Waker} when its timer fires. */
  wake(job: Job): void {
    if (this.jobs.get(job.name) !== job) return;
    const now = this.clock.now();
    this.wakeJob(job, job.at > now && job.at - now <= EARLY_WAKE_SLACK_MS ? job.at : now);
  }

  private onWake(): void {
    this.coordinators.learnedLead.adjust();
    const now = this.clock.now();
    for (const entry of this.queue.takeDue(now)) {
      if (entry instanceof Job) this.wakeJob(entry, now);
      else (entry as TimerTask).fire();
    }
  }

  private wakeJob(job: Job, now: number): void {
    if (job.removed || job.completed || job.paused || this.paused || this.currentState !== 'running') return;
    if (job.nextTick === null || job.at > now) return;
    this.process(job, now);
  }

  /**
   * Handles every tick of `job` due by `now`: asks the job's coordinator for the latest, and hands
   * the answer to the misfire policy.
   */
  private process(job: Job, now: number): void {
    const due = takeDueTicks(job, now);
    // Arm the next wake-up before any run starts: a handler that clears its job's timer clears that one.
    const done = this.wakeUps.next(job);
    if (due !== null) {
      const from = this.misfires.firstToRun(job, due);
      this.coordinator(job).claim(job, due.latest, from, (decision) => this.misfires.carryOut(job, due, decision));
    }
    if (done && !job.completed && !job.removed) this.complete(job, done);
  }

  /**
   * Computes the first tick from `now` (after the job's start delay, the first time) and queues the
   * job, once its coordinator placed it. An interval counts from `startAt`, or from then.
   */
  private arm(job: Job, now: number, fromWatermark = false): void {
    const from = now + job.startDelayMs;
    const delayed = job.startDelayMs > 0;
    job.startDelayMs = 0;
    job.anchor = job.options.startAt ?? from;
    this.coordinator(job).place(job, from, fromWatermark && !delayed);
  }

  private armAfter(job: Job, after: number): void {
    job.nextTick = job.trigger.next(after, job.anchor);
    const done = this.wakeUps.next(job);
    if (done) this.complete(job, done);
  }

  /** Marks a job gone, drops its waiting retries, and lets callers waiting on its held-back runs go. */
  private release(job: Job): void {
    job.removed = true;
    this.runner.cancelRetries(job);
    this.runner.dropBacklog(job);
  }

  private complete(job: Job, reason: Exhausted | 'max-runs'): void {
    if (job.completed) return;
    job.completed = true;
    job.waker.cancel(job);
    this.events.emit('job.completed', () => ({ at: this.now(), job: job.name, reason }));
  }

  private get(name: string): Job {
    const job = this.jobs.get(name);
    if (!job) throw new JobNotFoundError(name);
    return job;
  }

  private assertRunning(action: string): void {
    if (this.currentState !== 'running') throw new SchedulerNotRunningError(action, this.currentState);
  }

  private assertNotStopped(action: string): void {
    if (this.currentState === 'stopping' || this.currentState === 'stopped') {
      throw new SchedulerNotRunningError(action, this.currentState);
    }
  }

  private now(): Date {
    return new Date(this.clock.now());
  }
}
