import { Job, Waker } from './job';
import { QueueEntry, TimerQueue } from './timer-queue';

/** The default {@link Waker}: the scheduler's one timer queue, where a job is its own entry. */
export class QueueWaker implements Waker {
  constructor(private readonly queue: TimerQueue<QueueEntry>) {}

  /** Queues the job `lead` ms ahead of `at`. */
  schedule(job: Job, at: number, lead: number): void {
    this.queue.schedule(job, at - lead);
  }

  cancel(job: Job): void {
    this.queue.cancel(job);
  }

  /** A paused job leaves the queue; it is queued again when resumed. */
  pause(job: Job): void {
    this.queue.cancel(job);
  }
}
