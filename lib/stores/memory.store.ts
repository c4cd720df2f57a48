import { BATCH_SIZE } from './batches';
import {
  boundedRun,
  CheckIn,
  FinishedRun,
  historySizeOption,
  newestOfEachJob,
  RUN_FEED_MAX,
  RunPage,
  DEAD_REMEMBERED_MS,
  ClaimOutcome,
  ExpiredRun,
  HandedBackRun,
  InstanceRecord,
  JobChange,
  JobRegistration,
  JobSet,
  JobStore,
  Lease,
  StoredJobDefinition,
  StoredJobState,
  Sweep,
  TickClaim,
} from './job-store';

interface StoredLease {
  owner: string;
  until: number;
  token: number;
  tick: number;
  from: number;
  attempt: number;
  delivery: string;
  /** Handed back by a stopping instance: taken over whatever the delivery. */
  handed: boolean;
  /** False while a lease claimed ahead waits for its run to start (unless its owner's startAll covers its tick): taken over whatever the delivery. */
  started: boolean;
}

interface Row {
  anchor: number;
  lastTick: number | null;
  paused: boolean;
  fingerprint: string | null;
  /** What the trigger of the fingerprint is, for messages. */
  trigger: string | null;
  definition: StoredJobDefinition | null;
  lease: StoredLease | null;
  /** The runs claims gave out, for a cluster-wide `maxRuns`. */
  runs: number;
  /** A tick queued behind the lease (overlap `'queue'`), handed on when the lease ends. */
  queued: number | null;
}

/** Options of {@link MemoryJobStore}. */
export interface MemoryJobStoreOptions {
  /**
   * Several schedulers of this process use the store, as a cluster (tests do this): ticks are
   * then claimed. Default `false`: one scheduler, nothing to claim.
   */
  shared?: boolean;
  /** The store's clock for leases. Default `Date.now`. */
  now?: () => number;
  /** How many finished runs of each job the run history keeps (with `shared: true`). Default 20; 0 keeps none. */
  historySize?: number;
}

/**
 * The default store: everything in this process's memory, gone when it exits. On its own it is a
 * plain, single-instance scheduler; `shared: true` lets several schedulers in one process share
 * it as a cluster would share a database.
 */
export class MemoryJobStore implements JobStore {
  readonly kind = 'memory';
  readonly shared: boolean;
  private readonly rows = new Map<string, Row>();
  /** The instances that checked in, and those declared dead since (until they check in again). */
  private readonly checkIns = new Map<string, InstanceRecord>();
  /** Since when each instance has checked in without a gap (see CheckIn.deadAfterMs). */
  private readonly streaks = new Map<string, number>();
  private readonly reaped = new Set<string>();
  /** When each instance was last declared dead, kept after it checks in again (see startAll). */
  private readonly lastReaped = new Map<string, number>();
  /** Each instance's mark of the ticks it started (startAll). */
  private readonly startedUpTo = new Map<string, number>();
  /** Changes made to jobs (saved, removed, paused, resumed), counted. */
  private revision = 0;
  private readonly listeners = new Set<(change: JobChange) => void>();
  private readonly now: () => number;
  /** Fencing tokens of every job come from one counter: they grow across a job's removal and re-adding. */
  private fencing = 0;
  readonly historySize: number;
  /** Each job's last runs, oldest first. */
  private readonly histories = new Map<string, FinishedRun[]>();
  /** The runs recorded, numbered, for {@link runsSince}: the last {@link RUN_FEED_MAX}. */
  private readonly feed: Array<{ id: number; run: FinishedRun }> = [];
  private recorded = 0;

  constructor(options: MemoryJobStoreOptions = {}) {
    this.shared = options.shared ?? false;
    this.now = options.now ?? Date.now;
    this.historySize = historySizeOption('memory', options.historySize);
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }

  async register(jobs: ReadonlyArray<JobRegistration>): Promise<StoredJobState[]> {
    return jobs.map(({ name, anchor, fingerprint, trigger }) => {
      const row = this.row(name, anchor);
      row.fingerprint = fingerprint;
      row.trigger = trigger ?? fingerprint;
      return { name, anchor: row.anchor, lastTick: row.lastTick, paused: row.paused };
    });
  }

