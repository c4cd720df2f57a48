import { DuplicateJobError, JobNotFoundError, SchedulerAlreadyRunningError, SchedulerNotRunningError } from '../errors';
import { SchedulerEvent, SchedulerEventType } from '../events';
import { Trigger } from '../triggers/trigger';
import { Clock, systemClock, TimerHandle } from './clock';
import { EventHub, SchedulerEventListener } from './event-hub';
import { Job, JobDefinition, JobInfo, PendingRun, Waker } from './job';
import { JobOptions, resolveJobOptions } from './job-options';
import { Runner, SchedulerShutdownError, TimerTask } from './runner';
import { JobStore } from '../stores/job-store';
import { ClaimDecision, Claims, ClaimsTiming } from './claims';
import { countTicks, lastTicks, lastTickUpTo } from './ticks';
import { QueueEntry, TimerQueue } from './timer-queue';

/** Where the scheduler is in its life. */
export type SchedulerState = 'idle' | 'running' | 'stopping' | 'stopped';

/** Options of the engine. */
export interface SchedulerOptions {
  /** Time source; the default reads `Date.now()` and the global timers at call time. */
  clock?: Clock;
  /** How long shutdown waits for runs in flight, in ms. Default 10 000. */
  shutdownTimeout?: number;
  /** Job options applied to every job, under each job's own. */
  defaults?: JobOptions;
  /** Source of randomness for `jitterMs`, returning [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Receives errors thrown by event listeners. Default `console.error`. */
  onListenerError?: (error: unknown) => void;
  /** Where jobs are coordinated with other instances. Without one, or with one that is not shared, every tick runs here. */
  store?: JobStore;
  /** This instance's name in the store. */
  instanceId?: string;
  /** Timing of the cluster protocol, with a shared store. */
  cluster?: Partial<ClaimsTiming>;
}

const DEFAULT_TIMING: ClaimsTiming = { leaseMs: 30_000, syncEveryMs: 5_000, timeoutMs: 5_000, claimAheadMs: 0 };

/** `defaults`, with the values `given` sets (an option given as `undefined` keeps its default). */
function withDefaults<T extends object>(defaults: T, given: Partial<T> = {}): T {
  const merged = { ...defaults };
  for (const key of Object.keys(given) as Array<keyof T>) if (given[key] !== undefined) merged[key] = given[key] as T[keyof T];
  return merged;
}

/**
 * Runs prepared ahead of their tick, flat: job, tick, fencing token, job… The arrays are used
 * again for later batches, keeping their room: a batch of 10,000 runs is an array large enough
 * to be allocated outside the young generation, and one each second would keep the collector busy.
 */
class PlannedRuns {
  private static readonly spare: PlannedRuns[] = [];
  private readonly items: Array<Job | number | undefined> = [];
  size = 0;

  static take(): PlannedRuns {
    return PlannedRuns.spare.pop() ?? new PlannedRuns();
  }

  push(job: Job, tick: number, fencingToken: number | undefined): void {
    this.items[this.size++] = job;
    this.items[this.size++] = tick;
    this.items[this.size++] = fencingToken;
  }

  job(i: number): Job {
    return this.items[i] as Job;
  }

  tick(i: number): number {
    return this.items[i + 1] as number;
  }

  fencingToken(i: number): number | undefined {
    return this.items[i + 2] as number | undefined;
  }

  /** Forgets the runs (not to hold on to their jobs) and keeps the array for another batch. */
  recycle(): void {
    this.items.fill(undefined, 0, this.size);
    this.size = 0;
    if (PlannedRuns.spare.length < 4) PlannedRuns.spare.push(this);
  }
}

/** The most the wake-up of a job of this instance is brought forward. */
const MAX_LEAD_MS = 250;
/** How fast the lead shrinks back after wake-ups that were ready in time. */
const LEAD_DECAY = 0.99;

/** A decision for jobs that are not claimed: the tick is this instance's. */
const LOCAL = Symbol('local');

