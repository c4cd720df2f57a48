import { describeValue, InvalidScheduleError } from '../errors';
import { DateLike, toEpochMs } from '../triggers/date.trigger';

/** What happens when a tick comes while the job is still running. */
export type OverlapPolicy = 'skip' | 'queue' | 'allow';
/** What happens to ticks found late by more than the grace period. */
export type MisfirePolicy = 'skip' | 'once' | 'all';
/** Whether a run lost to a crash is re-run (stores with leases only). */
export type DeliveryGuarantee = 'at-most-once' | 'at-least-once';
/** With a shared store: one run per tick across all instances (`cluster`), or on each (`instance`). */
export type JobScope = 'cluster' | 'instance';

/** Misfire handling: ticks found late (blocked event loop, suspended process, paused scheduler). */
export interface MisfireOptions {
  /** How late a tick may be found and still run as scheduled, in ms. Default 1000. */
  graceMs?: number;
  /**
   * What to do with ticks found later than `graceMs`: `'skip'` them, run `'once'` for all of
   * them (default), or run `'all'` of them in order, at most `maxCatchUp`.
   */
  policy?: MisfirePolicy;
  /** With `policy: 'all'`, the most missed ticks run at one wake-up (at most 1,000); older ones stay missed. Default 10. */
  maxCatchUp?: number;
}

/** Retries of a failed run (threw, rejected or timed out). */
export interface RetryOptions {
  /** How many more attempts after the first, at most 100. */
  attempts: number;
  /** Wait before the first retry, in ms. Default 1000. */
  backoffMs?: number;
  /** Each further wait is multiplied by this. Default 2. The longest wait, `backoffMs × factor^(attempts-1)`, is at most 7 days. */
  factor?: number;
}

/** Options that apply to any job: decorated, dynamic, or module-wide through `defaults`. */
export interface JobOptions {
  /** When a tick comes while the job is still running: `'skip'` it (default), `'queue'` one run after the current one, or `'allow'` both. */
  overlap?: OverlapPolicy;
  /** Handling of ticks found late. */
  misfire?: MisfireOptions;
  /** Delays each run by a random 0..jitterMs ms, never past the next tick. */
  jitterMs?: number;
  /** No tick runs before this instant. */
  startAt?: DateLike;
  /** No tick runs after this instant; the job then completes. */
  endAt?: DateLike;
  /** After this many runs the job completes and leaves the timer queue (a whole number up to 2^53-1). */
  maxRuns?: number;
  /** A run still going after this many ms has its `signal` aborted and is reported as timed out. */
  timeoutMs?: number;
  /** Retries of failed runs. */
  retry?: RetryOptions;
  /** With a store that leases runs: whether a run lost to a crash is run again elsewhere. Default `'at-most-once'`. */
  delivery?: DeliveryGuarantee;
  /** Do not keep the process alive for this job's ticks (`unrefTimeout` in `cron`). */
  unref?: boolean;
  /**
   * With a shared store, `'cluster'` (the default) runs each tick on one instance; `'instance'`
   * runs it on every instance, as for a local cache refresh.
   */
  scope?: JobScope;
}

/** {@link JobOptions} checked and completed with defaults. */
export interface ResolvedJobOptions {
  overlap: OverlapPolicy;
  misfire: Required<MisfireOptions>;
  jitterMs: number;
  startAt: number | null;
  endAt: number | null;
  maxRuns: number | null;
  timeoutMs: number | null;
  retry: Required<RetryOptions> | null;
  delivery: DeliveryGuarantee;
  unref: boolean;
  scope: JobScope;
}

const DEFAULT_GRACE_MS = 1_000;
const DEFAULT_MAX_CATCH_UP = 10;
/** Catching up runs one after another; more than this at once would be a backlog, not a catch-up. */
const MAX_CATCH_UP = 1_000;
/** Retries of one run: past this, a job fails for good, not again and again. */
export const MAX_RETRY_ATTEMPTS = 100;
/** The longest wait before a retry: a run holds its lease while its retry waits, and must not for ever. */
export const MAX_RETRY_WAIT_MS = 7 * 24 * 3_600_000;