  async claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    const now = this.now();
    return claims.map((claim): ClaimOutcome => {
      const row = this.rows.get(claim.job);
      if (!row) return { status: 'gone' };
      if (row.fingerprint !== null && row.fingerprint !== claim.fingerprint) return { status: 'superseded', trigger: row.trigger ?? row.fingerprint };
      // Complete for every instance, whoever asks: before the watermark, which the first to ask advances.
      if (claim.maxRuns != null && row.runs >= claim.maxRuns) {
        row.lastTick = Math.max(row.lastTick ?? claim.tick, claim.tick);
        return { status: 'completed' };
      }
      if (row.lastTick !== null && row.lastTick >= claim.tick) return { status: row.lastTick > claim.tick ? 'overtaken' : 'lost' };
      // A lease is taken while it lives, and after, while a run waits to be taken over (its own, or one queued behind it).
      const lease = row.lease;
      const taken = lease !== null && (lease.until > now || this.retaken(lease) || row.queued !== null);
      // Made ahead: asked again at the tick rather than skipped (the run in the way may end before).
      if (claim.ahead && taken && !row.paused) return { status: 'later' };
      row.lastTick = claim.tick;
      if (row.paused) return { status: 'paused' };
      if (claim.exclusive && taken) {
        if (!claim.queue || row.queued !== null) return { status: 'busy' };
        row.queued = claim.tick;
        row.runs++;
        return { status: 'queued' };
      }
      const token = ++this.fencing;
      row.runs++;
      // Queued behind a lease that ended without handing it on (a version that does not queue released it).
      if (!taken) row.queued = null;
      if (taken) return { status: 'won', fencingToken: token };
      // A run that may overlap others runs without the lease when another holds it.
      row.lease = {
        owner: instance,
        until: now + claim.leaseMs,
        token,
        tick: claim.tick,
        from: claim.from,
        attempt: 1,
        delivery: claim.delivery,
        handed: false,
        started: !claim.ahead,
      };
      // An expired at-most-once lease no sweep gave up yet: given up by this claim.
      return lease
        ? { status: 'won', fencingToken: token, replaced: { tick: lease.tick, attempt: lease.attempt, owner: lease.owner } }
        : { status: 'won', fencingToken: token };
    });
  }

  async start(instance: string, leases: readonly Lease[]): Promise<boolean[]> {
    const now = this.now();
    return leases.map(({ job, fencingToken }) => {
      const lease = this.rows.get(job)?.lease;
      // A lease that ran out (its instance was declared dead, or did not renew it) may be another's at any moment: not started.
      if (!lease || lease.token !== fencingToken || lease.owner !== instance || lease.handed || lease.until < now) return false;
      lease.started = true;
      return true;
    });
  }

  async startAll(instance: string, upTo: number): Promise<boolean> {
    const reapedAt = this.lastReaped.get(instance);
    if (!this.checkIns.has(instance) || (reapedAt !== undefined && reapedAt > this.now() - DEAD_REMEMBERED_MS)) return false;
    this.startedUpTo.set(instance, Math.max(this.startedUpTo.get(instance) ?? upTo, upTo));
    return true;
  }

  /** Whether a lease was claimed ahead and its run has not started. */
  private unstarted(lease: StoredLease): boolean {
    return !lease.started && !((this.startedUpTo.get(lease.owner) ?? -Infinity) >= lease.tick);
  }

  /** Whether a lease that ran out is taken over by an instance that has its job (rather than given up). */
  private retaken(lease: StoredLease): boolean {
    return lease.delivery === 'at-least-once' || lease.handed || this.unstarted(lease);
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    const now = this.now();
    return leases.map(({ job, fencingToken }) => {
      const lease = this.rows.get(job)?.lease;
      if (!lease || lease.token !== fencingToken || lease.owner !== instance || lease.handed) return false;
      lease.until = now + leaseMs;
      return true;
    });
  }

  async release(leases: readonly Lease[]): Promise<number> {
    let handedOn = 0;
    for (const { job, fencingToken } of leases) {
      const row = this.rows.get(job);
      if (row?.lease?.token === fencingToken && !row.lease.handed && this.endLease(job, row)) handedOn++;
    }
    return handedOn;
  }

  async recordRuns(runs: readonly FinishedRun[]): Promise<void> {
    this.record(runs);
  }

  async runHistory(job: string, limit: number): Promise<FinishedRun[]> {
    const history = this.histories.get(job) ?? [];
    const count = Math.min(history.length, Math.max(0, Math.floor(limit)));
    return history
      .slice(history.length - count)
      .reverse()
      .map((run) => ({ ...run }));
  }

  async runsSince(cursor: string | null, limit: number): Promise<RunPage> {
    const after = cursor === null || !/^\d+$/.test(cursor) || Number(cursor) > this.recorded ? this.recorded : Number(cursor);
    const page = this.feed.filter((entry) => entry.id > after).slice(0, Math.max(0, Math.min(limit, BATCH_SIZE)));
    return { runs: page.map((entry) => ({ ...entry.run })), cursor: String(page.length > 0 ? page[page.length - 1].id : after) };
  }

  /** Keeps runs in their jobs' histories (the last {@link historySize} of each) and in the feed. */
  private record(runs: readonly FinishedRun[]): void {
    if (this.historySize === 0) return;
    for (const given of newestOfEachJob(runs, this.historySize)) {
      const run = { ...boundedRun(given) };
      let history = this.histories.get(run.job);
      if (!history) this.histories.set(run.job, (history = []));
      history.push(run);
      if (history.length > this.historySize) history.splice(0, history.length - this.historySize);
      this.feed.push({ id: ++this.recorded, run });
      if (this.feed.length > RUN_FEED_MAX) this.feed.splice(0, this.feed.length - RUN_FEED_MAX);
    }
  }

  /**
   * Ends a row's lease, or hands it on to the tick queued behind it (announced: whoever has the job
   * takes it over); whether it was handed on.
   */
  private endLease(job: string, row: Row): boolean {
    if (row.queued === null || !row.lease) return ((row.lease = null), false);
    const tick = row.queued;
    row.queued = null;
    Object.assign(row.lease, { until: 0, token: ++this.fencing, tick, from: tick, attempt: 0, handed: true, started: true });
    this.announce({ kind: 'handed-back', job, origin: '' });
    return true;
  }

  async recover(instance: string, leaseMs: number, jobs: JobSet, checkIn?: CheckIn): Promise<Sweep> {
    const now = this.now();
    const reaped = checkIn ? this.checkIn(checkIn, now) : undefined;
    const sweep = this.sweep(instance, leaseMs, jobs, now);
    return checkIn ? { ...sweep, reaped, revision: this.revision, storeNow: now } : sweep;
  }

  async instances(deadAfterMs: number): Promise<InstanceRecord[]> {
    const since = this.now() - deadAfterMs;
    return [...this.checkIns.values()].filter((record) => record.checkedInAt >= since).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Records the check-in; declares dead the instances silent for too long, whose leases run out now. Returns whether `self` had been. */
  private checkIn({ self, deadAfterMs }: CheckIn, now: number): boolean {
    const wasReaped = this.reaped.delete(self.id);
    const previous = this.checkIns.get(self.id)?.checkedInAt;
    // Since when it has checked in without a gap of more than half of deadAfterMs.
    const since = previous !== undefined && now - previous <= deadAfterMs / 2 ? (this.streaks.get(self.id) ?? now) : now;
    this.streaks.set(self.id, since);
    this.checkIns.set(self.id, { ...self, runningJobs: [...self.runningJobs], checkedInAt: now });
    const dead = new Set<string>();
    // Only an instance that has checked in itself, without a gap, for that long declares others dead (see CheckIn.deadAfterMs).
    const witness = deadAfterMs <= 0 || now - since >= deadAfterMs;
    if (witness) for (const [id, record] of this.checkIns) if (id !== self.id && record.checkedInAt < now - deadAfterMs) dead.add(id);
    if (dead.size === 0) return wasReaped;
    for (const id of dead) {
      this.checkIns.delete(id);
      this.streaks.delete(id);
      this.reaped.add(id);
      this.lastReaped.set(id, now);
    }
    for (const row of this.rows.values()) if (row.lease && dead.has(row.lease.owner)) row.lease.until = Math.min(row.lease.until, 0);
    return wasReaped;
  }

  private sweep(instance: string, leaseMs: number, jobs: JobSet, now: number): Sweep {
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
    for (const [job, row] of this.rows) {
      const lease = row.lease;
      if (!lease || lease.until >= now) continue;
      // As many as a call of a database store deals with.
      if (recovered.length + abandoned.length === BATCH_SIZE) return { recovered, abandoned, more: true };
      const run = { job, tick: lease.tick, from: lease.from, owner: lease.owner, previousToken: lease.token };
      if (this.retaken(lease)) {
        if (!jobs.has(job)) continue;
        const token = ++this.fencing;
        // A run that never started is at the attempt it was claimed for.
        const attempt = lease.attempt + (this.unstarted(lease) ? 0 : 1);
        row.lease = { ...lease, owner: instance, until: now + leaseMs, token, attempt, handed: false, started: true };
        recovered.push({ ...run, attempt, fencingToken: token });
      } else {
        abandoned.push({ ...run, attempt: lease.attempt, fencingToken: lease.token });
        this.endLease(job, row);
      }
    }
    return { recovered, abandoned, more: false };
  }

  async handBack(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    const handed = runs.map(({ job, fencingToken, tick, from, attempt }) => {
      const lease = this.rows.get(job)?.lease;
      if (!lease || lease.token !== fencingToken || lease.owner !== instance) return false;
      // The attempt before the first to run: a takeover counts one more, started or not.
      Object.assign(lease, { until: 0, tick, from, attempt: attempt - 1, handed: true, started: true });
      return true;
    });
    // One announcement for the batch: whoever hears it sweeps once.
    const first = runs.find((_, index) => handed[index]);
    if (first) this.announce({ kind: 'handed-back', job: first.job, origin: instance });
    return handed;
  }

  async setPaused(job: string, paused: boolean, origin: string): Promise<void> {
    const row = this.rows.get(job);
    if (!row) return;
    row.paused = paused;
    this.announce({ kind: paused ? 'paused' : 'resumed', job, origin });
  }

  async remove(job: string, origin: string): Promise<void> {
    this.histories.delete(job);
    if (this.rows.delete(job)) this.announce({ kind: 'removed', job, origin });
  }

  async saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void> {
    // Kept as JSON, as a database keeps it.
    const row = this.row(definition.name, anchor);
    row.definition = JSON.parse(JSON.stringify(definition));
    // A definition saved (added or changed) starts its maxRuns afresh.
    row.runs = 0;
    this.announce({ kind: 'saved', job: definition.name, origin });
  }

  async loadDefinitions(): Promise<Array<{ name: string; definition: unknown; paused: boolean }>> {
    return [...this.rows]
      .filter(([, row]) => row.definition !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, row]) => ({ name, definition: JSON.parse(JSON.stringify(row.definition)), paused: row.paused }));
  }

  async loadPaused(): Promise<Map<string, boolean>> {
    return new Map([...this.rows].map(([name, row]) => [name, row.paused]));
  }

  async watch(listener: (change: JobChange) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return async () => void this.listeners.delete(listener);
  }

  private row(name: string, anchor: number): Row {
    let row = this.rows.get(name);
    if (!row)
      this.rows.set(
        name,
        (row = { anchor, lastTick: null, paused: false, fingerprint: null, trigger: null, definition: null, lease: null, runs: 0, queued: null }),
      );
    return row;
  }

  private announce(change: JobChange): void {
    if (change.kind !== 'handed-back') this.revision++;
    // Delivered later, as a database would.
    for (const listener of this.listeners) queueMicrotask(() => listener(change));
  }
}
