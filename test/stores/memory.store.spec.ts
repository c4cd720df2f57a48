import { StoreUnavailableError } from '../../lib';
import { MemoryJobStore } from '../../lib/stores/memory.store';
import { describeJobStore, finished } from './conformance';

describeJobStore('MemoryJobStore', () => {
  const store = new MemoryJobStore({ shared: true });
  return {
    // Every "instance" of this process shares the one store.
    open: async () => store,
    cleanup: () => store.close(),
  };
});

describe('MemoryJobStore run history', () => {
  it('refuses a historySize that is not a whole number from 0 to 1000, naming it', () => {
    expect(() => new MemoryJobStore({ shared: true, historySize: -1 })).toThrow(StoreUnavailableError);
    expect(() => new MemoryJobStore({ shared: true, historySize: -1 })).toThrow(
      'The job store (memory) is unavailable: historySize -1 is not a whole number from 0 to 1000',
    );
  });

  it('keeps no run with a historySize of 0', async () => {
    const store = new MemoryJobStore({ shared: true, historySize: 0 });
    await store.recordRuns([finished('job', 1_000)]);
    expect(await store.runHistory('job', 10)).toEqual([]);
    expect((await store.runsSince('0', 10)).runs).toEqual([]);
  });
});

describe('MemoryJobStore check-ins', () => {
  const self = (id: string) => ({ id, host: 'h', pid: 1, startedAt: 0, running: 0, runningJobs: [] });
  const checkIn = (store: MemoryJobStore, id: string) => store.recover(id, 60_000, new Set(), { self: self(id), deadAfterMs: 6_000 });

  it('declare others dead only from an instance that has checked in without a gap for that long: not the first one back after the store was away', async () => {
    let now = 1_000_000;
    const store = new MemoryJobStore({ shared: true, now: () => now });
    await checkIn(store, 'a');
    await checkIn(store, 'b');
    // The store was away for 10 s: neither could check in. The first one back declares no one
    // dead, even as the check-ins its client queued meanwhile arrive together…
    now += 10_000;
    await checkIn(store, 'a');
    now += 5;
    await checkIn(store, 'a');
    now += 1_500;
    expect((await checkIn(store, 'b')).reaped).toBe(false);
    // …and it keeps checking in: the other one, back, is live.
    for (let i = 0; i < 4; i++) {
      now += 2_000;
      await checkIn(store, 'a');
      await checkIn(store, 'b');
    }
    expect((await store.instances(6_000)).map((instance) => instance.id)).toEqual(['a', 'b']);
    // One that goes silent while the other checks in every 2 s is declared dead.
    for (let i = 0; i < 4; i++) {
      now += 2_000;
      await checkIn(store, 'a');
    }
    expect((await checkIn(store, 'b')).reaped).toBe(true);
  });
});
