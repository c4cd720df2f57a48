import { DeliveryGuarantee } from '../engine/job-options';

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
   * Makes sure each job has a row, keeping the anchor of the first instance that registered it.
   * Returns every job's stored state, in the same order.
   */
  register(jobs: ReadonlyArray<{ name: string; anchor: number }>): Promise<StoredJobState[]>;

  /**
   * For each tick, one atomic compare-and-advance of the job's watermark (`lastTick < tick`)
   * together with writing the run's lease: exactly one instance wins a tick. All claims go in one
   * round trip; outcomes come back in the same order.
   */
  claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]>;
  /** Extends the leases of runs in flight. Returns, in order, whether each lease was still held. */
  renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]>;
  /** Ends the leases of finished runs. */
  release(leases: readonly Lease[]): Promise<void>;
  /**
   * Deals with leases that ran out (their instance died or hung): an at-least-once run is taken
   * over by `instance` — attempt + 1, a larger fencing token — and returned in `recovered`; an
   * at-most-once run is given up and returned in `abandoned`.
   */
  recover(instance: string, leaseMs: number): Promise<{ recovered: ExpiredRun[]; abandoned: ExpiredRun[] }>;

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
}

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

/** A tick an instance wants to run. */
export interface TickClaim {
  job: string;
  /** The tick; when several are due at once, the latest of them. */
  tick: number;
  /** Refuse while a run of the job holds a live lease anywhere (`overlap` other than `'allow'`). */
  exclusive: boolean;
  /** How long the run's lease lasts unless renewed, in ms. */
  leaseMs: number;
  delivery: DeliveryGuarantee;
}

/**
 * What became of a claim: `won` (run it, with this fencing token), `busy` (this instance took the
 * tick, but a run of the job holds a lease: skip it), `lost` (another instance has this tick or a
 * later one: do nothing), `paused` (paused for every instance), `gone` (no such job in the store).
 */
export type ClaimOutcome = { status: 'won'; fencingToken: number } | { status: 'busy' | 'lost' | 'paused' | 'gone' };

/** A run's lease, named by job and fencing token. */
export interface Lease {
  job: string;
  fencingToken: number;
}

/** A run whose lease ran out. */
export interface ExpiredRun {
  job: string;
  tick: number;
  /** The attempt the run was (abandoned), or will be (recovered). */
  attempt: number;
  /** The run's fencing token: a new, larger one when recovered. */
  fencingToken: number;
  /** The instance that held the lease. */
  owner: string;
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
  kind: 'saved' | 'removed' | 'paused' | 'resumed';
  job: string;
  /** The instance that made it. */
  origin: string;
}

/** Names a store uses for its schema, tables or keys: letters, digits and `_`, starting with a letter or `_`. */
export const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