const OVERLAP: readonly OverlapPolicy[] = ['skip', 'queue', 'allow'];
const MISFIRE: readonly MisfirePolicy[] = ['skip', 'once', 'all'];
const DELIVERY: readonly DeliveryGuarantee[] = ['at-most-once', 'at-least-once'];
const KNOWN_KEYS = new Set(['overlap', 'misfire', 'jitterMs', 'startAt', 'endAt', 'maxRuns', 'timeoutMs', 'retry', 'delivery', 'unref', 'scope']);
const SCOPES: readonly JobScope[] = ['cluster', 'instance'];

const NO_OPTIONS: JobOptions = Object.freeze({});

/** Resolved options are frozen and shared: most jobs of an application have the same. */
const interned = new Map<string, ResolvedJobOptions>();
/** What jobs that give no options of their own get, by the defaults they are resolved against. */
const byDefaults = new WeakMap<JobOptions, ResolvedJobOptions>();

/**
 * Checks job options and fills in defaults: job options over module `defaults` over built-in
 * defaults. Throws {@link InvalidScheduleError} naming the job and the field. The result is
 * frozen, and shared with every job resolved to the same options.
 */
export function resolveJobOptions(job: string, options: JobOptions = NO_OPTIONS, defaults: JobOptions = NO_OPTIONS): ResolvedJobOptions {
  const none = isEmpty(options);
  const known = none ? byDefaults.get(defaults) : undefined;
  if (known) return known;
  const resolved = intern(resolve(job, options, defaults));
  if (none) byDefaults.set(defaults, resolved);
  return resolved;
}

function isEmpty(options: object): boolean {
  for (const key in options) if ((options as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}

function intern(resolved: ResolvedJobOptions): ResolvedJobOptions {
  const key = JSON.stringify(resolved);
  let shared = interned.get(key);
  if (!shared) {
    Object.freeze(resolved.misfire);
    if (resolved.retry) Object.freeze(resolved.retry);
    shared = Object.freeze(resolved);
    if (interned.size >= 1_000) interned.clear();
    interned.set(key, shared);
  }
  return shared;
}

function resolve(job: string, options: JobOptions, defaults: JobOptions): ResolvedJobOptions {
  const pick = <K extends keyof JobOptions>(key: K): JobOptions[K] => (options[key] !== undefined ? options[key] : defaults[key]);
  for (const [field, keys] of Object.entries(NESTED_KEYS)) {
    for (const source of [defaults, options]) assertObjectWithKeys(job, field, source[field as keyof typeof NESTED_KEYS], keys);
  }
  const misfire = { ...defaults.misfire, ...options.misfire };
  const retry = pick('retry');
  const resolved: ResolvedJobOptions = {
    overlap: oneOf(job, 'overlap', pick('overlap') ?? 'skip', OVERLAP),
    misfire: {
      graceMs: nonNegative(job, 'misfire.graceMs', misfire.graceMs ?? DEFAULT_GRACE_MS),
      policy: oneOf(job, 'misfire.policy', misfire.policy ?? 'once', MISFIRE),
      maxCatchUp: atMost(job, 'misfire.maxCatchUp', positiveInteger(job, 'misfire.maxCatchUp', misfire.maxCatchUp ?? DEFAULT_MAX_CATCH_UP), MAX_CATCH_UP),
    },
    jitterMs: nonNegative(job, 'jitterMs', pick('jitterMs') ?? 0),
    startAt: optionalInstant(job, 'startAt', pick('startAt')),
    endAt: optionalInstant(job, 'endAt', pick('endAt')),
    maxRuns: pick('maxRuns') == null ? null : safeInteger(job, 'maxRuns', positiveInteger(job, 'maxRuns', pick('maxRuns'))),
    timeoutMs: pick('timeoutMs') == null ? null : positive(job, 'timeoutMs', pick('timeoutMs')),
    retry: retry == null ? null : retryOptions(job, retry),
    delivery: oneOf(job, 'delivery', pick('delivery') ?? 'at-most-once', DELIVERY),
    unref: Boolean(pick('unref')),
    scope: oneOf(job, 'scope', pick('scope') ?? 'cluster', SCOPES),
  };
  if (resolved.startAt !== null && resolved.endAt !== null && resolved.endAt < resolved.startAt) {
    throw new InvalidScheduleError(job, 'endAt', pick('endAt'), `is before startAt (${describeValue(pick('startAt'))}).`);
  }
  return resolved;
}

/** Retries checked: at most {@link MAX_RETRY_ATTEMPTS}, and no wait longer than {@link MAX_RETRY_WAIT_MS}. */
function retryOptions(job: string, retry: RetryOptions): Required<RetryOptions> {
  const resolved = {
    attempts: atMost(job, 'retry.attempts', nonNegativeInteger(job, 'retry.attempts', retry.attempts), MAX_RETRY_ATTEMPTS),
    backoffMs: nonNegative(job, 'retry.backoffMs', retry.backoffMs ?? 1_000),
    factor: positive(job, 'retry.factor', retry.factor ?? 2),
  };
  const { attempts, backoffMs, factor } = resolved;
  const longest = attempts === 0 ? 0 : backoffMs * Math.max(1, factor ** (attempts - 1));
  if (longest > MAX_RETRY_WAIT_MS) {
    throw new InvalidScheduleError(
      job,
      'retry',
      resolved,
      `would wait ${longest} ms before its last attempt (backoffMs × factor^(attempts-1)); the most is ${MAX_RETRY_WAIT_MS} (7 days): lower attempts, backoffMs or factor.`,
    );
  }
  return resolved;
}

/** Refuses keys that are not job options, so a typo does not pass silently. */
export function assertKnownJobOptionKeys(job: string, options: object, extra: readonly string[] = []): void {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key) && !extra.includes(key)) {
      throw new InvalidScheduleError(job, key, (options as Record<string, unknown>)[key], 'is not a known job option.');
    }
  }
}

