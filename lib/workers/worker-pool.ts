import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JobContext } from '../engine/job-context';
import { RunTimeoutError } from '../engine/runner';

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

/** Why a worker module cannot be used: it does not load, or has no such exported function. */
export class WorkerTargetError extends Error {
  constructor(
    readonly missing: 'module' | 'export',
    message: string,
  ) {
    super(message);
  }
}

const SCRIPT = join(__dirname, 'worker-thread.js');

/**
 * A pool of worker threads for off-thread jobs, started on first use. Each thread runs one job at
 * a time; runs beyond the pool's size wait their turn. A run that times out has its thread
 * terminated (and replaced on demand); on shutdown, runs get their signal aborted inside the thread.
 */
export class WorkerPool {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private nextId = 1;

  constructor(readonly size = Math.max(1, availableParallelism() - 1)) {}

  /** Resolves if `module` loads in a worker and exports a function `name`; else rejects with {@link WorkerTargetError}. */
  async check(module: string, name: string): Promise<void> {
    const slot = await this.acquire();
    try {
      const reply = await this.request(slot, { type: 'check', module, export: name });
      if (!reply.ok) throw new WorkerTargetError(reply.missing ?? 'module', reply.message ?? 'cannot be loaded');
    } finally {
      this.release(slot);
    }
  }

  /** Runs `module[name](context, ...args)` in a worker thread; settles when it does. */
  async run(module: string, name: string, args: readonly unknown[], context: JobContext): Promise<void> {
    const slot = await this.acquire();
    const { signal } = context;
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
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) onAbort();
      const reply = await this.request(slot, { type: 'run', module, export: name, args, context: data });
      if (!reply.ok) throw Object.assign(new Error(reply.error?.message), { name: reply.error?.name ?? 'Error', stack: reply.error?.stack });
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.release(slot);
    }
  }

  /** Terminates every thread; waiting runs are rejected. */
  async close(): Promise<void> {
    const workers = [...this.slots].map((slot) => slot.worker);
    for (const slot of [...this.slots]) this.destroy(slot, new Error('The worker pool was closed'));
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private request(slot: Slot, message: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      slot.current = { id, resolve, reject };
      slot.worker.postMessage({ ...message, id });
    });
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.pop() ?? (this.slots.size < this.size ? this.spawn() : undefined);
    if (slot) {
      slot.worker.ref();
      return Promise.resolve(slot);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    slot.current = null;
    if (!this.slots.has(slot)) {
      // The thread is gone; let a waiting run have a fresh one.
      if (this.waiting.length > 0 && this.slots.size < this.size) this.waiting.shift()!(this.spawn());
      return;
    }
    const next = this.waiting.shift();
    if (next) return next(slot);
    slot.worker.unref();
    this.idle.push(slot);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(SCRIPT), current: null };
    slot.worker.on('message', (reply: Reply) => {
      if (slot.current?.id === reply.id) slot.current.resolve(reply);
    });
    slot.worker.on('error', (error) => this.destroy(slot, error));
    slot.worker.on('exit', (code) => this.destroy(slot, new Error(`The worker thread exited with code ${code}`)));
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
