import { CronJob as CronPackageJob } from 'cron';
import { CronJob } from '../../lib';
import { T0 } from './nest';

/** An `onTick` that takes `ms` of (fake) time. */
export const taking = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An `onTick` that throws on its first call and rejects on the next ones. */
export const failing = () => {
  let calls = 0;
  return () => {
    if (++calls === 1) throw new Error('thrown');
    return Promise.reject(new Error('rejected'));
  };
};

/**
 * Drives two jobs on `* * * * * *` with `waitForCompletion` and a 10 s `onTick`, ours and one of
 * the `cron` package, both started at {@link T0}, through ticks that run, ticks skipped, a stop and
 * a start, and checks after each step that `lastDate()` is the same for both. Leaves both started,
 * the run of 1 s still going, the last tick at 6 s.
 */
export async function expectLastDatesLikeCron(ours: CronJob, theirs: CronPackageJob): Promise<void> {
  const lastDates = () => [ours.lastDate(), theirs.lastDate()];
  // Runs at 1 s, until 11 s; the tick of 2 s is skipped.
  await jest.advanceTimersByTimeAsync(2_500);
  expect(lastDates()).toEqual([new Date(T0 + 2_000), new Date(T0 + 2_000)]);
  void ours.stop();
  void theirs.stop();
  await jest.advanceTimersByTimeAsync(3_000);
  expect(lastDates()).toEqual([new Date(T0 + 2_000), new Date(T0 + 2_000)]);
  // Started again while the run goes on: the tick of 6 s is skipped.
  ours.start();
  theirs.start();
  await jest.advanceTimersByTimeAsync(1_000);
  expect(lastDates()).toEqual([new Date(T0 + 6_000), new Date(T0 + 6_000)]);
}

/**
 * With two jobs ticking every second from {@link T0} whose failing callback (see {@link failing})
 * reports to these error handlers: the first tick's throw reaches both within a synchronous
 * advance of the fake timers, as in `cron`; the second tick's rejection a moment later.
 */
export async function expectErrorsLikeCron(ourErrors: jest.Mock, theirErrors: jest.Mock): Promise<void> {
  jest.advanceTimersByTime(1_000);
  expect(ourErrors.mock.calls).toEqual([[new Error('thrown')]]);
  expect(theirErrors.mock.calls).toEqual([[new Error('thrown')]]);
  jest.advanceTimersByTime(1_000);
  expect(ourErrors).toHaveBeenCalledTimes(1);
  expect(theirErrors).toHaveBeenCalledTimes(1);
  await jest.advanceTimersByTimeAsync(0);
  expect(ourErrors.mock.calls).toEqual([[new Error('thrown')], [new Error('rejected')]]);
  expect(theirErrors.mock.calls).toEqual([[new Error('thrown')], [new Error('rejected')]]);
}