const NESTED_KEYS = { misfire: ['graceMs', 'policy', 'maxCatchUp'], retry: ['attempts', 'backoffMs', 'factor'] } as const;

/** An optional nested option must be an object with only the known keys. */
function assertObjectWithKeys(job: string, field: string, value: unknown, keys: readonly string[]): void {
  if (value == null) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidScheduleError(job, field, value, `must be an object with ${keys.join(', ')}.`);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new InvalidScheduleError(job, `${field}.${key}`, (value as Record<string, unknown>)[key], 'is not a known option.');
  }
}

function oneOf<T extends string>(job: string, field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidScheduleError(job, field, value, `must be one of ${allowed.map((v) => `'${v}'`).join(', ')}.`);
  }
  return value as T;
}

/** Checks an optional setting in milliseconds: absent, or a finite number of at least `least`. */
export function assertMilliseconds(job: string, field: string, value: unknown, least = 0): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= least)) {
    throw new InvalidScheduleError(job, field, value, `must be a finite number of milliseconds, ${least} or more.${stringHint(value)}`);
  }
}

/** For a number given as a string, as environment variables are: how to fix it. */
function stringHint(value: unknown): string {
  return typeof value === 'string' ? ' It is a string: convert a value read from the environment with Number().' : '';
}

function number(job: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidScheduleError(job, field, value, `must be a finite number.${stringHint(value)}`);
  }
  return value;
}

function nonNegative(job: string, field: string, value: unknown): number {
  const n = number(job, field, value);
  if (n < 0) throw new InvalidScheduleError(job, field, value, 'must not be negative.');
  return n;
}

function positive(job: string, field: string, value: unknown): number {
  const n = number(job, field, value);
  if (n <= 0) throw new InvalidScheduleError(job, field, value, 'must be above 0.');
  return n;
}

function nonNegativeInteger(job: string, field: string, value: unknown): number {
  const n = nonNegative(job, field, value);
  if (!Number.isInteger(n)) throw new InvalidScheduleError(job, field, value, 'must be a whole number.');
  return n;
}

function positiveInteger(job: string, field: string, value: unknown): number {
  const n = positive(job, field, value);
  if (!Number.isInteger(n)) throw new InvalidScheduleError(job, field, value, 'must be a whole number.');
  return n;
}

function atMost(job: string, field: string, value: number, limit: number): number {
  if (value > limit) throw new InvalidScheduleError(job, field, value, `must be at most ${limit}.`);
  return value;
}

function safeInteger(job: string, field: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new InvalidScheduleError(job, field, value, `must be at most ${Number.MAX_SAFE_INTEGER}.`);
  return value;
}

/** An instant, within the range of a `Date` (±8.64e15 ms around the epoch). */
function optionalInstant(job: string, field: string, value: unknown): number | null {
  if (value == null) return null;
  const at = toEpochMs(value);
  if (Number.isNaN(at) || Number.isNaN(new Date(at).getTime())) throw new InvalidScheduleError(job, field, value, 'is not a valid date.');
  return at;
}
