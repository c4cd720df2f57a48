import { StoreUnavailableError } from '../../lib/errors';
import { SchedulerEvent } from '../../lib/events';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { JobStore } from '../../lib/stores/job-store';
import { MemoryJobStore } from '../../lib/stores/memory.store';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/**
 * Reads made for operators (the live instances, for the registry, a health check, the dashboard)
 * are not calls of the cluster protocol: one that fails is no outage, and no tick is missed for it.
 */
describe('a read of the live instances that fails', () => {
  it('rejects with StoreUnavailableError, reports no outage, and holds up no claim', async () => {
    const clock = new VirtualClock(T0);
    const memory = new MemoryJobStore({ shared: true, now: () => clock.now() });
    const store: JobStore = new Proxy(memory, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property === 'instances') return () => Promise.reject(new Error('connection reset'));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const events: SchedulerEvent[] = [];
    const scheduler = new Scheduler({ clock, store, instanceId: 'a', cluster: { leaseMs: 3_000, syncEveryMs: 1_000, checkInMs: 1_000, claimAheadMs: 0 } });
    scheduler.on((event) => events.push(event));
    scheduler.add({ name: 'job', trigger: new IntervalTrigger(100), handler: () => undefined });
    scheduler.start();
    for (let i = 0; i < 10; i++) {
      await clock.advanceAsync(100);
      const read = scheduler.instances();
      await expect(read).rejects.toThrow(StoreUnavailableError);
      await expect(read).rejects.toThrow('The job store (memory) is unavailable: connection reset');
    }
    expect(events.filter((event) => event.type === 'store.unavailable' || event.type === 'run.missed')).toEqual([]);
    expect(events.filter((event) => event.type === 'run.started')).toHaveLength(10);
    await scheduler.shutdown();
  });
});
