import { PeerDependencyMissingError } from '../errors';

/** The optional peer dependencies of the operations features. */
export type OperationsPeer = '@nestjs/terminus' | 'prom-client' | '@opentelemetry/api';

/**
 * Loads an optional peer dependency when the feature that needs it is used: an application that
 * uses none of them never loads them, and `require('nestjs-metronome')` works without them.
 * Throws {@link PeerDependencyMissingError}, saying what to install, when it is missing.
 */
export function loadPeer<T>(name: OperationsPeer, feature: string): T {
  try {
    // Loaded only when the feature is used, from the application's dependencies: not an import.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) {
      throw new PeerDependencyMissingError(name, feature, { cause: error });
    }
    throw error;
  }
}
