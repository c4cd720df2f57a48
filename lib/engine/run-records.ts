import { boundedRun, FinishedRun } from '../stores/job-store';
import { Clock } from './clock';
import { EventHub } from './event-hub';

/**
 * The most records of finished runs that wait for the store at once (while it cannot be reached):
 * beyond, the oldest are dropped, and said so (`history.dropped`).
 */
export const MAX_UNSENT_RUNS = 1_000;

/**
 * The records of finished runs on their way to the store's run history. They go in the flush
 * after their run ended, in a call of their own, apart from the releases: the history never holds
 * up a release, a claim or a run. While the store cannot be reached they wait,
 * {@link MAX_UNSENT_RUNS} at most (each error's text already cut to the store's bound), so that
 * memory stays bounded.
 */
export class RunRecords {
  private pending: FinishedRun[] = [];

  constructor(
    private readonly events: EventHub,
    private readonly clock: Clock,
  ) {}

  /** How many records wait. */
  get size(): number {
    return this.pending.length;
  }

  /** A run ended: its record waits for the next flush. */
  add(run: FinishedRun): void {
    this.pending.push(boundedRun(run));
    this.bound();
  }

  /** Takes every record waiting. */
  take(): FinishedRun[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** Records that could not be sent wait again, before the newer ones (the oldest go first when too many wait). */
  putBack(runs: readonly FinishedRun[]): void {
    if (runs.length === 0) return;
    this.pending = [...runs, ...this.pending];
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
