import { Job, JobHandler, Waker } from '../../lib/engine/job';
import { JobOptions, resolveJobOptions } from '../../lib/engine/job-options';
import { TimerTask } from '../../lib/engine/runner';
import { QueueEntry, TimerQueue } from '../../lib/engine/timer-queue';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/** A waker that wakes nothing: for parts of the engine tested without a scheduler. */
export const noWaker: Waker = { schedule() {}, cancel() {}, pause() {} };

/** An engine job every second, as the scheduler would make it from a definition. */
export function testJob(name: string, options: JobOptions = {}, handler: JobHandler = () => undefined): Job {
  return new Job(name, new IntervalTrigger(1_000), handler, resolveJobOptions(name, options), false, noWaker, undefined, undefined);
}

/** A started timer queue on `clock` that fires the timed tasks (timeouts, retries, batched starts) put in it. */
export function taskQueue(clock: VirtualClock): TimerQueue<QueueEntry> {
  const queue: TimerQueue<QueueEntry> = new TimerQueue(clock, () => {
    for (const entry of queue.takeDue(clock.now())) (entry as TimerTask).fire();
  });
  queue.start();
  return queue;
}
