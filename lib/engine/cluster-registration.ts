import { batches } from '../stores/batches';
import { StoredJobState } from '../stores/job-store';
import { Backoff } from './backoff';
import { Clock, TimerHandle } from './clock';
import { CoordinatorHost } from './coordinator';
import { fingerprint } from './fingerprint';
import { Job } from './job';
import { StoreCalls } from './store-calls';

/** How registration reaches back into the scheduler. */
export interface RegistrationHost extends CoordinatorHost {
  /** Whether the job is still the scheduler's, not paused, and the scheduler running: a registration answered late is dropped otherwise. */
  live(job: Job): boolean;
  /** The job is paused cluster-wide (in the store): pause it here. */
  pausedInStore(job: Job): void;
  /** Cancels the job's wake-up, to arm it again on the store's anchor. */
  disarm(job: Job): void;
  /** The store refused the job's row: the job cannot run here; report it. */
  rejected(job: Job, reason: string): void;
}

interface Placement {
  job: Job;
  from: number;
  fromWatermark: boolean;
}

// Taken at load: registrations of one event-loop turn go together even under fake timers installed later.
const nextTurn = globalThis.setImmediate;

/**
 * Registers cluster-wide jobs with the store before their ticks are claimed: each takes the
 * anchor, watermark and paused flag every instance shares, and records its trigger's fingerprint.
 * Jobs armed in one turn of the event loop register together. While the store cannot be reached
 * a job is armed on its own (its ticks are then reported missed, never claimed: an interval on an
 * anchor of its own could run off the cluster's grid), and registration is tried again (1 s,
 * doubling to 30 s), at once when another call finds the store back; once registered, the job is
 * armed again on the store's anchor, from where it was.
 */
export class ClusterRegistrations {
  private placing: Placement[] = [];
  /** Registrations to try again: their timers, and what each tries. */
  private readonly retries = new Map<TimerHandle, () => void>();
  /** Jobs armed while their registration waits. */
  private readonly waiting = new Set<Job>();

  constructor(
    private readonly calls: StoreCalls,
    private readonly clock: Clock,
    private readonly host: RegistrationHost,
  ) {
    // Registrations waiting for the store go at once when it is back, not at their next backoff.
    calls.onRecovered(() => {
      for (const [timer, retry] of [...this.retries]) {
        this.clock.clearTimer(timer);
        this.retries.delete(timer);
        retry();
      }
    });
  }

  /** Whether the job is armed while its registration waits: its ticks are not to be claimed. */
  waitingFor(job: Job): boolean {
    return this.waiting.size > 0 && this.waiting.has(job);
  }

  /** Registers the job (with the others placed in this turn), then arms it; see {@link Coordinator.place}. */
  place(job: Job, from: number, fromWatermark: boolean): void {
    this.placing.push({ job, from, fromWatermark });
    // One store call per batch of bounded size, each with its own time limit and retries.
    if (this.placing.length === 1) nextTurn(() => batches(this.placing.splice(0)).forEach((batch) => this.registerThenArm(batch, new Backoff(1_000, 30_000))));
  }

  /**
   * A job the store does not know (its row was removed, or lost with the store's data): registered
   * again, from `from`; it stays armed, and its ticks are reported missed until then.
   */
  again(job: Job, from: number): void {
    if (this.waiting.has(job)) return;
    this.waiting.add(job);
    this.place(job, from, false);
  }

  /** Stops the retries. */
  stop(): void {
    for (const timer of this.retries.keys()) this.clock.clearTimer(timer);
    this.retries.clear();
    this.waiting.clear();
  }

  /**
   * Registers a batch and arms its jobs. When the scheduler starts, ticks count from the watermark:
   * those missed while the whole cluster was down follow the misfire policy.
   */
  private registerThenArm(placements: Placement[], backoff: Backoff): void {
    const live = placements.filter(({ job }) => this.host.live(job));
    // A job paused (or gone) while it waited leaves the batch: when it is resumed, its first claim
    // finds it unknown to the store ('gone') and registers it again.
    for (const { job } of placements) if (!this.host.live(job) && this.waiting.delete(job)) this.host.disarm(job);
    if (live.length === 0) return;
    const jobs = live.map(({ job }) => ({ name: job.name, anchor: job.anchor, fingerprint: fingerprint(job.trigger), trigger: job.trigger.toString() }));
    this.calls
      .call(() => this.calls.store.register(jobs))
      .then(
        (states) => live.forEach((placement, index) => this.arm(placement, states[index])),
        () => {
          for (const { job, from } of live) {
            if (this.waiting.has(job) || !this.host.live(job)) continue;
            this.waiting.add(job);
            this.host.armAfter(job, firstAfter(job, from));
          }
          const again = () => this.registerThenArm(live, backoff);
          const timer = this.clock.setTimer(
            () => {
              this.retries.delete(timer);
              again();
            },
            backoff.next(),
            { unref: true },
          );
          this.retries.set(timer, again);
        },
      );
  }

  private arm({ job, from, fromWatermark }: Placement, state: StoredJobState | null): void {
    const armed = this.waiting.delete(job);
    if (!this.host.live(job)) return;
    if (state === null) {
      if (armed) this.host.disarm(job);
      return this.host.rejected(job, 'its row in the store cannot be written: the key or row of that name holds something else');
    }
    const { startAt } = job.options;
    // Every instance counts an interval from startAt, when there is one; else from the stored anchor.
    job.anchor = startAt ?? state.anchor;
    if (state.paused) return this.host.pausedInStore(job);
    // A stored job's ticks count from its creation (its anchor) until one is claimed.
    let after = fromWatermark ? (state.lastTick ?? (job.persisted ? state.anchor : from)) : from;
    if (startAt !== null) after = Math.max(after, startAt - 1);
    if (armed) {
      // The ticks until now were reported missed while the job waited: it goes on from there.
      if (job.nextTick !== null) after = Math.max(after, job.nextTick - 1);
      this.host.disarm(job);
    }
    this.host.armAfter(job, after);
  }
}

/** Where a job's ticks count from when it is armed at `from`: an interval counts from startAt, the first tick at or after it. */
export function firstAfter(job: Job, from: number): number {
  const { startAt } = job.options;
  return startAt !== null && startAt > from ? startAt - 1 : from;
}
