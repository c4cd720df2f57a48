import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SchedulerRegistry } from 'nestjs-metronome';

// README: "Off-thread jobs". This module is what the worker thread loads: it imports nothing at
// run time but Node's own modules.

// checksum.worker.ts — a plain exported function; it receives the job's context and arguments.
export async function checksum(context: { name: string; attempt: number; signal: AbortSignal }, path: string) {
  const data = await readFile(path).catch(() => Buffer.alloc(0));
  /* ... */
  return { job: context.name, attempt: context.attempt, path, sha256: createHash('sha256').update(data).digest('hex') };
}

/** Adds the off-thread job. */
export async function addChecksumJob(registry: SchedulerRegistry): Promise<void> {
  await registry.addJob({
    name: 'checksum',
    trigger: { every: 60_000 },
    worker: { module: require.resolve('./checksum.worker'), export: 'checksum' },
    args: ['/data/export.csv'],
    timeoutMs: 30_000, // terminates the thread
  });
}
