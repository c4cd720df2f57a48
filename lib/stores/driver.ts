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
