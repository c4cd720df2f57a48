import { StoreUnavailableError } from '../errors';

/**
 * Loads a store's driver (`pg`, `ioredis`), an optional peer dependency, when that store is made:
 * applications that do not use a store never load its driver. Throws {@link StoreUnavailableError}
 * saying what to install when it is missing.
 */
export function loadDriver<T>(name: 'pg' | 'ioredis', store: string): T {
  try {
    // Loaded only when the store is made, from the application's dependencies: not an import.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) {
      throw new StoreUnavailableError(store, `its driver "${name}" is not installed; run: npm install ${name}`, { cause: error });
    }
    throw error;
  }
}

// Taken at load: a wait on the network is measured in real time, even under fake timers installed later.
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;

/** The longest delay a Node timer takes, and the longest time limit PostgreSQL takes (`statement_timeout`). */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/** A timer of real time that does not keep the process alive by itself. */
export function later(ms: number, callback: () => void): ReturnType<typeof setTimeout> {
  // Node fires a longer delay at once.
  const timer = realSetTimeout(callback, Math.min(ms, MAX_DELAY_MS));
  timer.unref?.();
  return timer;
}

/** Cancels a timer made by {@link later}. */
export function cancel(timer: ReturnType<typeof setTimeout> | undefined): void {
  if (timer !== undefined) realClearTimeout(timer);
}

/**
 * `call`'s answer, or a rejection with `no <what> within <ms> ms` once `ms` have passed: a driver
 * call is never waited for without end. What the call does after is up to the caller.
 */
export function within<T>(call: Promise<T>, ms: number, what = 'answer'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = later(ms, () => reject(new Error(`no ${what} within ${ms} ms`)));
  });
  return Promise.race([call, deadline]).finally(() => cancel(timer));
}

/**
 * The error of a failed driver call: a {@link StoreUnavailableError} saying what failed and where
 * (`address`: host, port, database; never a password), so that the log line of an outage names
 * the server to look at.
 */
export function unavailable(store: string, address: string, error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const reason = new StoreUnavailableError(store, undefined, { cause: error }).detail ?? 'it failed';
  return new StoreUnavailableError(store, `${reason} (at ${address})`, { cause: error });
}
