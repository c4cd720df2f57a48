import { FinishedRun, Lease, ReleasedLease } from '../stores/job-store';
import { Clock } from './clock';
import { EventHub } from './event-hub';

/**
 * The most records of finished runs that wait for the store at once (while it cannot be reached):
 * beyond, the oldest are dropped, and said so (`history.dropped`).
 */
export const MAX_UNSENT_RUNS = 1_000;

/** A record waiting to be sent, with the lease its run held (the token it has now), if any. */
export interface UnsentRun {
  run: FinishedRun;
  token: number | undefined;
}

/** What one flush sends: the leases to release, with the records that ride with them, and the records that go alone. */
export interface OutgoingRuns {
  /** The leases given, each with the records of its runs that were waiting (a copy, when it has some). */
  leases: ReleasedLease[];
  /** The records that ride with {@link leases}: put back if their release fails. */
  carried: UnsentRun[];
  /** The records of runs whose lease is not released now, or that had none (`triggerJob`). */
  alone: UnsentRun[];
}

/**
 * The records of finished runs on their way to the store's run history. A record goes with the
 * release of its run's lease when that release is sent in the same flush, and alone otherwise.
 * While the store cannot be reached they wait, {@link MAX_UNSENT_RUNS} at most: the release of a
 * lease never waits for them, and memory stays bounded.
 */
export class RunRecords {
  private pending: UnsentRun[] = [];

  constructor(
    private readonly events: EventHub,
    private readonly clock: Clock,
  ) {}

  /** How many records wait. */
  get size(): number {
    return this.pending.length;
  }

  /** A run ended: its record waits for the next flush. */
  add(run: FinishedRun, token: number | undefined): void {
    this.pending.push({ run, token });
    this.bound();
  }

  /** Takes every record waiting, each with the release of its lease if that is among `releases`, else alone. */
  take(releases: readonly Lease[]): OutgoingRuns {
    if (this.pending.length === 0) return { leases: releases as ReleasedLease[], carried: [], alone: [] };
    const waiting = this.pending;
    this.pending = [];
    if (releases.length === 0) return { leases: [], carried: [], alone: waiting };
    const byJob = new Map<string, Map<number, ReleasedLease & { runs: FinishedRun[] }>>();
    const leases: ReleasedLease[] = releases.map((lease) => {
      const copy = { ...lease, runs: [] as FinishedRun[] };
      let tokens = byJob.get(lease.job);
      if (!tokens) byJob.set(lease.job, (tokens = new Map()));
      tokens.set(lease.fencingToken, copy);
      return copy;
    });
    const carried: UnsentRun[] = [];
    const alone: UnsentRun[] = [];
    for (const entry of waiting) {
      const lease = entry.token === undefined ? undefined : byJob.get(entry.run.job)?.get(entry.token);
      if (!lease) {
        alone.push(entry);
        continue;
      }
      lease.runs.push(entry.run);
      carried.push(entry);
    }
    return { leases, carried, alone };
  }

  /** Records that could not be sent wait again, before the newer ones (the oldest go first when too many wait). */
  putBack(entries: readonly UnsentRun[]): void {
    if (entries.length === 0) return;
    this.pending = [...entries, ...this.pending];
    this.bound();
  }

  /** Drops every record still waiting (the scheduler stopped), saying how many. */
  dropAll(): void {
    this.drop(this.pending.length, 'stopped');
  }

  private bound(): void {
    if (this.pending.length > MAX_UNSENT_RUNS) this.drop(this.pending.length - MAX_UNSENT_RUNS, 'buffer-full');
  }

  private drop(count: number, reason: 'buffer-full' | 'stopped'): void {
    if (count <= 0) return;
    this.pending.splice(0, count);
    this.events.emit('history.dropped', () => ({ at: new Date(this.clock.now()), count, reason }));
  }
}
