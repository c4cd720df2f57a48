import { DeliveryGuarantee } from '../engine/job-options';
import type { RunOutcome } from '../engine/job';
import { StoreUnavailableError } from '../errors';

/**
 * Where jobs live when an application runs as several instances. A store keeps, for every job, the
 * state all instances agree on — the interval anchor, the watermark of the last claimed tick, the
 * lease of the run in flight, whether it is paused — and the definitions of persistent jobs.
 *
 * Implementations: `MemoryJobStore` (the default, one process), `PostgresJobStore`,
 * `RedisJobStore`. A conformance suite (`test/stores/conformance.ts`) runs against each.
 */
export interface JobStore {
  /** For messages: `memory`, `postgres`, `redis`. */
  readonly kind: string;
  /** Whether other instances see this store: then every tick is claimed, and jobs are cluster-wide. */
  readonly shared: boolean;

  /** Connects, and creates or migrates the store's schema; safe when many instances do it at once. */
  connect(): Promise<void>;
  /** Stops listening and closes what the store opened itself (not a pool or client it was given). */
  close(): Promise<void>;

  /**
   * Makes sure each job has a row, keeping the anchor of the first instance that registered it,
   * and records each job's trigger fingerprint: the newest registration wins, and claims made with
   * another fingerprint are refused (`superseded`) from then on. Returns every job's stored state,
   * in the same order; a row that cannot be written (a key of another type) is `null`, alone.
   */
  register(jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>>;

  /**
   * For each tick, one atomic compare-and-advance of the job's watermark (`lastTick < tick`)
   * together with writing the run's lease: exactly one instance wins a tick. All claims go in one
   * round trip; outcomes come back in the same order.
   */
  claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]>;
  /**
   * Marks leases won by claims made ahead of their tick ({@link TickClaim.ahead}) as started: their
   * run starts now. Returns, in order, whether each lease was still `instance`'s under its token,
   * and had not run out — only then may the run start. A lease that never started is taken over, whatever its delivery,
   * once it runs out: its tick never ran.
   */
  start(instance: string, leases: readonly Lease[]): Promise<boolean[]>;
  /**
   * Marks started, with one write whatever their number, every lease `instance` claimed ahead for a
   * tick at or before `upTo`: a lease claimed ahead is unstarted only while its instance's mark is
   * below its tick. Unlike {@link start}, it does not check each lease: the caller starts runs on
   * it only for leases it knows are still its own (won within the lease's time). Refused (`false`,
   * nothing written) for an instance declared dead for at least {@link DEAD_REMEMBERED_MS} after
   * (leases it claimed may have been taken over as unstarted; a store may refuse it for as long as
   * it keeps the record of that death, which is at least that long), and by some stores for one
   * that has not checked in yet: then start each lease with {@link start}.
   *
   * `jobs`, when given, names the jobs of the runs the caller starts on the mark: a store may mark
   * only the part of it that holds their leases (a Redis Cluster: their shards, rather than every
   * shard), and the caller relies on the mark for those leases only.
   */
  startAll(instance: string, upTo: number, jobs?: readonly string[]): Promise<boolean>;
  /** Extends the leases of runs in flight. Returns, in order, whether each lease was still held. */
  renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]>;
  /**
   * Ends the leases of finished runs. A lease with a tick queued behind it ({@link TickClaim.queue})
   * is not ended but handed back at that tick, under a new token, attempt 1, and announced
   * (`handed-back`): an instance that has the job takes it over at its next sweep. Returns how
   * many leases were handed on so.
   */
  release(leases: readonly Lease[]): Promise<number>;
  /**
   * Deals with leases that ran out (their instance died or hung) and runs handed back: an
   * at-least-once run, a handed-back one, or one that never started, of a job in `jobs` (the jobs `instance` can run) is
   * taken over by `instance` — attempt + 1, a larger fencing token — and returned in `recovered`;
   * an at-most-once run is given up and returned in `abandoned`, whoever has the job. Leases of
   * at-least-once and handed-back runs of other jobs are left for an instance that has them. One
   * call deals with at most `BATCH_SIZE` (1,000) runs; `more` says that others wait: call again.
   *
   * With `checkIn`, the same call records that `instance` is alive (see {@link CheckIn}), and
   * declares dead the instances that did not check in for `deadAfterMs`: their leases run out at
   * once, to be taken over or given up as any other.
   */
  recover(instance: string, leaseMs: number, jobs: JobSet, checkIn?: CheckIn): Promise<Sweep>;
  /** The instances that checked in (see {@link CheckIn}) within the last `deadAfterMs`, by id; at most 1,000. */
  instances(deadAfterMs: number): Promise<InstanceRecord[]>;
  /**
   * Hands back work claimed by `instance` that it will not do (it is stopping): each lease still
   * held under its token is made to run out now, marked for takeover whatever its delivery, with
   * the ticks still to run (`from` to `tick`) and the attempt they are at; the next sweep of an
   * instance that has the job runs them. Announces `handed-back` (once, naming the first job). Returns, in order, whether each
   * was handed back (false: the lease was no longer this instance's).
   */
  handBack(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]>;

  /**
   * How many finished runs of each job the store keeps in its run history (its `historySize`
   * option). 0, or absent (a store of an older interface): it keeps none, and none are sent to it.
   */
  readonly historySize?: number;
  /**
   * Writes finished runs to the run history, in one call whatever their number (in batches of at
   * most `BATCH_SIZE`), apart from the releases of their leases: a history that cannot be written
   * (a missing table, a key of another type, a refused command) never fails a release. A failure
   * may leave some records of the call written. Each job keeps its last {@link historySize} runs; an
   * error's text is cut to {@link RUN_ERROR_MAX} characters. Optional, with {@link runHistory} and
   * {@link runsSince}.
   */
  recordRuns?(runs: readonly FinishedRun[]): Promise<void>;
  /** The last `limit` runs of a job recorded by any instance, newest first (at most {@link historySize}). */
  runHistory?(job: string, limit: number): Promise<FinishedRun[]>;
  /**
   * The runs recorded since `cursor`, oldest first, at most `limit` (at most `BATCH_SIZE`), and the
   * cursor to ask from next time: every run recorded by any instance is returned once, by the
   * calls that follow one another from one cursor. `null` starts from now: no runs, and the cursor
   * of the present. The cursor is opaque; the feed is bounded (see the store's docs), so a reader
   * that falls far behind misses the oldest runs, and a cursor of another store starts from now.
   */
  runsSince?(cursor: string | null, limit: number): Promise<RunPage>;

  /** Pauses or resumes a job for every instance. */
  setPaused(job: string, paused: boolean, origin: string): Promise<void>;
  /** Removes a job's row and definition, for every instance. */
  remove(job: string, origin: string): Promise<void>;

  /** Saves (adds or replaces) a persistent job's definition; the job's row is created if needed. */
  saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void>;
  /** Every stored definition, as the store holds it: the caller checks each before use. */
  loadDefinitions(): Promise<Array<{ name: string; definition: unknown; paused: boolean }>>;
  /** The paused flag of every job. */
  loadPaused(): Promise<Map<string, boolean>>;

  /** Tells `listener` of changes made by any instance (including this one). Resolves to the function that stops. */
  watch(listener: (change: JobChange) => void): Promise<() => Promise<void>>;

  /**
   * Optional. Called once by the application, before {@link connect}: `timeoutMs` (the module's
   * `cluster.timeoutMs`) bounds every call the store makes — connecting, each query or script, a
   * wait for a lock — and a call that takes longer is cancelled, not left to run; `warn` is where
   * the store reports, once, what it finds wrong with the server's configuration.
   */
  configure?(settings: { timeoutMs: number; warn(message: string): void }): void;
}

