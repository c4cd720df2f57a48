import { Coordinator } from './coordinator';
import { Job } from './job';

/** Why a job has no tick left. */
export type Exhausted = 'trigger-exhausted' | 'end-at';

/**
 * Sets a job's next wake-up through its waker: for its next tick, plus its jitter, ahead of it by
 * its coordinator's lead.
 */
export class WakeUps {
  constructor(
    /** Source of randomness for `jitterMs`, returning [0, 1). */
    private readonly random: () => number,
    private readonly coordinator: (job: Job) => Coordinator,
  ) {}

  /** Queues the job for `job.nextTick`; when there is none, returns why the job is complete. */
  next(job: Job): Exhausted | null {
    const tick = job.nextTick;
    const { endAt } = job.options;
    if (tick === null) return 'trigger-exhausted';
    if (endAt !== null && tick > endAt) return 'end-at';
    this.at(job, tick + this.jitter(job, tick));
    return null;
  }

  /**
   * Queues the job's wake-up for a tick due at `at`, ahead of it by its coordinator's lead (at most
   * half the time since the previous tick, so that the previous run has started by then).
   */
  at(job: Job, at: number): void {
    const previous = job.dueAt;
    job.dueAt = at;
    job.waker.schedule(job, at, this.coordinator(job).lead(job, at, Math.max(0, (at - previous) / 2)));
  }

  /** A random delay of at most `jitterMs`, ending before the following tick. */
  private jitter(job: Job, tick: number): number {
    const { jitterMs } = job.options;
    if (jitterMs === 0) return 0;
    const following = job.trigger.next(tick, job.anchor);
    const room = following === null ? jitterMs : Math.min(jitterMs, following - tick - 1);
    return Math.max(0, Math.floor(this.random() * (room + 1)));
  }
}
