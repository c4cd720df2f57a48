import { AsyncLocalStorage } from 'node:async_hooks';
import { systemClock } from '../../lib/engine/clock';
import { Scheduler } from '../../lib/engine/scheduler';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

/**
 * The default clock's timers fire outside the async context that armed them: a request's
 * AsyncLocalStorage stores (a tracing span, the tenant of nestjs-cls…) must not reach the runs
 * its timers lead to. These timers are of a few ms; what is asserted is the context, not the time.
 */
describe('systemClock', () => {
  const request = new AsyncLocalStorage<string>();

  it('fires a timer outside the async context that set it', async () => {
    const seen = await new Promise<string | undefined>((resolve) => request.run('tenant-a', () => systemClock.setTimer(() => resolve(request.getStore()), 0)));
    expect(seen).toBeUndefined();
  });

  it('fires a repeating timer outside the async context that set it, each time', async () => {
    const seen: Array<string | undefined> = [];
    await new Promise<void>((resolve) =>
      request.run('tenant-a', () => {
        const handle = systemClock.setTimer(
          () => {
            seen.push(request.getStore());
            if (seen.length === 2) {
              systemClock.clearTimer(handle);
              resolve();
            }
          },
          1,
          { repeat: true },
        );
      }),
    );
    expect(seen).toEqual([undefined, undefined]);
  });

  it('runs the jobs of a scheduler outside the context of the request that added them', async () => {
    const scheduler = new Scheduler({});
    scheduler.start();
    const seen = await new Promise<string | undefined>((resolve) =>
      request.run('tenant-a', () => scheduler.add({ name: 'job', trigger: new IntervalTrigger(5), handler: () => resolve(request.getStore()) })),
    );
    await scheduler.shutdown();
    expect(seen).toBeUndefined();
  });

  it('runs a job triggered by hand in the context of its caller', async () => {
    const scheduler = new Scheduler({});
    scheduler.start();
    let seen: string | undefined;
    scheduler.add({ name: 'job', trigger: new IntervalTrigger(3_600_000), handler: () => void (seen = request.getStore()) });
    await request.run('tenant-a', () => scheduler.trigger('job'));
    await scheduler.shutdown();
    expect(seen).toBe('tenant-a');
  });
});
