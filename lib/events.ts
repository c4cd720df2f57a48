import type { ClaimOutcome } from './stores/job-store';

/**
 * The events the scheduler emits, on one stream (`SchedulerRegistry.events$`).
 * Every event has a `type` and the instant it happened (`at`); job and run events name the job.
 */

interface EventBase {
  /** When the event happened, by the scheduler's clock. */
  at: Date;
}

interface JobEventBase extends EventBase {
  /** The job's name. */
  job: string;
}

interface RunEventBase extends JobEventBase {
  /** The instant the run was scheduled for. */
  scheduledAt: Date;
  /** 1 for the first attempt, counting up on retries. */
  attempt: number;
}

/** The scheduler started. */
export interface SchedulerStartedEvent extends EventBase {
  type: 'scheduler.started';
}
/** The scheduler is shutting down: no new run starts, in-flight runs were signalled to abort. */
export interface SchedulerStoppingEvent extends EventBase {
  type: 'scheduler.stopping';
  /** How many runs were in flight when shutdown began. */
  inFlight: number;
}
/** The scheduler stopped; no timer of its own is left. */
export interface SchedulerStoppedEvent extends EventBase {
  type: 'scheduler.stopped';
  /** Jobs whose runs were still going when `shutdownTimeout` ran out. */
  abandoned: string[];
}

/** The whole scheduler was paused: no tick runs until it resumes. */
export interface SchedulerPausedEvent extends EventBase {
  type: 'scheduler.paused';
}
/** The scheduler resumed after a pause; ticks that fell in it went through each job's misfire policy. */
export interface SchedulerResumedEvent extends EventBase {
  type: 'scheduler.resumed';
}

/** The shared store could not be reached: ticks cannot be claimed and are reported missed until it is back. */
export interface StoreUnavailableEvent extends EventBase {
  type: 'store.unavailable';
  store: string;
  error: unknown;
}
/** The shared store answers again; claiming resumed. */
export interface StoreRecoveredEvent extends EventBase {
  type: 'store.recovered';
  store: string;
  /** How long it was unavailable, in ms. */
  downMs: number;
}
/**
 * Records of finished runs were dropped without reaching the shared store's run history: the
 * store could not be reached for longer than the records kept meanwhile could wait (at most
 * 1,000 wait; the oldest go first), or the scheduler stopped before they could be written. The
 * runs themselves happened, and each is still in its job's local history (`JobInfo.history`).
 */
export interface HistoryDroppedEvent extends EventBase {
  type: 'history.dropped';
  /** How many records were dropped. */
  count: number;
  /** `buffer-full`: more waited than are kept; `stopped`: the scheduler stopped before they were written. */
  reason: 'buffer-full' | 'stopped';
}

/**
 * This instance's clock is off from the shared store's by more than a second, as measured at a
 * check-in (and again each time it goes over after it came back). Cron ticks follow the local
 * clock, leases and claims the store's: keep the clocks in sync (NTP).
 */
export interface ClockSkewedEvent extends EventBase {
  type: 'clock.skewed';
  /** The local clock minus the store's, in ms: positive when this instance runs ahead. */
  offsetMs: number;
}

/** A job was added. */
export interface JobAddedEvent extends JobEventBase {
  type: 'job.added';
}
/** A job was removed. */
export interface JobRemovedEvent extends JobEventBase {
  type: 'job.removed';
}
/** A job was paused: its ticks no longer run. */
export interface JobPausedEvent extends JobEventBase {
  type: 'job.paused';
}
/** A paused job was resumed. */
export interface JobResumedEvent extends JobEventBase {
  type: 'job.resumed';
}
/** A job was given a new trigger. */
export interface JobRescheduledEvent extends JobEventBase {
  type: 'job.rescheduled';
  /** The new trigger, as text. */
  trigger: string;
}
/** A job has no more ticks to run (a past date, `endAt`, `maxRuns`) and left the timer queue. */
export interface JobCompletedEvent extends JobEventBase {
  type: 'job.completed';
  /** Why the job completed. */
  reason: 'trigger-exhausted' | 'end-at' | 'max-runs';
}

/**
 * A job stored by some instance could not be loaded here: its data is corrupt, or it names a
 * provider or method this application does not have or does not allow. Nothing of it runs.
 */
export interface JobRejectedEvent extends JobEventBase {
  type: 'job.rejected';
  /** Why, as the error that refused it says. */
  reason: string;
  error: unknown;
}

