import { randomBytes } from 'node:crypto';

/** Where the store tests look for PostgreSQL and Redis when METRONOME_PG_URL / METRONOME_REDIS_URL are unset. */
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The services the store tests use: METRONOME_PG_URL and METRONOME_REDIS_URL, which the global
 * setup (test/support/global-setup.ts) always sets, to a server of the run's own if need be.
 */
export const PG_URL = process.env.METRONOME_PG_URL ?? DEFAULT_PG_URL;
export const REDIS_URL = process.env.METRONOME_REDIS_URL ?? DEFAULT_REDIS_URL;

/** A name no other test uses: for a schema or a key prefix. */
export function uniqueName(base: string): string {
  return `${base}_${randomBytes(4).toString('hex')}`;
}
