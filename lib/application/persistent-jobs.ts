import { Type } from '@nestjs/common';
import { errorMessage, InvalidScheduleError } from '../errors';
import { JobDefinition } from '../engine/job';
import { assertJobName } from '../engine/job-name';
import { assertKnownJobOptionKeys, JobOptions, resolveJobOptions } from '../engine/job-options';
import { Scheduler } from '../engine/scheduler';
import { JobTargets } from '../discovery/job-targets';
import { toEpochMs } from '../triggers/date.trigger';
import { storedTrigger, triggerFromStored } from '../triggers/trigger-factory';
import { JobStore, StoredJobDefinition } from '../stores/job-store';
import { assertJsonArgs, MAX_ARGS_BYTES, MAX_ARGS_DEPTH, nestsDeeperThan } from './job-args';
import { AddJobDefinition } from '../interfaces/job-definition.interface';

/** The most a stored row may take, in bytes of UTF-8 JSON: arguments at their largest, and room for the rest. */
const MAX_ROW_BYTES = MAX_ARGS_BYTES + 16 * 1024;
/** How deep a stored row may nest: the row object holds the arguments. */
const MAX_ROW_DEPTH = MAX_ARGS_DEPTH + 1;

/**
 * Jobs kept in the store as data — trigger, options, a provider reference and JSON arguments,
 * never code nor an instance — and brought to life on every instance from it. Stored rows are
 * untrusted: each is checked as if a user had typed it, and one that does not pass (corrupt data,
 * a bad name, options `addJob` would refuse, arguments too large or too deep, a provider or method
 * that is missing or not a job handler) is reported (`job.rejected`) and nothing of it runs; the
 * others are not disturbed.
 *
 * The store's paused flags are applied here when they change: a cluster-wide `pauseJob` or
 * `resumeJob` reaches every instance, while what an instance did for itself (`disabled: true`,
 * `CronJob.stop()` or `start()`) stays until a cluster-wide call changes the flag.
 */
