/**
 * BullMQ, for the cluster comparison only. It is installed at a pinned version into `bench/.deps`
 * when first needed rather than kept as a devDependency: its optional native packages for other
 * platforms cannot all be written into this project's lockfile, and `npm ci` needs them there.
 * Node finds the project's own `ioredis` (a peer of BullMQ's) from there by walking up.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BULLMQ_VERSION = '6.7.0';
const DIR = join(__dirname, '..', 'bench', '.deps');
const PACKAGE = join(DIR, 'node_modules', 'bullmq', 'package.json');

/** Installs BullMQ into `bench/.deps` unless that version is there already. */
function ensureBullmq(): void {
  if (existsSync(PACKAGE) && (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string }).version === BULLMQ_VERSION) return;
  execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', DIR, `bullmq@${BULLMQ_VERSION}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** The part of BullMQ's API the benchmark uses. */
interface Connection {
  url: string;
  maxRetriesPerRequest: null;
}
export interface BullJob {
  name: string;
  opts: { prevMillis?: number };
}
export interface BullMq {
  Queue: new (
    name: string,
    options: { connection: Connection },
  ) => {
    upsertJobScheduler(id: string, repeat: { pattern: string }, template: { name: string; opts?: object }): Promise<unknown>;
    obliterate(options: { force: boolean }): Promise<void>;
    close(): Promise<void>;
  };
  Worker: new (
    name: string,
    processor: (job: BullJob) => Promise<unknown>,
    options: { connection: Connection; concurrency: number; removeOnComplete: { count: number }; removeOnFail: { count: number } },
  ) => { waitUntilReady(): Promise<unknown>; close(): Promise<void> };
}

/** BullMQ, installed first if need be. */
export function loadBullmq(): BullMq {
  ensureBullmq();
  return require(join(DIR, 'node_modules', 'bullmq')) as BullMq;
}
