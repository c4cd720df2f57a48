import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JobContext } from '../engine/job-context';
import { RunTimeoutError, SchedulerShutdownError, WorkerExitedError, WorkerTargetError } from '../errors';

interface Reply {
  id: number;
  ok: boolean;
  missing?: 'module' | 'export';
  message?: string;
  error?: { name: string; message: string; stack?: string };
}

interface Slot {
  worker: Worker;
  current: { id: number; resolve: (reply: Reply) => void; reject: (error: unknown) => void } | null;
}

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (error: unknown) => void;
}

const SCRIPT = join(__dirname, 'worker-thread.js');

/**
 * A pool of worker threads for off-thread jobs, started on first use. Each thread runs one job at
 * a time; runs beyond the pool's size wait their turn. A run that times out has its thread
 * terminated (and replaced on demand); on shutdown, runs get their signal aborted inside the
 * thread, runs still waiting for a thread do not start, and `close()` ends every thread.
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly waiting: Waiter[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size = Math.max(1, availableParallelism() - 1)) {}

  /** Threads alive now. */
  get threads(): number {
    return this.slots.size;
  }

  /**
   * Resolves if `module` loads and exports a function `name`; else rejects with
   * {@link WorkerTargetError}. Checked in a thread of its own, so a busy pool does not delay it.
   */
  static async check(module: string, name: string): Promise<void> {
    const worker = new Worker(SCRIPT);
    try {
      const reply = await new Promise<Reply>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ type: 'check', id: 0, module, export: name });
      });
      if (!reply.ok) throw new WorkerTargetError(reply.missing ?? 'module', reply.message ?? 'cannot be loaded');
    } finally {
      await worker.terminate();
    }
  }

  /** Runs `module[name](context, ...args)` in a worker thread; settles when it does. */
  async run(module: string, name: string, args: readonly unknown[], context: JobContext): Promise<void> {
    const { signal } = context;
    const slot = await this.acquire(signal);
    const data = { name: context.name, scheduledAt: context.scheduledAt.getTime(), firedAt: context.firedAt.getTime(), attempt: context.attempt };
    const onAbort = () => {
      if (signal.reason instanceof RunTimeoutError) {
        // A timeout ends the run for good: the thread goes, with whatever it was doing.
        slot.current?.reject(signal.reason);
        this.destroy(slot);
      } else if (slot.current) {
        slot.worker.postMessage({ type: 'abort', id: slot.current.id, reason: String((signal.reason as Error)?.message ?? signal.reason) });
      }
    };
    try {
      if (signal.aborted) throw signal.reason;
      signal.addEventListener('abort', onAbort, { once: true });
      const reply = await this.request(slot, { type: 'run', module, export: name, args, context: data });
      if (!reply.ok) throw Object.assign(new Error(reply.error?.message), { name: reply.error?.name ?? 'Error', stack: reply.error?.stack });
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.release(slot);
    }
  }

  /** Ends every thread; runs waiting for one are rejected, and no thread starts after. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new SchedulerShutdownError('The worker pool is closed');
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    const workers = [...this.slots].map((slot) => slot.worker);
    for (const slot of [...this.slots]) this.destroy(slot, error);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private request(slot: Slot, message: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      slot.current = { id, resolve, reject };
      slot.worker.postMessage({ ...message, id });
    });
  }

  /** A free thread: an idle one, a new one while under the size, or the next to free up. */
  private acquire(signal: AbortSignal): Promise<Slot> {
    if (this.closed) return Promise.reject(new SchedulerShutdownError('The worker pool is closed'));
    if (signal.aborted) return Promise.reject(signal.reason);
    const slot = this.idle.pop() ?? (this.slots.size < this.size ? this.spawn() : undefined);
    if (slot) {
      slot.worker.ref();
      return Promise.resolve(slot);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (free) => {
          signal.removeEventListener('abort', onAbort);
          resolve(free);
        },
        reject,
      };
      // A run aborted while it waits (timed out, or shutdown) leaves the queue and never starts.
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(slot: Slot): void {
    slot.current = null;
    if (this.closed) return;
    if (!this.slots.has(slot)) {
      // The thread is gone; let a waiting run have a fresh one.
      if (this.waiting.length > 0 && this.slots.size < this.size) this.waiting.shift()!.resolve(this.spawn());
      return;
    }
    const next = this.waiting.shift();
    if (next) return next.resolve(slot);
    slot.worker.unref();
    this.idle.push(slot);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(SCRIPT), current: null };
    slot.worker.on('message', (reply: Reply) => {
      if (slot.current?.id === reply.id) slot.current.resolve(reply);
    });
    slot.worker.on('error', (error) => this.destroy(slot, error));
    slot.worker.on('exit', (code) => this.destroy(slot, new WorkerExitedError(code)));
    this.slots.add(slot);
    return slot;
  }

  private destroy(slot: Slot, error?: unknown): void {
    if (!this.slots.delete(slot)) return;
    const index = this.idle.indexOf(slot);
    if (index >= 0) this.idle.splice(index, 1);
    slot.current?.reject(error);
    void slot.worker.terminate();
  }
}