// Taken at load: jobs armed in one event-loop turn register together, even under fake timers installed later.
const nextTurn = globalThis.setImmediate;

/** An external timer may fire this much before the tick, by rounding; the tick is then due. */
const EARLY_WAKE_SLACK_MS = 5;

/**
 * The scheduler core, free of NestJS: a lifecycle state machine, the jobs, one timer queue, and
 * the runner. States: `idle` → `running` → `stopping` → `stopped` (→ `running` again).
 */
export class Scheduler {
  readonly clock: Clock;
  readonly defaults: JobOptions;
  readonly shutdownTimeout: number;
  private readonly events: EventHub;
  private readonly queue: TimerQueue<QueueEntry>;
  private readonly runner: Runner;
  private readonly jobs = new Map<string, Job>();
  private readonly random: () => number;
  private readonly claims: Claims | null;
  private currentState: SchedulerState = 'idle';
  private paused = false;
  private stopping: Promise<void> | null = null;
  private registering: Array<{ job: Job; from: number; fromWatermark: boolean }> = [];
  /** Timers of registrations to try again. */
  private readonly retries = new Set<TimerHandle>();
  /**
   * How long before its tick a job of this instance wakes up: the bookkeeping of a tick is done
   * ahead, so that the run starts on time. Learned from the wake-ups that were not ready in time;
   * 0 while everything is (always, on a virtual clock). A cluster-wide job is claimed ahead by
   * `claimAheadMs` and a preference of each instance instead ({@link Claims.lead}): a lead learned
   * by each would hand every tick to the instance that had learned the longest.
   */
  private lead = 0;
  /** The worst lateness of a start of a job of this instance since the last wake-up. */
  private overshoot = 0;
  /**
   * Runs prepared ahead, by the instant they start, as job, tick, fencing token, job… (the tick
   * is also `job.planned` until the run starts, or the job is rescheduled); one map for jobs that
   * keep the process alive, one for the others.
   */
  private readonly startBatches = [new Map<number, PlannedRuns>(), new Map<number, PlannedRuns>()];

  constructor(options: SchedulerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.defaults = options.defaults ?? {};
    this.shutdownTimeout = options.shutdownTimeout ?? 10_000;
    this.random = options.random ?? Math.random;
    const onListenerError = options.onListenerError ?? ((error: unknown) => console.error('[Scheduler] event listener failed:', error));
    this.events = new EventHub(onListenerError);
    this.queue = new TimerQueue(this.clock, () => this.onWake());
    this.runner = new Runner(this.clock, this.queue, this.events, {
      accepting: () => this.currentState === 'running',
      paused: (job) => job.paused || this.paused,
      complete: (job, reason) => this.complete(job, reason),
      lease: (job, fencingToken, change) => this.claims?.hold(job, fencingToken, change),
    });
    this.claims = options.store?.shared
      ? new Claims(
          options.store,
          options.instanceId ?? 'instance',
          this.clock,
          this.events,
          {
            job: (name) => this.jobs.get(name),
            runRecovered: (job, tick, attempt, fencingToken) => this.runner.dispatch(job, tick, attempt, undefined, fencingToken),
            abortLease: (job, fencingToken) => this.runner.abortLease(job, fencingToken),
          },
          withDefaults(DEFAULT_TIMING, options.cluster),
        )
      : null;
  }

  get state(): SchedulerState {
    return this.currentState;
  }

  /** Whether the whole scheduler is paused with {@link pauseAll}. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Emits an event on the scheduler's stream, for the layers above (a stored job rejected). */
  report<T extends 'job.rejected'>(type: T, fields: Omit<Extract<SchedulerEvent, { type: T }>, 'type' | 'at'>): void {
    this.events.emit(type, () => ({ at: this.now(), ...fields }) as Omit<Extract<SchedulerEvent, { type: T }>, 'type'>);
  }

