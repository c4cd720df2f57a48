import { OnModuleDestroy } from '@nestjs/common';
import { Observable, share, Subscriber } from 'rxjs';
import { TimerHandle } from '../engine/clock';
import { clusterTiming } from '../engine/cluster-timing';
import { operatorRead } from '../engine/store-calls';
import { RunHistoryEntry } from '../interfaces/run-history.interface';
import { BATCH_SIZE } from '../stores/batches';
import { AppScheduler } from './app-scheduler';
import { feedInStore, historyEntry, ownRun } from './run-history';

/** Options of {@link RunFeed}. */
export interface RunFeedOptions {
  /** How often the store's feed is read while someone subscribes, in ms. Default 2,000; 100 at least. */
  pollEveryMs?: number;
}

const DEFAULT_POLL_MS = 2_000;
/** The most pages one poll reads, when runs come faster than a page a poll. */
const MAX_PAGES_PER_POLL = 10;

/**
 * Every run that finishes, as it finishes, for live views (the dashboard): this instance's runs
 * from its event stream, at once, and, with a shared store that keeps a run history, the runs of
 * the other instances, read from the store's feed every `pollEveryMs` while anyone subscribes —
 * each run once. Nothing is read from the store while nobody subscribes.
 *
 * ```ts
 * constructor(private readonly feed: RunFeed) {}
 *
 * onModuleInit() {
 *   this.feed.runs$().subscribe((run) => console.log(`${run.job} ${run.outcome} on ${run.instance}`));
 * }
 * ```
 */
export class RunFeed implements OnModuleDestroy {
  private readonly runs: Observable<RunHistoryEntry>;
  private readonly pollEveryMs: number;
  private readonly subscribers = new Set<Subscriber<RunHistoryEntry>>();

  constructor(
    private readonly app: AppScheduler,
    options: RunFeedOptions = {},
  ) {
    const every = options.pollEveryMs;
    this.pollEveryMs = typeof every === 'number' && Number.isFinite(every) && every > 0 ? Math.max(100, every) : DEFAULT_POLL_MS;
    // One reading of the store, however many subscribe; it stops with the last of them.
    this.runs = new Observable<RunHistoryEntry>((subscriber) => this.follow(subscriber)).pipe(share());
  }

  /**
   * Every run that finishes from now on, on any instance sharing the store (this one's included),
   * each once; this instance's alone without a shared store that keeps a run history.
   */
  runs$(): Observable<RunHistoryEntry> {
    return this.runs;
  }

  /** The application stops: every subscription completes, and the store is not read any more. */
  onModuleDestroy(): void {
    for (const subscriber of [...this.subscribers]) subscriber.complete();
  }

  private follow(subscriber: Subscriber<RunHistoryEntry>): () => void {
    const { scheduler, store, options } = this.app;
    const self = options.instanceId;
    this.subscribers.add(subscriber);
    const stopListening = scheduler.on(
      (event) => {
        if (event.type === 'run.succeeded' || event.type === 'run.failed') {
          const startedAt = event.at.getTime() - event.durationMs;
          const outcome = event.type === 'run.failed' ? 'failed' : 'succeeded';
          subscriber.next(ownRun(event.job, self, { ...event, startedAt, outcome, error: event.type === 'run.failed' ? event.error : undefined }));
        } else if (event.type === 'run.timed-out') {
          const startedAt = event.at.getTime() - event.timeoutMs;
          subscriber.next(ownRun(event.job, self, { ...event, startedAt, durationMs: event.timeoutMs, outcome: 'timed-out' }));
        }
      },
      ['run.succeeded', 'run.failed', 'run.timed-out'],
    );
    let timer: TimerHandle | null = null;
    let stopped = false;
    if (feedInStore(store)) {
      const { timeoutMs } = clusterTiming(options.cluster);
      let cursor: string | null = null;
      let polling = false;
      const poll = async (): Promise<void> => {
        if (polling || stopped) return;
        polling = true;
        try {
          for (let page = 0; page < MAX_PAGES_PER_POLL && !stopped; page++) {
            const from = cursor;
            const { runs, cursor: next } = await operatorRead(store, () => store.runsSince!(from, BATCH_SIZE), timeoutMs);
            if (stopped) return;
            cursor = next;
            // This instance's runs came from its events.
            for (const run of runs) if (run.instance !== self) subscriber.next(historyEntry(run));
            if (runs.length < BATCH_SIZE) break;
          }
        } catch {
          // The store could not be asked: asked again at the next poll, from the same cursor.
        } finally {
          polling = false;
        }
      };
      // The first read finds where the feed is now; the next ones read what came since.
      void poll();
      timer = scheduler.clock.setTimer(() => void poll(), this.pollEveryMs, { repeat: true, unref: true });
    }
    return () => {
      stopped = true;
      this.subscribers.delete(subscriber);
      stopListening();
      if (timer !== null) scheduler.clock.clearTimer(timer);
    };
  }
}