export class PersistentJobs {
  /** The definitions in force here, as stored (JSON), to notice changes. */
  private readonly loaded = new Map<string, string>();
  /** Rows refused, with the data refused (or the reason, for a row too large to compare), so each is reported once. */
  private readonly rejected = new Map<string, string>();
  /** The paused flag of each job here, as last read from the store: only a change of it is applied. */
  private readonly storedPaused = new Map<string, boolean>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly store: JobStore,
    private readonly targets: JobTargets,
    private readonly instanceId: string,
  ) {}

  /** Turns `addJob({ persist: true })` into stored data; throws for what cannot be stored. */
  toStored(definition: AddJobDefinition): StoredJobDefinition {
    const { name, trigger, target, handler, worker, args = [], paused: _paused, persist: _persist, ...options } = definition;
    if (handler !== undefined || worker !== undefined || target === undefined) {
      throw new InvalidScheduleError(name, 'persist', true, 'needs a provider target: a function cannot be stored, only a reference to a provider method.');
    }
    const provider = storedProvider(name, target.provider);
    assertJsonArgs(name, args);
    const storedOptions: Record<string, unknown> = { ...options };
    for (const key of ['startAt', 'endAt'] as const) if (options[key] != null) storedOptions[key] = toEpochMs(options[key]);
    return JSON.parse(
      JSON.stringify({ name, trigger: storedTrigger(name, trigger), target: { provider, method: target.method }, args, options: storedOptions }),
    );
  }

  /** Saves a new or changed persistent job and brings it to life here; the others follow from the store. */
  async save(stored: StoredJobDefinition, paused = false): Promise<void> {
    // Checked as every instance will check the row: one that they would refuse is not written.
    const definition = this.toEngine(stored.name, stored);
    rowJson(stored.name, stored);
    await this.store.saveDefinition(stored, this.scheduler.clock.now(), this.instanceId);
    if (paused) await this.store.setPaused(stored.name, true, this.instanceId);
    this.apply(stored.name, stored, definition, paused);
  }

  /** The stored definition of a persistent job, or `undefined` for any other job. */
  stored(name: string): StoredJobDefinition | undefined {
    const json = this.loaded.get(name);
    return json === undefined ? undefined : (JSON.parse(json) as StoredJobDefinition);
  }

  /**
   * Brings this instance in line with the store: stored jobs added, changed or removed here, and
   * the paused flags that changed. Runs at start, on each change announced, and periodically.
   */
  async sync(): Promise<void> {
    const [rows, paused] = await Promise.all([this.store.loadDefinitions(), this.store.loadPaused()]);
    const seen = new Set<string>();
    for (const { name, definition, paused: isPaused } of rows) {
      seen.add(name);
      let json: string | undefined;
      try {
        json = rowJson(name, definition);
        if (this.loaded.get(name) === json || this.rejected.get(name) === json) continue;
        if (!this.loaded.has(name) && this.scheduler.has(name)) {
          throw new InvalidScheduleError(name, 'name', name, 'is the name of a job of this application that is not a stored job.');
        }
        this.apply(name, definition as StoredJobDefinition, this.toEngine(name, definition), isPaused);
        this.rejected.delete(name);
      } catch (error) {
        const refused = json ?? `!${errorMessage(error)}`;
        if (this.rejected.get(name) !== refused) this.reject(name, refused, error);
      }
    }
    for (const name of [...this.loaded.keys()]) {
      if (!seen.has(name)) this.forget(name);
    }
    for (const name of [...this.rejected.keys()]) if (!seen.has(name)) this.rejected.delete(name);
    this.applyPaused(paused);
  }

  /**
   * Applies the paused flags that changed in the store since the last sync, and those first seen
   * set: a flag that stays as it was leaves the job alone, so that a job paused or started on this
   * instance alone (`disabled: true`, `CronJob.stop()`, a `pauseJob` whose write failed) stays so.
   */
  private applyPaused(flags: Map<string, boolean>): void {
    for (const name of [...this.storedPaused.keys()]) if (!flags.has(name) || !this.scheduler.has(name)) this.storedPaused.delete(name);
    for (const [name, paused] of flags) {
      const job = this.scheduler.status(name);
      if (!job || job.scope === 'instance') continue;
      const before = this.storedPaused.get(name);
      this.storedPaused.set(name, paused);
      // Paused here because the store said so (when the job registered), and the store no longer says so.
      if (!paused && job.paused && job.pausedByStore) this.scheduler.resume(name);
      if (before === paused || (before === undefined && !paused)) continue;
      if (paused) this.scheduler.pause(name, { byStore: true });
      else this.scheduler.resume(name);
    }
  }

  /** Removes a persistent job here (it is gone from the store); other jobs of that name are not touched. */
  forget(name: string): void {
    if (!this.loaded.delete(name)) return;
    if (this.scheduler.has(name)) this.scheduler.remove(name);
  }

  /** Puts a stored job in force here; one that replaces a changed definition starts afresh, without catching up. */
  private apply(name: string, stored: StoredJobDefinition, definition: JobDefinition, paused: boolean): void {
    const replaced = this.scheduler.has(name);
    if (replaced) this.scheduler.remove(name);
    this.scheduler.add({ ...definition, paused, fresh: replaced });
    this.loaded.set(name, canonicalJson(stored));
  }

  private reject(name: string, json: string, error: unknown): void {
    this.rejected.set(name, json);
    this.forget(name);
    this.scheduler.report('job.rejected', { job: name, reason: errorMessage(error), error });
  }

  /** Checks stored data as untrusted input and makes the engine's job of it. */
  private toEngine(name: string, data: unknown): JobDefinition {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidScheduleError(name, 'definition', data, 'is not a job definition.');
    }
    assertJobName(name);
    const stored = data as Partial<StoredJobDefinition>;
    if (stored.name !== name) throw new InvalidScheduleError(name, 'name', stored.name, 'does not match the stored job.');
    const target = stored.target;
    if (typeof target !== 'object' || target === null || typeof target.provider !== 'string' || typeof target.method !== 'string') {
      throw new InvalidScheduleError(name, 'target', target, 'must be { provider, method } with strings.');
    }
    const args = stored.args ?? [];
    assertJsonArgs(name, args);
    const options = (stored.options ?? {}) as JobOptions;
    if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidScheduleError(name, 'options', options, 'must be an object.');
    // The rules of addJob, so that a row the application would not have written is refused here, alone.
    assertKnownJobOptionKeys(name, options);
    resolveJobOptions(name, options, this.scheduler.defaults);
    const trigger = triggerFromStored(name, stored.trigger);
    const resolved = this.targets.resolve(name, target);
    const json = JSON.stringify(args);
    return {
      name,
      trigger,
      handler: (context) => resolved.invoke(context, JSON.parse(json)),
      options,
      persisted: true,
      meta: { kind: 'dynamic', target: resolved.description, persisted: true },
    };
  }
}

/** How a stored job names its provider: a class by its name, a string token as it is. */
function storedProvider(job: string, provider: Type<unknown> | string | symbol): string {
  if (typeof provider === 'string') return provider;
  if (typeof provider === 'function' && provider.name) return provider.name;
  throw new InvalidScheduleError(job, 'target.provider', provider, 'cannot be stored: use the class or a string token.');
}

/**
 * A stored row as canonical JSON, once it is known to be small and shallow enough to read: a row
 * nested thousands of levels deep or megabytes long is refused before anything recursive reads it.
 */
function rowJson(name: string, definition: unknown): string {
  if (nestsDeeperThan(definition, MAX_ROW_DEPTH)) {
    throw new InvalidScheduleError(name, 'definition', '{…}', `nests deeper than ${MAX_ROW_DEPTH} levels; a job's arguments nest at most ${MAX_ARGS_DEPTH}.`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(definition) ?? '');
  if (bytes > MAX_ROW_BYTES) {
    throw new InvalidScheduleError(
      name,
      'definition',
      bytes,
      `bytes of JSON are more than ${MAX_ROW_BYTES}, the most a stored job takes (its arguments at most ${MAX_ARGS_BYTES}).`,
    );
  }
  return canonicalJson(definition);
}

/** JSON with object keys sorted, so that data that went through a database (jsonb reorders keys) compares equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
