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
