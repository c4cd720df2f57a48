import { CronJob as CronPackageJob } from 'cron';
import { DateTime } from 'luxon';
import { CronJob, CronTime } from '../../lib';
import { expectErrorsLikeCron, expectLastDatesLikeCron, failing, taking } from '../support/cron-compat';
import { T0, useFakeTime } from '../support/nest';

useFakeTime();

/** A standalone CronJob (not added to any registry) behaves like the `cron` package's. */
describe('CronJob on its own', () => {
  it('fires when started, stops, and starts again without catching up', async () => {
    const at: number[] = [];
    const job = new CronJob('* * * * * *', () => void at.push(Date.now() - T0), null, true);
    expect(job.isActive).toBe(true);
    await jest.advanceTimersByTimeAsync(2_000);
    job.stop();
    expect(job.isActive).toBe(false);
    await jest.advanceTimersByTimeAsync(3_000);
    job.start();
    await jest.advanceTimersByTimeAsync(1_000);
    job.stop();
    expect(at).toEqual([1_000, 2_000, 6_000]);
    expect(job.lastDate()).toEqual(new Date(T0 + 6_000));
  });

  it('calls onTick with its context as this and onComplete as argument; onComplete also runs on stop()', async () => {
    const context = { label: 'ctx' };
    const seen: unknown[] = [];
    const onComplete = jest.fn();
    const job = CronJob.from({
      cronTime: '*/2 * * * * *',
      onTick: function (this: typeof context, done) {
        seen.push(this.label, typeof done);
      },
      onComplete,
      context,
      start: true,
    });
    await jest.advanceTimersByTimeAsync(2_000);
    expect(seen).toEqual(['ctx', 'function']);
    job.stop();
    await jest.advanceTimersByTimeAsync(0);
    expect(onComplete).toHaveBeenCalledTimes(1);
  });

  it('runOnInit fires at once; fireOnTick() runs it on demand, started or not', async () => {
    let runs = 0;
    const job = new CronJob('0 0 0 1 1 *', () => void runs++, null, false, null, null, true);
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await job.fireOnTick();
    expect(runs).toBe(2);
    expect(job.isActive).toBe(false);
  });

  it('hands errors to errorHandler when one is given', async () => {
    const errors: unknown[] = [];
    const job = CronJob.from({
      cronTime: '* * * * * *',
      onTick: () => {
        throw new Error('nope');
      },
      errorHandler: (error) => errors.push(error),
      start: true,
    });
    await jest.advanceTimersByTimeAsync(2_000);
    job.stop();
    expect(errors).toEqual([new Error('nope'), new Error('nope')]);
  });

  it('with waitForCompletion, skips ticks while running and stop() resolves when the run is done', async () => {
    let running = 0;
    let peak = 0;
    const job = CronJob.from({
      cronTime: '* * * * * *',
      onTick: async () => {
        peak = Math.max(peak, ++running);
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        running--;
      },
      waitForCompletion: true,
      start: true,
    });
    await jest.advanceTimersByTimeAsync(4_000);
    expect(peak).toBe(1);
    expect(job.isCallbackRunning).toBe(true);
    let stopped = false;
    const stopping = job.stop()!.then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    await jest.advanceTimersByTimeAsync(2_500);
    await stopping;
    expect(job.isCallbackRunning).toBe(false);
  });

  it('fires once at a date, and refuses to start for a date already past', async () => {
    let runs = 0;
    const job = new CronJob(new Date(T0 + 5_000), () => void runs++, null, true);
    expect(job.runOnce).toBe(true);
    expect(job.nextDate().toMillis()).toBe(T0 + 5_000);
    expect(job.nextDates()).toEqual([]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(1);
    expect(() => job.start()).toThrow('is in the past; it will never fire.');
    expect(() => job.nextDate()).toThrow('Invalid cronTime for job "CronJob#');
    expect(() => job.nextDate()).toThrow('2026-01-01T00:00:05.000Z is in the past; it will never fire.');
  });

  it('refuses a date that names no instant, and a time zone with an offset', () => {
    expect(() => new CronTime(new Date('nonsense'))).toThrow('Invalid cronTime for job "CronTime": Invalid Date is not a cron expression nor a valid date.');
    expect(() => new CronTime(new Date(T0), 'UTC', 60)).toThrow(
      'Invalid timeZone for job "CronTime": {"timeZone":"UTC","utcOffset":60} and utcOffset are mutually exclusive; give one of them.',
    );
    expect(() => CronJob.from({ cronTime: new Date(T0), onTick: () => undefined, timeZone: 'UTC', utcOffset: 60, name: 'x' })).toThrow(
      'Invalid timeZone for job "x": {"timeZone":"UTC","utcOffset":60} and utcOffset are mutually exclusive; give one of them.',
    );
  });

  it('reports the next dates as luxon DateTimes in its zone', () => {
    const job = CronJob.from({ cronTime: '0 30 9 * * *', onTick: () => undefined, timeZone: 'Asia/Tokyo' });
    const [first, second] = job.nextDates(2);
    expect(first.toISO()).toBe('2026-01-01T09:30:00.000+09:00');
    expect(second.toISO()).toBe('2026-01-02T09:30:00.000+09:00');
    expect(job.nextDate().equals(first)).toBe(true);
  });

  it('setTime() swaps the schedule and keeps the job started', async () => {
    const at: number[] = [];
    const job = new CronJob('0 0 * * * *', () => void at.push(Date.now() - T0), null, true);
    job.setTime(new CronTime('*/5 * * * * *'));
    await jest.advanceTimersByTimeAsync(10_000);
    job.stop();
    expect(at).toEqual([5_000, 10_000]);
  });
});

/** The same job on its own, beside the `cron` package's, which gives the expected values. */
describe("CronJob on its own, beside cron's", () => {
  it('with waitForCompletion, lastDate() is the last tick, run or skipped, and does not move while stopped', async () => {
    const params = { cronTime: '* * * * * *', onTick: taking(10_000), waitForCompletion: true, start: true };
    const ours = CronJob.from(params);
    const theirs = CronPackageJob.from(params);
    await expectLastDatesLikeCron(ours, theirs);
    // Stopped until the run is over (and, here, the job let go by its scheduler).
    const stopped = Promise.all([ours.stop(), theirs.stop()]);
    await jest.advanceTimersByTimeAsync(5_000);
    await stopped;
    expect(ours.isCallbackRunning).toBe(false);
    expect([ours.lastDate(), theirs.lastDate()]).toEqual([new Date(T0 + 6_000), new Date(T0 + 6_000)]);
  });

  it('hands a synchronous throw of any callback to errorHandler within the timer callback, a rejection a moment later', async () => {
    const ourErrors = jest.fn();
    const theirErrors = jest.fn();
    const ours = CronJob.from({ cronTime: '* * * * * *', onTick: () => undefined, errorHandler: ourErrors, start: true });
    const theirs = CronPackageJob.from({ cronTime: '* * * * * *', onTick: () => undefined, errorHandler: theirErrors, start: true });
    // A callback after onTick: its throw must not wait for the callback before it.
    ours.addCallback(failing());
    theirs.addCallback(failing());
    await expectErrorsLikeCron(ourErrors, theirErrors);
    ours.stop();
    theirs.stop();
  });
});

describe('CronTime', () => {
  it('tells the next dates and the time until the next one', () => {
    const time = new CronTime('0 */15 * * * *', 'UTC');
    expect(time.sendAt().toISO()).toBe('2026-01-01T00:15:00.000Z');
    expect(time.sendAt(2).map((d: DateTime) => d.toISO())).toEqual(['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
    expect(time.getTimeout()).toBe(15 * 60_000);
    expect(time.toString()).toBe('0 */15 * * * *');
    expect(time.timeZone).toBe('UTC');
  });

  it('validates expressions', () => {
    expect(CronTime.validateCronExpression('*/5 * * * *')).toEqual({ valid: true });
    const { valid, error } = CronTime.validateCronExpression('61 * * * *');
    expect(valid).toBe(false);
    expect(error).toMatchObject({ code: 'INVALID_SCHEDULE' });
  });

  it('reads a utcOffset in minutes', () => {
    const time = new CronTime('0 0 9 * * *', null, -300);
    expect(time.sendAt().toISO()).toBe('2026-01-01T09:00:00.000-05:00');
  });
});
