import { errorMessage, StoreUnavailableError } from '../errors';
import { within } from '../stores/driver';
import { JobStore } from '../stores/job-store';
import { Backoff } from './backoff';
import { Clock, TimerHandle } from './clock';
import { EventHub } from './event-hub';

/**
 * Calls a shared store with a time limit, and tracks its outages: the first failure of an outage
 * emits `store.unavailable` (once, however many calls fail) and backs off before the next try
 * (100 ms, doubling to 5 s); the first success after it emits `store.recovered`.
 */
export class StoreCalls {
  private downSince: number | null = null;
  private retryAt = 0;
  private readonly backoff = new Backoff(100, 5_000);
  private readonly recovered: Array<() => void> = [];
  /** Stopped: calls still out fail quietly (the store is being closed); they are no outage. */
  private stopped = false;

  constructor(
    readonly store: JobStore,
    private readonly clock: Clock,
    private readonly events: EventHub,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Calls `listener` each time the store is back after an outage. */
  onRecovered(listener: () => void): void {
    this.recovered.push(listener);
  }

  /** Whether a call is worth trying now: the store is up, or the backoff after a failure is over. */
  ready(): boolean {
    return this.downSince === null || this.clock.now() >= this.retryAt;
  }

  /** Runs `operation` with no time limit (a sync of many stored jobs may take long), tracking outages. */
  async track<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const result = await operation();
      this.succeeded();
      return result;
    } catch (error) {
      if (!this.stopped) this.failed(error);
      throw error;
    }
  }

  /**
   * Runs `operation`, failing it after the time limit. `late` gets the result of a call that
   * answered after its time limit (and was reported failed).
   */
  async call<T>(operation: () => Promise<T>, late?: (result: T) => void): Promise<T> {
    let timer: TimerHandle | undefined;
    let timedOut = false;
    const running = operation();
    try {
      const result = await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimer(
            () => {
              timedOut = true;
              reject(new StoreUnavailableError(this.store.kind, `no answer within ${this.timeoutMs} ms`));
            },
            this.timeoutMs,
            { unref: true },
          );
        }),
      ]);
      this.succeeded();
      return result;
    } catch (error) {
      if (timedOut && late) running.then(late, () => undefined);
      if (!this.stopped) this.failed(error);
      throw error;
    } finally {
      if (timer !== undefined) this.clock.clearTimer(timer);
    }
  }

  private succeeded(): void {
    if (this.downSince === null) return;
    const downMs = this.clock.now() - this.downSince;
    this.downSince = null;
    this.backoff.reset();
    this.events.emit('store.recovered', () => ({ at: new Date(this.clock.now()), store: this.store.kind, downMs }));
    for (const listener of this.recovered) listener();
  }

  private failed(error: unknown): void {
    const now = this.clock.now();
    if (this.downSince === null) {
      this.downSince = now;
      this.events.emit('store.unavailable', () => ({ at: new Date(now), store: this.store.kind, error }));
    }
    this.retryAt = now + this.backoff.next();
  }
}

/**
 * A read of the store for operators (the run history, the live instances: the registry, a health
 * check, the dashboard), within `timeoutMs`. Not one of the protocol's {@link StoreCalls}: one that
 * fails or is slow is no outage, and holds up no claim. Fails with a {@link StoreUnavailableError}.
 */
export function operatorRead<T>(store: JobStore, read: () => Promise<T>, timeoutMs: number): Promise<T> {
  return within(Promise.resolve().then(read), timeoutMs).catch((error: unknown) => {
    throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(store.kind, errorMessage(error), { cause: error });
  });
}
