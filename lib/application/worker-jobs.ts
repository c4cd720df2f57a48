import { InvalidScheduleError, WorkerTargetError } from '../errors';
import { WorkerTarget } from '../interfaces/job-definition.interface';
import { WorkerPool } from '../workers/worker-pool';

/** A worker module found and checked: its path, and the function's name. */
export interface ResolvedWorker {
  module: string;
  exportName: string;
}

/** Jobs run in worker threads: their modules, checked when a job is added, and the pool of threads, started on first use. */
export class WorkerJobs {
  private pool: WorkerPool | undefined;

  constructor(private readonly size: number | undefined) {}

  /** Worker threads alive now. */
  get threads(): number {
    return this.pool?.threads ?? 0;
  }

  /** The pool of worker threads, started on first use. */
  get workers(): WorkerPool {
    return (this.pool ??= new WorkerPool(this.size));
  }

  /**
   * Resolves a worker module from the working directory and checks, in a worker thread, that it
   * exports the function. Throws `InvalidScheduleError` naming `worker.module` or `worker.export`.
   */
  async resolve(job: string, worker: WorkerTarget): Promise<ResolvedWorker> {
    if (typeof worker !== 'object' || worker === null || typeof worker.module !== 'string') {
      throw new InvalidScheduleError(job, 'worker', worker, 'must be { module, export? } with module a path or package name.');
    }
    const exportName = worker.export ?? 'default';
    let module: string;
    try {
      module = require.resolve(worker.module, { paths: [process.cwd()] });
    } catch {
      throw new InvalidScheduleError(job, 'worker.module', worker.module, `cannot be found from ${process.cwd()}.`);
    }
    try {
      await WorkerPool.check(module, exportName);
    } catch (error) {
      if (!(error instanceof WorkerTargetError)) throw error;
      const field = error.missing === 'export' ? 'worker.export' : 'worker.module';
      throw new InvalidScheduleError(job, field, field === 'worker.export' ? exportName : worker.module, `cannot be used: ${error.message}.`);
    }
    return { module, exportName };
  }

  /** Ends every thread (the application closes). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
