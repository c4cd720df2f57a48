import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * An off-thread job: CPU-bound work on plain data, run in a worker thread so that it never blocks
 * the event loop. It gets the job's context (with its abort signal) and the job's arguments; no
 * provider, no connection, nothing of the application crosses.
 */
export async function checksum(context: { name: string; signal: AbortSignal }, path: string, rounds: number): Promise<void> {
  let digest = await readFile(path);
  for (let i = 0; i < rounds && !context.signal.aborted; i++) digest = createHash('sha256').update(digest).digest();
  console.log(`[worker] ${context.name}: ${path} -> ${digest.toString('hex').slice(0, 16)}… after ${rounds} rounds`);
}