/**
 * How long a store remembers that an instance was declared dead, even after it checks in again: to
 * tell it, and to refuse its {@link JobStore.startAll} meanwhile.
 */
export const DEAD_REMEMBERED_MS = 3_600_000;

/** A job's state in a store. */
export interface StoredJobState {
  name: string;
  /** Where an interval counts from; the first instance to register the job set it. */
  anchor: number;
  /** The watermark: the last tick claimed, or `null` if none yet. */
  lastTick: number | null;
  /** Paused for every instance. */
  paused: boolean;
}

/** A job an instance registers. */
export interface JobRegistration {
  name: string;
  /** Where its interval counts from, if no instance registered it before. */
  anchor: number;
  /** A fingerprint of its trigger, to notice two versions of an application that disagree; claims carry it. */
  fingerprint: string;
  /** What its trigger is, for messages (`Trigger.toString()`); the fingerprint when not given. */
  trigger?: string;
}

/** A tick an instance wants to run. */
export interface TickClaim {
  job: string;
  /** The tick; when several are due at once, the latest of them. */
  tick: number;
  /** The first tick the run covers, when missed ticks run one after another under one lease (misfire `'all'`); else `tick`. */
  from: number;
  /** The fingerprint of the trigger the instance has: a claim with another than the stored one is `superseded`. */
  fingerprint: string;
  /** Refuse while a run of the job holds a live lease anywhere (`overlap` other than `'allow'`). */
  exclusive: boolean;
  /** How long the run's lease lasts unless renewed, in ms. */
  leaseMs: number;
  delivery: DeliveryGuarantee;
  /**
   * Claimed before its tick: the lease is not started until {@link JobStore.start} says so (a lease
   * that runs out unstarted is taken over, whatever its delivery), and a claim that finds a run of
   * the job holding a lease is answered `later`, without taking the tick. Otherwise the lease is
   * started with the claim.
   */
  ahead?: boolean;
  /** The job's `maxRuns`: the store counts the runs it gave out, and answers `completed` once there were as many. */
  maxRuns?: number | null;
  /**
   * With `exclusive`, the job's `overlap` is `'queue'`: a tick that finds a run of the job holding
   * its lease is kept in the store (`queued`), one at most, and when that lease is released or
   * given up it becomes a run handed back at this tick, for an instance that has the job to take
   * over and run once.
   */
  queue?: boolean;
}

