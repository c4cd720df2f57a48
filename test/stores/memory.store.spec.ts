import { MemoryJobStore } from '../../lib/stores/memory.store';
import { describeJobStore } from './conformance';

describeJobStore('MemoryJobStore', () => {
  const store = new MemoryJobStore({ shared: true });
  return {
    // Every "instance" of this process shares the one store.
    open: async () => store,
    cleanup: () => store.close(),
  };
});