/**
 * In a cluster: the job was registered since by another instance with another trigger (another
 * version of the application, in a rolling deploy). The newest registration wins: this instance
 * stops claiming the job's ticks while the store holds the other trigger. Reported once per change.
 */
export interface JobSupersededEvent extends JobEventBase {
  type: 'job.superseded';
  /** The job's trigger here, as `Trigger.toString()` says it. */
  trigger: string;
  /** The trigger the store holds, registered last by another instance. */
  storedTrigger: string;
}

/** A run started. */
export interface RunStartedEvent extends RunEventBase {
  type: 'run.started';
}
/** A run finished without error. */
export interface RunSucceededEvent extends RunEventBase {
  type: 'run.succeeded';
  durationMs: number;
}
/** A run threw or rejected. */
export interface RunFailedEvent extends RunEventBase {
  type: 'run.failed';
  durationMs: number;
  error: unknown;
  /** Whether another attempt is scheduled. */
  willRetry: boolean;
}
/** A run exceeded `timeoutMs`; its signal was aborted. */
export interface RunTimedOutEvent extends RunEventBase {
  type: 'run.timed-out';
  timeoutMs: number;
  willRetry: boolean;
}
/**
 * A run did not happen: a tick came while the job was still running (`overlap`), a held-back run
 * or a retry came due while the job or the scheduler was paused (`paused`), or the job already
 * made its `maxRuns` (`completed`).
 */
export interface RunSkippedEvent extends RunEventBase {
  type: 'run.skipped';
  reason: 'overlap' | 'paused' | 'completed';
  /** How many ticks in a row were skipped so far, this one included. */
  consecutive: number;
}
/**
 * Ticks were found late by more than the misfire grace (blocked event loop, suspended process,
 * paused scheduler) and did not run as scheduled. One event per wake-up of the job.
 */
export interface RunMissedEvent extends RunEventBase {
  type: 'run.missed';
  /** How many ticks were missed. */
  count: number;
  /** True when there were more than 100: counting stopped there, and `count` is a lower bound. */
  truncated: boolean;
  /** The last missed tick (equal to `scheduledAt` when `count` is 1). */
  lastScheduledAt: Date;
  /** How late the first missed tick was found, in ms. */
  lateByMs: number;
  /** `late`: found later than the grace; `unclaimed`: the shared store could not be asked to claim them. */
  reason: 'late' | 'unclaimed';
}

/**
 * A run's lease ran out: the instance that held it died or hung. With `delivery: 'at-most-once'`
 * the run is given up (this event); with `'at-least-once'` it is run again elsewhere instead.
 */
export interface RunLostEvent extends RunEventBase {
  type: 'run.lost';
  /** The instance that held the run. */
  owner: string;
}

/**
 * With a shared store: the store answered this instance's claim of a tick. `won`: the run is this
 * instance's; `lost`: another instance has the tick; the other answers as `ClaimOutcome` says
 * (`busy`, `overtaken`, `paused`, `completed`, `queued`, `superseded`…; `locked` and `later` are
 * asked again). A claim the store could not be asked is no answer: it is a `store.unavailable`
 * and a `run.missed` instead.
 */
export interface TickClaimedEvent extends JobEventBase {
  type: 'tick.claimed';
  /** The tick claimed: the latest, when several were due at once. */
  scheduledAt: Date;
  /** The store's answer. */
  outcome: ClaimOutcome['status'];
}

/** Every event the scheduler emits, discriminated by `type`. */
export type SchedulerEvent =
  | SchedulerStartedEvent
  | SchedulerStoppingEvent
  | SchedulerStoppedEvent
  | SchedulerPausedEvent
  | SchedulerResumedEvent
  | StoreUnavailableEvent
  | StoreRecoveredEvent
  | HistoryDroppedEvent
  | ClockSkewedEvent
  | JobAddedEvent
  | JobRemovedEvent
  | JobPausedEvent
  | JobResumedEvent
  | JobRescheduledEvent
  | JobCompletedEvent
  | JobRejectedEvent
  | JobSupersededEvent
  | RunStartedEvent
  | RunSucceededEvent
  | RunFailedEvent
  | RunTimedOutEvent
  | RunSkippedEvent
  | RunMissedEvent
  | RunLostEvent
  | TickClaimedEvent;

/** The `type` of a {@link SchedulerEvent}. */
export type SchedulerEventType = SchedulerEvent['type'];