/**
 * What became of a claim: `won` (run it, with this fencing token), `busy` (this instance took the
 * tick, but a run of the job holds a lease: skip it), `lost` (another instance has this tick: do
 * nothing), `overtaken` (a later tick of the job was claimed already: this one may have been
 * claimed by another instance before it, or by none), `paused` (paused for every instance), `gone` (no such job in the store),
 * `locked` (the job's row is locked by another transaction: ask again), `later` (a claim made
 * ahead found a run of the job holding a lease, and did not take the tick: ask again at the tick),
 * `superseded` (the job was registered since with another trigger, `trigger`: not this instance's to run),
 * `completed` (the job ran its `maxRuns` times, counted over every instance), `queued` (this
 * instance took the tick, and a run of the job holds a lease: the tick waits in the store, to run
 * once after that run, see {@link TickClaim.queue}), `unreachable` (the part of the store that
 * holds the job could not be asked, while the rest answered: as if the whole call had failed, the
 * claim may or may not have been carried out, and the tick is reported missed).
 */
export type ClaimOutcome =
  | {
      status: 'won';
      fencingToken: number;
      /** The lease this claim replaced: an at-most-once run whose instance stopped renewing it, given up here (not found by a sweep). */
      replaced?: { tick: number; attempt: number; owner: string };
      /**
       * A tick that was queued behind the job's previous lease (overlap `'queue'`) and that the
       * release of that lease did not hand on — a version of the module without cluster-wide
       * `'queue'` released it, in a rolling deploy. It did not run; this claim cleared it, and
       * the claimer reports it skipped.
       */
      droppedQueued?: number;
    }
  | { status: 'busy' | 'lost' | 'overtaken' | 'paused' | 'gone' | 'locked' | 'later' | 'completed' | 'queued' | 'unreachable' }
  | { status: 'superseded'; trigger: string };

/** A run's lease, named by job and fencing token. */
export interface Lease {
  job: string;
  fencingToken: number;
}

/** A finished run, as the run history keeps it: which instance ran it, when, how long, and how it ended. */
export interface FinishedRun {
  job: string;
  /** The id of the instance that ran it. */
  instance: string;
  /** The tick it ran for, ms since the epoch. */
  scheduledAt: number;
  /** When it started, ms since the epoch, by its instance's clock. */
  startedAt: number;
  durationMs: number;
  attempt: number;
  outcome: RunOutcome;
  /** The error's message, when it failed; at most {@link RUN_ERROR_MAX} characters. */
  error?: string;
}

