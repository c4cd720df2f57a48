/**
 * One instance of a clustered application, forked by cluster-run.ts (for cluster.ts and herd.ts):
 * `node cluster-instance.js <redis|postgres|bullmq> <n> <url> <namespace> <instance> <claimAheadMs> <cron>`.
 * Its `n` jobs are all on `cron`. Every run is counted against its job and the slot of its
 * scheduled tick in a window the parent names (a slot per period: a second, a minute); the parent
 * collects the counts, the lateness of each run, the CPU this process used and its peak RSS.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { JobContext } from 'nestjs-metronome';
import { loadBullmq } from './bullmq';
import { cpuMeter, jobsModule } from './common';

export type ClusterKind = 'redis' | 'postgres' | 'bullmq';

/**
 * Parent → instance. `window`: count the ticks from `from` (ms), `slots` of them `periodMs`
 * apart; measure the CPU from `cpuFrom` to `cpuTo`, or without it until the report.
 */
export type ToInstance =
  | { type: 'window'; from: number; periodMs: number; slots: number; cpuFrom: number; cpuTo?: number }
  | { type: 'progress' }
  | { type: 'report' }
  | { type: 'stop' };

/** What an instance reports at the end. `lateness[slot]` holds the lateness of each run of that slot. */
export interface InstanceReport {
  counts: number[];
  lateness: number[][];
  cpuMs: number;
  cpuMsPerSec: number;
  /** CPU used from the process's start until it was ready (the application started, its jobs registered). */
  startupCpuMs: number;
  /** The process's peak resident set size, over its whole life. */
  maxRssBytes: number;
  /** Runs of ticks outside the window: before it (warm-up) or after it. */
  outside: number;
}

/** Instance → parent. */
export type FromInstance = { type: 'ready' } | { type: 'progress'; runs: number } | ({ type: 'report' } & InstanceReport) | { type: 'stopped' };

const [kind, size, url, namespace, instance, claimAhead, cron] = process.argv.slice(2) as [ClusterKind, string, string, string, string, string, string];
const n = Number(size);

let from = Infinity;
let periodMs = 1_000;
let slots = 0;
let counts = new Uint8Array(0);
let lateness: number[][] = [];
let runs = 0;
let outside = 0;
let meter: ReturnType<typeof cpuMeter> | null = null;
let cpu: { cpuMs: number; cpuMsPerSec: number } | null = null;

/** Counts the run of job `i` for the tick scheduled at `scheduled` (ms), started now. */
function record(i: number, scheduled: number): void {
  const now = Date.now();
  const slot = Math.floor((scheduled - from) / periodMs);
  if (!(slot >= 0 && slot < slots)) {
    outside++;
    return;
  }
  counts[i * slots + slot]++;
  lateness[slot].push(now - scheduled);
  runs++;
}

const send = (message: FromInstance) => process.send!(message);

async function startMetronome(): Promise<() => Promise<void>> {
  const { JobCtx, PostgresJobStore, RedisJobStore } = require('nestjs-metronome') as typeof import('nestjs-metronome');
  const store = kind === 'redis' ? new RedisJobStore({ url, keyPrefix: namespace }) : new PostgresJobStore({ connectionString: url, schema: namespace });
  const module = jobsModule(
    'metronome',
    n,
    // Generated methods have no parameter types: each asks for its context with @JobCtx().
    (pkg) => (target, key, descriptor) => {
      JobCtx()(target, key, 0);
      return pkg.Cron(cron)(target, key, descriptor);
    },
    (i) => (context) => record(i, (context as JobContext).scheduledAt.getTime()),
    { store, instanceId: instance, cluster: claimAhead === 'default' ? {} : { claimAheadMs: Number(claimAhead) } },
  );
  const app = await NestFactory.createApplicationContext(module, { logger: ['error'] });
  await app.init();
  return () => app.close();
}

/** BullMQ: a worker on the queue whose job schedulers the parent made; a job's tick is `opts.prevMillis`. */
async function startBullmq(): Promise<() => Promise<void>> {
  const { Worker } = loadBullmq();
  const worker = new Worker(namespace, async (job) => record(Number(job.name.slice(3)), job.opts.prevMillis!), {
    connection: { url, maxRetriesPerRequest: null },
    concurrency: 100,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  });
  await worker.waitUntilReady();
  return () => worker.close();
}

/** The CPU measured so far, taken once. */
function takeCpu(): { cpuMs: number; cpuMsPerSec: number } {
  cpu ??= meter ? meter() : { cpuMs: NaN, cpuMsPerSec: NaN };
  return cpu;
}

async function main(): Promise<void> {
  const stop = await (kind === 'bullmq' ? startBullmq() : startMetronome());
  const started = process.cpuUsage();
  const startupCpuMs = (started.user + started.system) / 1_000;
  process.on('message', (message: ToInstance) => {
    if (message.type === 'window') {
      ({ from, periodMs, slots } = message);
      counts = new Uint8Array(n * slots);
      lateness = Array.from({ length: slots }, () => []);
      setTimeout(() => (meter = cpuMeter()), message.cpuFrom - Date.now());
      if (message.cpuTo !== undefined) setTimeout(takeCpu, message.cpuTo - Date.now());
    } else if (message.type === 'progress') {
      send({ type: 'progress', runs });
    } else if (message.type === 'report') {
      const maxRssBytes = process.resourceUsage().maxRSS * 1_024;
      send({ type: 'report', counts: Array.from(counts), lateness, ...takeCpu(), startupCpuMs, maxRssBytes, outside });
    } else {
      void stop().then(() => {
        send({ type: 'stopped' });
        process.disconnect();
      });
    }
  });
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`${instance}: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
