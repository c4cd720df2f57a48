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
 * up a release, a claim or a run. While the store answers, every record waits only for the next
 * call, however many runs ended at once (a herd of thousands at the top of the hour). After a
 * write failed they wait for the store, {@link MAX_UNSENT_RUNS} at most (each error's text already
 * cut to the store's bound), so that memory stays bounded; the records dropped are said in one
 * event per flush, not one per record.
 */
export class RunRecords {
  private pending: FinishedRun[] = [];
  /** The last write failed: the records wait for the store, bounded. */
  private failing = false;
  /** Records dropped and not yet said. */
  private unreported = 0;

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
    if (this.failing) this.bound();
  }

  /** Takes every record waiting. */
  take(): FinishedRun[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** The records taken last were written: the store answers again. */
  sent(): void {
    this.failing = false;
  }

  /** Records that could not be sent wait again, before the newer ones (the oldest go first when too many wait). */
  putBack(runs: readonly FinishedRun[]): void {
    this.failing = true;
    if (runs.length > 0) this.pending = [...runs, ...this.pending];
    this.bound();
    this.report();
  }

  /** Says how many records were dropped since it last said so (`history.dropped`, `buffer-full`). */
  report(): void {
    this.say(this.unreported, 'buffer-full');
    this.unreported = 0;
  }

  /** Drops every record still waiting (the scheduler stopped), saying how many. */
  dropAll(): void {
    this.report();
    this.say(this.pending.length, 'stopped');
    this.pending = [];
  }

  private bound(): void {
    const excess = this.pending.length - MAX_UNSENT_RUNS;
    if (excess <= 0) return;
    this.pending.splice(0, excess);
    this.unreported += excess;
  }

  private say(count: number, reason: 'buffer-full' | 'stopped'): void {
    if (count > 0) this.events.emit('history.dropped', () => ({ at: new Date(this.clock.now()), count, reason }));
  }
}