/** A page of the run feed (see {@link JobStore.runsSince}). */
export interface RunPage {
  /** Oldest first. */
  runs: FinishedRun[];
  /** Where the next call goes on from. */
  cursor: string;
}

/** How many finished runs of each job a store keeps by default (its `historySize` option). */
export const DEFAULT_HISTORY_SIZE = 20;

/** The most characters of an error's message a run record keeps. */
export const RUN_ERROR_MAX = 500;

/** The most runs a store's feed keeps (per shard of a Redis Cluster) for {@link JobStore.runsSince}, beyond each job's history. */
export const RUN_FEED_MAX = 10_000;

/** Checks a store's `historySize` option: a whole number from 0 (no history) to 1,000. */
export function historySizeOption(store: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_HISTORY_SIZE;
  if (!Number.isInteger(value) || value < 0 || value > 1_000) {
    throw new StoreUnavailableError(store, `historySize ${JSON.stringify(value)} is not a whole number from 0 to 1000`);
  }
  return value;
}

/**
 * A run as a store writes it: the error's message cut to {@link RUN_ERROR_MAX} characters (never
 * in the middle of a surrogate pair), without NUL characters, which PostgreSQL's text refuses.
 */
export function boundedRun(run: FinishedRun): FinishedRun {
  if (run.error === undefined) return run;
  let error = run.error.split('\u0000').join('\uFFFD');
  if (error.length > RUN_ERROR_MAX) {
    const cut = /[\uD800-\uDBFF]/.test(error[RUN_ERROR_MAX - 1]) ? RUN_ERROR_MAX - 1 : RUN_ERROR_MAX;
    error = error.slice(0, cut);
  }
  return error === run.error ? run : { ...run, error };
}

/** The records of `runs` a store keeps of one call: the newest `size` of each job, in their order (oldest first). */
export function newestOfEachJob(runs: readonly FinishedRun[], size: number): FinishedRun[] {
  const counts = new Map<string, number>();
  const kept: FinishedRun[] = [];
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i];
    const count = counts.get(run.job) ?? 0;
    if (count >= size) continue;
    counts.set(run.job, count + 1);
    kept.push(boundedRun(run));
  }
  return kept.reverse();
}

const OUTCOMES: ReadonlySet<string> = new Set<RunOutcome>(['succeeded', 'failed', 'timed-out']);

/** A run record read back from a store, or `null` if what is there is not one (written by another version, or damaged). */
export function readRun(value: Partial<Record<keyof FinishedRun, unknown>>): FinishedRun | null {
  const { job, instance, scheduledAt, startedAt, durationMs, attempt, outcome, error } = value;
  const numbers = [scheduledAt, startedAt, durationMs, attempt].map(Number);
  if (typeof job !== 'string' || typeof outcome !== 'string' || !OUTCOMES.has(outcome) || numbers.some((n) => !Number.isFinite(n))) return null;
  const run: FinishedRun = {
    job,
    instance: typeof instance === 'string' ? instance : '',
    scheduledAt: numbers[0],
    startedAt: numbers[1],
    durationMs: numbers[2],
    attempt: numbers[3],
    outcome: outcome as RunOutcome,
  };
  if (typeof error === 'string') run.error = error;
  return run;
}

/** The jobs an instance has: a `Set` of names, or anything that answers for a name. */
export interface JobSet {
  has(job: string): boolean;
}

/** What one {@link JobStore.recover} call did. */
export interface Sweep {
  recovered: ExpiredRun[];
  abandoned: ExpiredRun[];
  /** More leases ran out than one call deals with: call again. */
  more?: boolean;
  /** With a check-in: this instance had been declared dead (it did not check in for `deadAfterMs`), and its leases ran out. */
  reaped?: boolean;
  /** With a check-in: a number that changes whenever a job is saved, removed, paused or resumed, for instances to read the store again only then. */
  revision?: number;
  /** With a check-in: the store's clock when it checked in, ms since the epoch, for instances to measure their own against it. */
  storeNow?: number;
}

