import { Clock, TimerHandle } from './clock';

/** Something waiting in the {@link TimerQueue}. Owned by the caller, tracked by the queue. */
export interface QueueEntry {
  /** When it is due, in ms since the epoch. */
  at: number;
  /** Whether it keeps the process alive while it waits. */
  ref: boolean;
  /** Position in the heap, -1 when not queued. Maintained by the queue. */
  index: number;
  /** Tie-breaker: entries due at the same instant leave in the order they were queued. */
  seq: number;
}

/**
 * One timer for all jobs: a binary min-heap of entries ordered by due time, and a single clock
 * timer armed for the earliest. Adding, removing and rescheduling are O(log n).
 * Waits longer than the clock's longest delay are split: the timer re-arms until the entry is due.
 */
export class TimerQueue<E extends QueueEntry> {
  private readonly heap: E[] = [];
  private seq = 0;
  private refCount = 0;
  private timer: TimerHandle | undefined;
  private armedAt = Infinity;
  private armedRef = false;
  private running = false;

  constructor(
    private readonly clock: Clock,
    /** Called when at least one entry may be due; pull them with {@link takeDue}. */
    private readonly onWake: () => void,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Whether the entry is waiting in this queue. */
  has(entry: E): boolean {
    return entry.index >= 0 && this.heap[entry.index] === entry;
  }

  /** Queues the entry at `at`, or moves it there if it is already queued. */
  schedule(entry: E, at: number): void {
    if (this.has(entry)) {
      const earlier = at < entry.at;
      entry.at = at;
      if (earlier) this.up(entry.index);
      else this.down(entry.index);
    } else {
      entry.at = at;
      entry.seq = this.seq++;
      entry.index = this.heap.length;
      this.heap.push(entry);
      if (entry.ref) this.refCount++;
      this.up(entry.index);
    }
    this.arm();
  }

  /** Takes the entry out of the queue; does nothing if it is not queued. */
  cancel(entry: E): void {
    if (!this.has(entry)) return;
    const index = entry.index;
    const last = this.heap.pop()!;
    if (last !== entry) {
      this.heap[index] = last;
      last.index = index;
      this.down(index);
      this.up(last.index);
    }
    entry.index = -1;
    if (entry.ref) this.refCount--;
    this.arm();
  }

  /** Removes and returns every entry due at or before `now`, earliest first. */
  takeDue(now: number): E[] {
    const due: E[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const top = this.heap[0];
      const last = this.heap.pop()!;
      if (last !== top) {
        this.heap[0] = last;
        last.index = 0;
        this.down(0);
      }
      top.index = -1;
      if (top.ref) this.refCount--;
      due.push(top);
    }
    return due;
  }

  /** When the earliest entry is due, or `null` when the queue is empty. */
  peekAt(): number | null {
    return this.heap.length > 0 ? this.heap[0].at : null;
  }

  /** Lets the queue arm its timer. Entries can be queued before. */
  start(): void {
    this.running = true;
    this.arm();
  }

  /** Clears the timer; entries stay queued until {@link clear} or {@link start}. */
  stop(): void {
    this.running = false;
    this.disarm();
  }

  /** Removes every entry. */
  clear(): void {
    for (const entry of this.heap) entry.index = -1;
    this.heap.length = 0;
    this.refCount = 0;
    this.disarm();
  }

  /** Re-arms the single timer for the earliest entry, if it changed. */
  private arm(): void {
    if (!this.running) return;
    if (this.heap.length === 0) {
      this.disarm();
      return;
    }
    const at = this.heap[0].at;
    const ref = this.refCount > 0;
    // A timer already armed for an earlier instant may stay: waking up early is harmless.
    if (this.timer !== undefined && this.armedAt <= at && this.armedRef === ref) return;
    this.disarm();
    const delay = Math.min(Math.max(0, at - this.clock.now()), this.clock.maxDelay);
    this.armedAt = at;
    this.armedRef = ref;
    this.timer = this.clock.setTimer(this.wake, delay, { unref: !ref });
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private readonly wake = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    if (!this.running) return;
    const top = this.peekAt();
    // When the earliest entry is still ahead, the wait was split (it exceeded the clock's longest
    // delay) or the entry moved later: only re-arm.
    if (top !== null && top <= this.clock.now()) this.onWake();
    this.arm();
  };

  private less(a: E, b: E): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(index: number): void {
    const heap = this.heap;
    const entry = heap[index];
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.less(entry, heap[parent])) break;
      heap[index] = heap[parent];
      heap[index].index = index;
      index = parent;
    }
    heap[index] = entry;
    entry.index = index;
  }

  private down(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.less(heap[right], heap[left]) ? right : left;
      if (!this.less(heap[child], entry)) break;
      heap[index] = heap[child];
      heap[index].index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