  /** Subscribes to events, all or only some types. Returns the function that unsubscribes. */
  on(listener: SchedulerEventListener, types?: readonly SchedulerEventType[]): () => void {
    return this.events.on(listener, types);
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
    this.claims?.start();
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
    for (const job of this.jobs.values()) job.waker?.cancel(job);
    this.runner.abortAll(new SchedulerShutdownError());
    const abandoned = await this.runner.drain(this.shutdownTimeout);
    for (const retry of this.retries) this.clock.clearTimer(retry);
    this.retries.clear();
    this.dropPlanned();
    await this.claims?.stop();
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
    if (this.jobs.has(definition.name)) throw new DuplicateJobError(definition.name);
    const options = resolveJobOptions(definition.name, definition.options, this.defaults);
    const job = new Job(
      definition.name,
      definition.trigger,
      definition.handler,
      options,
      Boolean(definition.paused),
      definition.waker,
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
    this.disarm(job);
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

  /** The jobs that pass `test`, in the order they were added. @internal */
  jobsWhere(test: (job: Job) => boolean): Job[] {
    return [...this.jobs.values()].filter(test);
  }

  /** Names of every job. */
  names(): string[] {
    return [...this.jobs.keys()];
  }

  /** Pauses one job: its ticks stop running until {@link resume}. */
  pause(name: string): void {
    const job = this.get(name);
    if (job.paused) return;
    job.paused = true;
    if (!job.waker) this.queue.cancel(job);
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
    this.events.emit('job.resumed', () => ({ at: this.now(), job: name }));
    if (this.currentState !== 'running' || job.completed) return;
    const now = this.clock.now();
    if (skipMissed || job.nextTick === null) this.arm(job, now);
    else if (job.nextTick <= now && !this.paused) this.process(job, now);
    else this.schedule(job, job.nextTick);
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

  /** Resolves once no run of the job is in flight. */
  whenIdle(name: string): Promise<void> {
    return this.runner.whenIdle(this.get(name));
  }

  /** The job itself, for the adapters in this package. @internal */
  job(name: string): Job | undefined {
    return this.jobs.get(name);
  }

  /** Gives a job a new trigger, and a fresh start: an interval counts from now, `maxRuns` from 0. */
  reschedule(name: string, trigger: Trigger): void {
    const job = this.get(name);
    this.disarm(job);
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
    if (job.waker) return;
    this.queue.cancel(job);
    job.waker = waker;
    if (this.currentState === 'running' && !job.completed && job.nextTick !== null) this.schedule(job, job.dueAt);
  }

  /** Called by a job's own {@link Waker} when its timer fires. */
  wake(job: Job): void {
    if (this.jobs.get(job.name) !== job) return;
    const now = this.clock.now();
    this.wakeJob(job, job.at > now && job.at - now <= EARLY_WAKE_SLACK_MS ? job.at : now);
  }

  private onWake(): void {
    this.adjustLead();
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
   * Handles every tick of `job` due by `now`. Ticks found later than `misfire.graceMs` are missed
   * (one `run.missed` event); then `skip` runs the latest tick only if it is on time, `once` runs
   * the latest tick, `all` runs each (the most recent `maxCatchUp`, one after another). Several
   * on-time ticks coalesce into one run. Nothing here walks the ticks one by one: after a long
   * suspension there may be millions.
   */
  private process(job: Job, now: number): void {
    const { misfire, endAt } = job.options;
    const { trigger, anchor } = job;
    const first = job.nextTick!;
    // The first tick is due at its wake-up time (jitter included); later ones at the tick itself.
    // A job woken ahead of its tick plans as of that time.
    const firstDueAt = Math.max(job.dueAt, first);
    const horizon = Math.max(now, firstDueAt);
    const last = endAt === null ? horizon : Math.min(horizon, endAt);
    let latest: number | null = null;
    if (first <= last) {
      // Usually one tick is due: the one after it is already the next (and is the same answer
      // for every job on the same schedule). Otherwise, a search.
      const following = trigger.next(first, anchor);
      latest = following === null || following > last ? first : lastTickUpTo(trigger, anchor, following, last);
      job.nextTick = latest === first ? following : trigger.next(latest, anchor);
    } else {
      job.nextTick = trigger.next(last, anchor);
    }
    // Arm the next wake-up before any run starts: a handler that clears its job's timer clears that one.
    const done = this.scheduleNext(job);
    if (latest !== null) {
      const firstMissed = now - firstDueAt > misfire.graceMs;
      // The missed ticks run from `first` to `lastMissed`; later ones are on time.
      const lastMissed = firstMissed ? lastTickUpTo(trigger, anchor, first, Math.min(latest, Math.max(first, now - misfire.graceMs))) : null;
      // The run of `latest` may start at its due time, or now if that has passed.
      const runAt = latest === first ? firstDueAt : now;
      if (this.claims?.guards(job)) this.claims.claim(job, latest, (decision) => this.carryOut(job, now, first, lastMissed, latest, runAt, decision));
      else this.carryOut(job, now, first, lastMissed, latest, runAt, LOCAL);
    }
    if (done && !job.completed && !job.removed) this.complete(job, done);
  }

  /**
   * Runs what a wake-up found, once the tick is this instance's: reports missed ticks, then runs
   * by the misfire policy — `skip` the latest tick only if on time, `once` the latest, `all` each
   * missed tick (the most recent `maxCatchUp`) one after another, then the on-time ones as one.
   */
  private carryOut(
    job: Job,
    now: number,
    first: number,
    lastMissed: number | null,
    latest: number,
    runAt: number,
    decision: ClaimDecision | typeof LOCAL,
  ): void {
    if (job.removed || this.currentState !== 'running') {
      // Removed (or shutting down) while the store answered: a lease won for it is not needed.
      if (decision !== LOCAL && decision.outcome === 'won') this.claims!.hold(job, decision.fencingToken, 0);
      return;
    }
    if (decision !== LOCAL && decision.outcome === 'unclaimed') return this.reportMissed(job, now, first, latest, 'unclaimed');
    if (lastMissed !== null) this.reportMissed(job, now, first, lastMissed, 'late');
    if (decision !== LOCAL && decision.outcome === 'busy') return this.runner.skip(job, { scheduledAt: latest, attempt: 1 }, 'overlap');
    const fencingToken = decision === LOCAL ? undefined : decision.fencingToken;
    const { misfire } = job.options;
    const latestOnTime = latest !== lastMissed;
    if (misfire.policy === 'all' && lastMissed !== null && !(job.busy && job.options.overlap === 'skip')) {
      const ticks = lastTicks(job.trigger, job.anchor, first, lastMissed, misfire.maxCatchUp);
      if (latestOnTime) ticks.push(latest);
      this.runner.enqueue(
        job,
        ticks.map((scheduledAt): PendingRun => ({ scheduledAt, attempt: 1, fencingToken })),
        misfire.maxCatchUp + 1,
      );
    } else if (misfire.policy !== 'skip' || latestOnTime) {
      this.startAt(job, latest, fencingToken, runAt);
    } else if (fencingToken !== undefined) {
      this.claims!.hold(job, fencingToken, 0);
    }
  }

  /** One `run.missed` event for the ticks from `first` to `lastMissed`. */
  private reportMissed(job: Job, now: number, first: number, lastMissed: number, reason: 'late' | 'unclaimed'): void {
    if (!this.events.wants('run.missed')) return;
    const { count, truncated } = countTicks(job.trigger, job.anchor, first, lastMissed);
    this.events.emit('run.missed', () => ({
      at: new Date(now),
      job: job.name,
      scheduledAt: new Date(first),
      lastScheduledAt: new Date(lastMissed),
      attempt: 1,
      count,
      truncated,
      lateByMs: now - first,
      reason,
    }));
  }

  /**
   * Starts the run of `tick` at `runAt`: now if that has come, else with the other runs starting
   * then. A run of this instance that could not start on time teaches a longer lead.
   */
  private startAt(job: Job, tick: number, fencingToken: number | undefined, runAt: number): void {
    const now = this.clock.now();
    // A job with a timer of its own runs when it fires (which may be a little early, by rounding).
    if (job.waker) return this.runner.dispatch(job, tick, 1, undefined, fencingToken);
    if (runAt <= now) {
      if (fencingToken === undefined) this.overshoot = Math.max(this.overshoot, now - runAt);
      return this.runner.dispatch(job, tick, 1, undefined, fencingToken);
    }
    // The lease is held while the run waits for its time.
    if (fencingToken !== undefined) this.claims!.hold(job, fencingToken, 1);
    job.planned = tick;
    const batches = this.startBatches[job.ref ? 1 : 0];
    let batch = batches.get(runAt);
    if (!batch) {
      batches.set(runAt, (batch = PlannedRuns.take()));
      this.queue.schedule(new TimerTask(() => this.startPlanned(batches, runAt), job.ref), runAt);
    }
    batch.push(job, tick, fencingToken);
  }

  /** Starts the runs planned for `runAt`, unless their job was removed or rescheduled meanwhile. */
  private startPlanned(batches: Map<number, PlannedRuns>, runAt: number): void {
    const batch = batches.get(runAt);
    if (!batch) return;
    batches.delete(runAt);
    const running = this.currentState === 'running';
    for (let i = 0; i < batch.size; i += 3) {
      const job = batch.job(i);
      const tick = batch.tick(i);
      const fencingToken = batch.fencingToken(i);
      // Not rescheduled meanwhile: the plan still holds.
      const planned = job.planned === tick;
      if (planned) job.planned = null;
      if (!planned || !running || job.removed) {
        // Nothing runs; the lease goes below.
      } else if (job.paused || this.paused) {
        // The tick fell in a pause after all: a job of this instance takes it up again on
        // resume, by its misfire policy; a claimed tick is given back, skipped.
        if (fencingToken === undefined) job.nextTick = Math.min(job.nextTick ?? tick, tick);
        else this.runner.skip(job, { scheduledAt: tick, attempt: 1 }, 'paused');
      } else {
        this.runner.dispatch(job, tick, 1, undefined, fencingToken);
      }
      if (fencingToken !== undefined) this.claims!.hold(job, fencingToken, -1);
    }
    batch.recycle();
  }

  /**
   * Forgets the runs prepared ahead when the scheduler stops. The lease of a claimed at-least-once
   * tick is left to run out, so that another instance runs it; an at-most-once one is given back.
   */
  private dropPlanned(): void {
    for (const batches of this.startBatches) {
      for (const batch of batches.values()) {
        for (let i = 0; i < batch.size; i += 3) {
          const job = batch.job(i);
          const fencingToken = batch.fencingToken(i);
          job.planned = null;
          if (fencingToken !== undefined && job.options.delivery === 'at-most-once') this.claims!.hold(job, fencingToken, -1);
        }
        batch.recycle();
      }
      batches.clear();
    }
  }

  /** Lengthens the lead by what the latest starts overshot, or lets it shrink slowly when they were in time. */
  private adjustLead(): void {
    const lead = this.overshoot > 0 ? (this.lead + this.overshoot) * 1.5 : this.lead * LEAD_DECAY;
    this.overshoot = 0;
    this.lead = Math.min(MAX_LEAD_MS, lead < 0.5 ? 0 : lead);
  }

  /**
   * Computes the first tick from `now` (after the job's start delay, the first time) and queues the
   * job. An interval counts from `startAt`, or from then.
   */
  private arm(job: Job, now: number, fromWatermark = false): void {
    const { startAt } = job.options;
    const from = now + job.startDelayMs;
    const delayed = job.startDelayMs > 0;
    job.startDelayMs = 0;
    job.anchor = startAt ?? from;
    if (this.claims?.guards(job)) return this.registerThenArm(job, from, fromWatermark && !delayed);
    this.armAfter(job, startAt !== null && startAt > from ? startAt - 1 : from);
  }

  private armAfter(job: Job, after: number): void {
    job.nextTick = job.trigger.next(after, job.anchor);
    const done = this.scheduleNext(job);
    if (done) this.complete(job, done);
  }

  /**
   * A cluster-wide job takes the anchor, watermark and paused flag every instance shares (jobs
   * armed in one turn register together). When the scheduler starts, ticks count from the
   * watermark: those missed while the whole cluster was down follow the misfire policy.
   */
  private registerThenArm(job: Job, from: number, fromWatermark: boolean): void {
    this.registering.push({ job, from, fromWatermark });
    if (this.registering.length === 1) nextTurn(() => this.registerBatch(this.registering.splice(0), 0));
  }

  /**
   * Registers a batch and arms its jobs. A job is never armed on an anchor of its own: while the
   * store cannot be reached, registration is tried again (1 s, doubling to 30 s).
   */
  private registerBatch(batch: Array<{ job: Job; from: number; fromWatermark: boolean }>, failures: number): void {
    const live = batch.filter(({ job }) => this.jobs.get(job.name) === job && !job.paused && this.currentState === 'running');
    if (live.length === 0) return;
    this.claims!.register(live.map(({ job }) => job)).then(
      (states) =>
        live.forEach(({ job, from, fromWatermark }, index) => {
          if (this.jobs.get(job.name) !== job || job.paused || this.currentState !== 'running') return;
          const state = states[index];
          const { startAt } = job.options;
          job.anchor = state.anchor;
          // A stored job's ticks count from its creation (its anchor) until one is claimed.
          const after = fromWatermark ? (state.lastTick ?? (job.persisted ? state.anchor : from)) : startAt !== null && startAt > from ? startAt - 1 : from;
          if (state.paused) {
            job.paused = true;
            this.events.emit('job.paused', () => ({ at: this.now(), job: job.name }));
            return;
          }
          this.armAfter(job, after);
        }),
      () => {
        const retry = this.clock.setTimer(
          () => {
            this.retries.delete(retry);
            this.registerBatch(live, failures + 1);
          },
          Math.min(1_000 * 2 ** failures, 30_000),
          { unref: true },
        );
        this.retries.add(retry);
      },
    );
  }

  /** Queues the job for `job.nextTick`; when there is none, returns why the job is complete. */
  private scheduleNext(job: Job): 'trigger-exhausted' | 'end-at' | null {
    const tick = job.nextTick;
    const { endAt } = job.options;
    if (tick === null) return 'trigger-exhausted';
    if (endAt !== null && tick > endAt) return 'end-at';
    this.schedule(job, tick + this.jitter(job, tick));
    return null;
  }

  /**
   * Queues the job's wake-up for a tick due at `at`, ahead of it by the lead of its kind (at most
   * half the time since the previous tick, so that the previous run has started by then).
   */
  private schedule(job: Job, at: number): void {
    const previous = job.dueAt;
    job.dueAt = at;
    if (job.waker) {
      job.at = at;
      job.waker.schedule(job, at);
    } else {
      const lead = Math.min(this.claims?.guards(job) ? this.claims.lead(job, at) : this.lead, Math.max(0, (at - previous) / 2));
      this.queue.schedule(job, at - lead);
    }
  }

  private disarm(job: Job): void {
    if (job.waker) job.waker.cancel(job);
    else this.queue.cancel(job);
  }

  /** A random delay of at most `jitterMs`, ending before the following tick. */
  private jitter(job: Job, tick: number): number {
    const { jitterMs } = job.options;
    if (jitterMs === 0) return 0;
    const following = job.trigger.next(tick, job.anchor);
    const room = following === null ? jitterMs : Math.min(jitterMs, following - tick - 1);
    return Math.max(0, Math.floor(this.random() * (room + 1)));
  }

  /** Marks a job gone, drops its waiting retries, and lets callers waiting on its held-back runs go. */
  private release(job: Job): void {
    job.removed = true;
    this.runner.cancelRetries(job);
    this.runner.dropBacklog(job);
  }

  private complete(job: Job, reason: 'trigger-exhausted' | 'end-at' | 'max-runs'): void {
    if (job.completed) return;
    job.completed = true;
    this.disarm(job);
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
