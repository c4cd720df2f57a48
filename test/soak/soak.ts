/**
 * Soak test: a million runs on the engine with a VirtualClock, across every job option, with
 * control calls, pauses, blocked stretches, jobs coming and going, and runs in worker threads,
 * checking that memory does not grow with the number of runs and that job history stays bounded.
 *
 *   npm run soak            (node --expose-gc; exits 1 if a limit is exceeded)
 */
import { HISTORY_SIZE } from '../../lib/engine/job';
import { JobOptions } from '../../lib/engine/job-options';
import { Scheduler } from '../../lib/engine/scheduler';
import { VirtualClock } from '../../lib/engine/virtual-clock';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { IntervalTrigger } from '../../lib/triggers/interval.trigger';
import { Trigger } from '../../lib/triggers/trigger';
import { WorkerPool } from '../../lib/workers/worker-pool';
import { join } from 'node:path';

const TARGET_RUNS = 1_000_000;
const MAX_HEAP_GROWTH_MB = 10;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('Run with node --expose-gc (npm run soak does).');

const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'));
const scheduler = new Scheduler({ clock, shutdownTimeout: 0 });
const pool = new WorkerPool(2);
const WORKER_MODULE = join(process.cwd(), 'test', 'fixtures', 'workers', 'jobs.cjs');
const shared = new SharedArrayBuffer(12);
let runs = 0;
let workerRuns = 0;
let events = 0;
scheduler.on(() => events++);

/** A spread of jobs: sync and async handlers, failures with retries, timeouts, every overlap and misfire policy. */
function addJobs(): void {
  const jobs: Array<[string, Trigger, JobOptions, (attempt: number) => unknown]> = [];
  for (let i = 0; i < 40; i++) jobs.push([`interval-${i}`, new IntervalTrigger(5 + i), {}, () => void runs++]);
  for (let i = 0; i < 10; i++) {
    jobs.push([`cron-${i}`, CronTrigger.create(`cron-${i}`, '* * * * * *', { timeZone: 'Europe/London' }), { jitterMs: 200 }, () => void runs++]);
  }
  for (let i = 0; i < 20; i++) {
    const failing = (attempt: number) => {
      runs++;
      if (attempt === 1 && runs % 3 === 0) throw new Error('transient');
    };
    jobs.push([`retry-${i}`, new IntervalTrigger(20 + i), { retry: { attempts: 2, backoffMs: 3 } }, failing]);
  }
  for (let i = 0; i < 20; i++) {
    const overlap = (['skip', 'queue', 'allow'] as const)[i % 3];
    jobs.push([
      `async-${i}`,
      new IntervalTrigger(10 + i),
      { overlap, timeoutMs: 50, misfire: { graceMs: 5, policy: 'all', maxCatchUp: 3 } },
      async () => {
        runs++;
        await Promise.resolve();
      },
    ]);
  }
  for (let i = 0; i < 10; i++) jobs.push([`limited-${i}`, new IntervalTrigger(7), { maxRuns: 1_000 + i }, () => void runs++]);
  for (const [name, trigger, options, run] of jobs) scheduler.add({ name, trigger, options, handler: (context) => run(context.attempt) });
  // Off-thread runs through the worker pool.
  scheduler.add({
    name: 'worker',
    trigger: new IntervalTrigger(100),
    options: { timeoutMs: 5_000 },
    handler: (context) => pool.run(WORKER_MODULE, 'sum', [shared, 1], context).then(() => void workerRuns++),
  });
}

/** Control calls, pauses and blocked stretches, cycled through as virtual time goes by. */
function disturb(slice: number): void {
  const job = `interval-${slice % 40}`;
  switch (slice % 8) {
    case 0:
      scheduler.pause(job);
      break;
    case 1:
      scheduler.resume(`interval-${(slice - 1) % 40}`);
      break;
    case 2:
      void scheduler.trigger(`retry-${slice % 20}`);
      break;
    case 3:
      scheduler.add({ name: `short-lived-${slice}`, trigger: new IntervalTrigger(3), handler: () => void runs++ });
      break;
    case 4:
      scheduler.remove(`short-lived-${slice - 1}`);
      break;
    case 5:
      clock.jump(2_500); // a blocked event loop: ticks are found late, misfire policies apply
      break;
    case 6:
      scheduler.pauseAll();
      break;
    case 7:
      scheduler.resumeAll();
      break;
  }
}

let slice = 0;
async function runUntil(target: number): Promise<void> {
  while (runs < target) {
    disturb(slice++);
    clock.advance(1_000);
    // Let async runs settle between slices of virtual time.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1_048_576;
}

async function main(): Promise<void> {
  addJobs();
  scheduler.start();
  const started = Date.now();
  await runUntil(100_000); // warm-up: caches, JIT, histories filled
  const baseline = heapMb();
  await runUntil(TARGET_RUNS);
  const final = heapMb();
  const longestHistory = Math.max(...scheduler.list().map((job) => job.history.length));
  const growth = final - baseline;
  const report = {
    runs,
    workerRuns,
    jobs: scheduler.names().length,
    events,
    virtualHours: +((clock.now() - Date.parse('2026-01-01T00:00:00Z')) / 3_600_000).toFixed(2),
    wallSeconds: +((Date.now() - started) / 1_000).toFixed(1),
    heapBaselineMb: +baseline.toFixed(2),
    heapFinalMb: +final.toFixed(2),
    heapGrowthMb: +growth.toFixed(2),
    longestHistory,
  };
  console.log(JSON.stringify(report, null, 2));
  await scheduler.shutdown();
  await pool.close();
  const failures = [
    runs < TARGET_RUNS && `only ${runs} runs`,
    workerRuns === 0 && 'no worker run',
    growth >= MAX_HEAP_GROWTH_MB && `heap grew by ${growth.toFixed(2)} MB (limit ${MAX_HEAP_GROWTH_MB} MB)`,
    longestHistory > HISTORY_SIZE && `a history holds ${longestHistory} runs (limit ${HISTORY_SIZE})`,
  ].filter(Boolean);
  if (failures.length > 0) {
    console.error(`Soak test failed: ${failures.join('; ')}`);
    process.exitCode = 1;
  } else {
    console.log(`Soak test passed: ${runs} runs, heap growth ${growth.toFixed(2)} MB < ${MAX_HEAP_GROWTH_MB} MB, history at most ${longestHistory} runs.`);
  }
}

void main();
