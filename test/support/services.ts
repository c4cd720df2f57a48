import { randomBytes } from 'node:crypto';

/** The shared services the store tests use; override with METRONOME_PG_URL and METRONOME_REDIS_URL. */
export const PG_URL = process.env.METRONOME_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.METRONOME_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A name no other test uses: for a schema or a key prefix. */
export function uniqueName(base: string): string {
  return `${base}_${randomBytes(4).toString('hex')}`;
}
