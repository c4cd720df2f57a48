/**
 * One instance of a clustered application, forked by cluster.ts:
 * `node cluster-instance.js <redis|postgres|bullmq> <n> <url> <namespace> <instance> <claimAheadMs>`.
 * Every run is counted against its job and scheduled second; the parent collects the counts,
 * the lateness of each run and the CPU this process used, over a window it names.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { JobContext } from 'nestjs-metronome';
import { loadBullmq } from './bullmq';
import { cpuMeter, jobsModule } from './common';

export type ClusterKind = 'redis' | 'postgres' | 'bullmq';

/** Parent → instance. */
export type ToInstance = { type: 'window'; from: number; seconds: number } | { type: 'report' } | { type: 'stop' };
/** Instance → parent. */
export type FromInstance =
  { type: 'ready' } | { type: 'report'; counts: number[]; lateness: number[]; cpuMsPerSec: number; outside: number } | { type: 'stopped' };

const [kind, size, url, namespace, instance, claimAhead] = process.argv.slice(2) as [ClusterKind, string, string, string, string, string];
const n = Number(size);

let from = Infinity;
let seconds = 0;
let counts = new Uint8Array(0);
const lateness: number[] = [];
/** Runs of ticks outside the window: before it (warm-up) or after it. */
let outside = 0;
let meter: (() => { cpuMsPerSec: number }) | null = null;
let cpuMsPerSec = NaN;

/** Counts the run of job `i` for the tick scheduled at `scheduled` (ms), started now. */
function record(i: number, scheduled: number): void {
  const now = Date.now();
  const second = Math.floor((scheduled - from) / 1_000);
  if (second < 0 || second >= seconds) {
    outside++;
    return;
  }
  counts[i * seconds + second]++;
  lateness.push(now - scheduled);
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
      return pkg.Cron('* * * * * *')(target, key, descriptor);
    },
    (i) => (context) => record(i, (context as JobContext).scheduledAt.getTime()),
    { store, instanceId: instance, cluster: { claimAheadMs: Number(claimAhead) } },
  );
  const app = await NestFactory.createApplicationContext(module, { logger: ['error'] });
  await app.init();
  return () => app.close();
}

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

async function main(): Promise<void> {
  const stop = await (kind === 'bullmq' ? startBullmq() : startMetronome());
  process.on('message', (message: ToInstance) => {
    if (message.type === 'window') {
      from = message.from;
      seconds = message.seconds;
      counts = new Uint8Array(n * seconds);
      const cpuFrom = from - Date.now();
      setTimeout(() => (meter = cpuMeter()), cpuFrom);
      setTimeout(() => (cpuMsPerSec = meter!().cpuMsPerSec), cpuFrom + seconds * 1_000);
    } else if (message.type === 'report') {
      send({ type: 'report', counts: Array.from(counts), lateness, cpuMsPerSec, outside });
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