/**
 * An instance checking in: it is alive. Every instance checks in every few seconds, with its sweep
 * of expired leases; one that misses its check-ins for `deadAfterMs` is dead, and its leases run out
 * at once rather than when their time is up.
 */
export interface CheckIn {
  self: InstanceCheckIn;
  /**
   * The instances that have not checked in for longer than this are declared dead (their leases
   * run out now) — but only by an instance that has itself checked in for at least this long
   * without a gap of more than half of it. The silence of the others means something only while
   * the store answered: after the store was away (a restart, a failover), the first instance back
   * finds every other one silent for as long as the outage, and would declare them all dead, their
   * runs in flight taken over and run twice — and at its next check-in too, if the others have
   * not reconnected by then. It declares no one dead until the others have had this long to check
   * in again. At 0 or below, every other instance is declared dead at once.
   */
  deadAfterMs: number;
}

/** What an instance says of itself when it checks in. */
export interface InstanceCheckIn {
  id: string;
  host: string;
  pid: number;
  /** When its scheduler started, ms since the epoch. */
  startedAt: number;
  /** How many runs it has in flight. */
  running: number;
  /** The jobs of those runs, at most 20. */
  runningJobs: string[];
}

/** An instance, as the store last heard of it. */
export interface InstanceRecord extends InstanceCheckIn {
  /** When it last checked in, by the store's clock. */
  checkedInAt: number;
}

/** A run whose lease ran out, or that was handed back. */
export interface ExpiredRun {
  job: string;
  /** The last tick the run covers. */
  tick: number;
  /** The first tick still to run (catch-up under misfire `'all'`); `tick` for a single run. */
  from: number;
  /** The attempt the run was (abandoned), or will be (recovered). */
  attempt: number;
  /** The run's fencing token: a new, larger one when recovered. */
  fencingToken: number;
  /** The token the lease had before: the instance that held it recognizes its own run by it. */
  previousToken: number;
  /** The instance that held the lease. */
  owner: string;
}

/** Work an instance hands back when it stops (see {@link JobStore.handBack}). */
export interface HandedBackRun extends Lease {
  /** The last tick to run. */
  tick: number;
  /** The first tick to run. */
  from: number;
  /** The attempt the first of them is at: 1 for a tick that never started, more for a retry. */
  attempt: number;
}

/** A persistent job, as data: never code, never an instance. */
export interface StoredJobDefinition {
  name: string;
  /** `{ cron, timeZone?, utcOffset? }`, `{ every }` or `{ at }` (ms since the epoch). */
  trigger: Record<string, unknown>;
  /** A provider (class name or string token) and a handler name. */
  target: { provider: string; method: string };
  /** JSON arguments after the context. */
  args: unknown[];
  /** Job options, as JSON (dates as ms since the epoch). */
  options: Record<string, unknown>;
}

/** A change made by an instance, announced to all. */
export interface JobChange {
  /** `handed-back`: a stopping instance handed back work for another to take over (see {@link JobStore.handBack}). */
  kind: 'saved' | 'removed' | 'paused' | 'resumed' | 'handed-back';
  job: string;
  /** The instance that made it. */
  origin: string;
}

/** Names a store uses for its schema, tables or keys: letters, digits and `_`, starting with a letter or `_`. */
export const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

/** An instance's record from the JSON of its check-in, as a store keeps it: what cannot be read is left empty. */
export function instanceRecord(id: string, json: unknown, checkedInAt: number): InstanceRecord {
  let info: Partial<InstanceCheckIn> = {};
  try {
    info = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<InstanceCheckIn>;
  } catch {
    // Another version wrote something else: the id and time are still known.
  }
  const runningJobs = Array.isArray(info?.runningJobs) ? info.runningJobs.filter((name): name is string => typeof name === 'string') : [];
  return {
    id,
    host: typeof info?.host === 'string' ? info.host : '',
    pid: typeof info?.pid === 'number' ? info.pid : 0,
    startedAt: typeof info?.startedAt === 'number' ? info.startedAt : 0,
    running: typeof info?.running === 'number' ? info.running : runningJobs.length,
    runningJobs,
    checkedInAt,
  };
}
