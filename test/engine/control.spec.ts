import { SchedulerEvent } from '../../lib/events';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { CronJob } from '../../lib';

function setup() {
  const clock = new VirtualClock(0);
  const scheduler = new Scheduler({ clock });
  const events: SchedulerEvent[] = [];
  scheduler.on((event) => events.push(event));
  const log = () =>
    events.map(
      (e) =>
        `${e.type}@${e.at.getTime()}${'attempt' in e && e.type.startsWith('run.') ? `#${e.attempt}` : ''}${e.type === 'run.skipped' ? `:${e.reason}` : ''}`,
    );
  return { clock, scheduler, events, log };
}

describe('pausing a job', () => {
  it('drops its pending retries and held-back runs, reporting them skipped', async () => {
    const { clock, scheduler, log } = setup();
    const options: JobOptions = { retry: { attempts: 3, backoffMs: 1_000, factor: 1 } };
    scheduler.add({ name: 'failing', trigger: new IntervalTrigger(10_000), handler: () => Promise.reject(new Error('no')), options });
    scheduler.start();
    await clock.advanceAsync(10_000);
    scheduler.pause('failing');
    await clock.advanceAsync(5_000);
    expect(log()).toEqual([
      'job.added@0',
      'scheduler.started@0',
      'run.started@10000#1',
      'run.failed@10000#1',
      'job.paused@10000',
      'run.skipped@11000#2:paused',
    ]);
  });

  it('rescheduled while paused, it resumes on the new trigger', async () => {
    const { clock, scheduler } = setup();
    const runs: number[] = [];
    scheduler.add({
      name: 'daily',
      trigger: CronTrigger.create('daily', '0 0 0 * * *', { timeZone: 'UTC' }),
      handler: (ctx) => void runs.push(ctx.scheduledAt.getTime()),
    });
    scheduler.start();
    scheduler.pause('daily');
    scheduler.reschedule('daily', CronTrigger.create('daily', '0 0 12 * * *', { timeZone: 'UTC' }));
    await clock.advanceAsync(86_400_000);
    scheduler.resume('daily');
    await clock.advanceAsync(86_400_000);
    expect(runs).toEqual([86_400_000 + 12 * 3_600_000]);
  });
});

describe('standalone CronJob', () => {
  afterEach(() => jest.useRealTimers());

  it('leaves the shared scheduler once stopped, so stopped jobs can be collected', async () => {
    jest.useFakeTimers({ now: 0 });
    const jobs = Array.from({ length: 50 }, () => new CronJob('* * * * * *', () => undefined, null, true));
    const scheduler = (jobs[0] as unknown as { binding: { scheduler: Scheduler } }).binding.scheduler;
    const before = scheduler.names().length;
    await jest.advanceTimersByTimeAsync(1_000);
    jobs.forEach((job) => job.stop());
    await jest.advanceTimersByTimeAsync(0);
    expect(scheduler.names().length).toBe(before - 50);
    expect(jobs[0].lastDate()).toEqual(new Date(1_000));
    jobs[0].start();
    expect(jobs[0].isActive).toBe(true);
    jobs[0].stop();
  });
});
