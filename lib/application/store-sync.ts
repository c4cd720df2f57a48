import { TimerHandle } from '../engine/clock';
import { Scheduler } from '../engine/scheduler';
import { JobStore } from '../stores/job-store';
import { PersistentJobs } from './persistent-jobs';

/**
 * Keeps this instance in line with the job store: connects to it, watches it for changes made by
 * the other instances, and brings the stored jobs and paused flags in line — at start, soon after
 * each change announced, and every `syncEveryMs` as a safety net for missed announcements. A store
 * that cannot be reached is tried again at the next sync; its outage is reported once, with the
 * scheduler's own calls to it (`store.unavailable`, `store.recovered`).
 */
/** Every how many periodic syncs the store is read even though its revision did not change. */
const FULL_SYNC_EVERY = 6;

export class StoreSync {
  private connected = false;
  private connecting: Promise<void> | null = null;
  private unwatch: (() => Promise<void>) | null = null;
  private syncTimer: TimerHandle | undefined;
  private syncSoon: TimerHandle | undefined;
  private stopped = false;
  /** The store's revision when it was last read in full. */
  private syncedRevision: number | null = null;
  /** Periodic syncs skipped in a row (the revision did not change). */
  private skipped = 0;

  constructor(
    private readonly store: JobStore,
    private readonly scheduler: Scheduler,
    private readonly persistent: PersistentJobs,
    private readonly instanceId: string,
    private readonly syncEveryMs: number,
    /** How long start-up waits for the first sync of a shared store (`cluster.timeoutMs`). */
    private readonly timeoutMs: number,
  ) {}

  /**
   * Connects and syncs once (failures are reported, not thrown), then keeps a shared store in
   * sync. Waits for a shared store `timeoutMs` at most: a store that is down or slow does not hold
   * up the application's start; the first sync goes on meanwhile, and the next ones retry.
   */
  async start(): Promise<void> {
    this.stopped = false;
    if (!this.store.shared) return this.sync();
    const { clock } = this.scheduler;
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.sync(),
      new Promise<void>((resolve) => (timer = clock.setTimer(resolve, Math.min(this.timeoutMs, clock.maxDelay), { unref: true }))),
    ]);
    clock.clearTimer(timer);
    this.syncTimer = this.scheduler.clock.setTimer(() => void this.syncIfChanged(), this.syncEveryMs, { repeat: true, unref: true });
    // A check-in that finds the store changed since the last read reads it now: a notification may have been missed.
    this.scheduler.storeChanged = () => {
      if (this.scheduler.storeRevision !== this.syncedRevision) this.syncSoonAfter(50);
    };
  }

  /** Stops syncing and watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.scheduler.storeChanged = null;
    if (this.syncTimer !== undefined) this.scheduler.clock.clearTimer(this.syncTimer);
    if (this.syncSoon !== undefined) this.scheduler.clock.clearTimer(this.syncSoon);
    this.syncTimer = this.syncSoon = undefined;
    const unwatch = this.unwatch;
    this.unwatch = null;
    await unwatch?.().catch(() => undefined);
  }

  /** Whether a connection to the store was made (and is to be closed). */
  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * The periodic sync: skipped while the store's revision (learned at each check-in) is the one of
   * the last sync, and the store is connected and watched — nothing changed that could have been
   * missed — except every {@link FULL_SYNC_EVERY}th time, for rows written without the revision
   * (by an older version of the application, or by hand).
   */
  private syncIfChanged(): Promise<void> {
    const revision = this.scheduler.storeRevision;
    const unchanged = revision !== null && revision === this.syncedRevision && this.connected && this.unwatch;
    if (unchanged && ++this.skipped < FULL_SYNC_EVERY) return Promise.resolve();
    this.skipped = 0;
    return this.sync();
  }

  /** One sync at a time: a slow store must not pile up connections and listeners. */
  private sync(): Promise<void> {
    return (this.connecting ??= this.syncOnce().finally(() => {
      this.connecting = null;
    }));
  }

  private async syncOnce(): Promise<void> {
    await this.scheduler
      .callStore(async () => {
        if (!this.connected) {
          await this.store.connect();
          this.connected = true;
        }
        if (!this.unwatch && !this.stopped) {
          const unwatch = await this.store.watch((change) => {
            if (change.origin === this.instanceId) return;
            // Work another instance handed back as it stopped: taken up now, not at the next sweep.
            if (change.kind === 'handed-back') this.scheduler.leasesHandedBack();
            else this.syncSoonAfter(50);
          });
          // Stopped while it started watching: it stops at once.
          if (this.stopped) await unwatch();
          else this.unwatch = unwatch;
        }
        // The revision before reading: a change made while it reads is read at the next sync.
        const revision = this.scheduler.storeRevision;
        if (this.stopped) return;
        await this.persistent.sync();
        this.syncedRevision = revision;
      })
      // Reported as an outage by the scheduler's store calls; tried again at the next sync.
      .catch(() => undefined);
  }

  /** Changes announced by other instances arrive in bursts: read the store once after them. */
  private syncSoonAfter(ms: number): void {
    if (this.syncSoon !== undefined || this.stopped) return;
    this.syncSoon = this.scheduler.clock.setTimer(
      () => {
        this.syncSoon = undefined;
        void this.sync();
      },
      ms,
      { unref: true },
    );
  }
}
