import { SchedulerEvent } from '../../lib/events';
import { Backoff } from '../../lib/engine/backoff';
import { EventHub } from '../../lib/engine/event-hub';
import { StoreCalls } from '../../lib/engine/store-calls';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { StoreUnavailableError } from '../../lib/errors';
import { MemoryJobStore } from '../../lib/stores/memory.store';

function setup() {
  const clock = new VirtualClock(0);
  const events: SchedulerEvent[] = [];
  const hub = new EventHub((error) => {
    throw error;
  });
  hub.on((event) => events.push(event));
  const calls = new StoreCalls(new MemoryJobStore(), clock, hub, 1_000);
  calls.start();
  const log = () => events.map((e) => `${e.type}@${e.at.getTime()}`);
  return { clock, calls, log };
}

const fail = () => Promise.reject(new Error('ECONNREFUSED'));
const never = () => new Promise<never>(() => undefined);

describe('Backoff', () => {
  it('doubles from the first delay up to the longest, and starts over after a success', () => {
    const backoff = new Backoff(100, 500);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400, 500, 500]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});

describe('StoreCalls', () => {
  it('reports an outage once however many calls fail, backs off before the next try, and reports the recovery', async () => {
    const { clock, calls, log } = setup();
    await expect(calls.call(fail)).rejects.toThrow('ECONNREFUSED');
    await expect(calls.call(fail)).rejects.toThrow('ECONNREFUSED');
    expect(log()).toEqual(['store.unavailable@0']);
    // 100 ms after the first failure, then 200 ms after the second.
    expect(calls.ready()).toBe(false);
    await clock.advanceAsync(199);
    expect(calls.ready()).toBe(false);
    await clock.advanceAsync(1);
    expect(calls.ready()).toBe(true);
    await expect(calls.call(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(log()).toEqual(['store.unavailable@0', 'store.recovered@200']);
    await expect(calls.call(fail)).rejects.toThrow();
    await clock.advanceAsync(100);
    expect(calls.ready()).toBe(true);
  });

  it('fails a call that does not answer in time with StoreUnavailableError, and hands a late answer to `late`', async () => {
    const { clock, calls, log } = setup();
    let answer: (value: string) => void = () => undefined;
    const late = jest.fn();
    const call = calls.call(() => new Promise<string>((resolve) => (answer = resolve)), late);
    const outcome = call.catch((error: unknown) => error);
    await clock.advanceAsync(1_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ message: 'The job store (memory) is unavailable: no answer within 1000 ms', detail: 'no answer within 1000 ms' });
    answer('won');
    await clock.advanceAsync(0);
    expect(late).toHaveBeenCalledWith('won');
    expect(log()).toEqual(['store.unavailable@1000']);
  });

  it('is quiet once stopped: calls failing while the store closes are no outage', async () => {
    const { clock, calls, log } = setup();
    calls.stop();
    await expect(calls.call(fail)).rejects.toThrow();
    const pending = calls.call(never).catch(() => undefined);
    await clock.advanceAsync(1_000);
    await pending;
    expect(log()).toEqual([]);
    expect(calls.ready()).toBe(true);
  });
});
