/**
 * One scenario, one implementation, in this process: `node scenario.js <fire|memory|footprint|idle|interval> <impl> <n> [variant]`;
 * a variant of fire (this package) adds its metrics and tracing (`ops`, `ops-nosdk`…: see operations.ts).
 * Prints one line, `RESULT {json}`. Run by run.ts, each in a fresh process.
 */
import { NestFactory } from '@nestjs/core';
import { cpuMeter, Impl, jobsModule, lateness, percentile, report, sleep, untilSecond, WARMUP_S, WINDOW_S } from './common';
import type { operationsModules as OperationsModules } from './operations';

const [scenario, impl, size, variant] = process.argv.slice(2) as [string, Impl, string, string | undefined];
const n = Number(size);
/** A cron expression that does not fire during the run (once a year, on 1 January). */
const RARE = '0 0 1 1 *';

/** A full garbage collection, so that a heap figure counts only what is still in use. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the memory scenario needs node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

async function start(module: ReturnType<typeof jobsModule>) {
  const t0 = performance.now();
  const app = await NestFactory.createApplicationContext(module, { logger: false });
  await app.init();
  return { app, startupMs: performance.now() - t0 };
}

/** `n` jobs on `* * * * * *`: CPU, fires against expected, lateness after the scheduled second. */
async function fire() {
  const times = new Float64Array(n * (WARMUP_S + WINDOW_S + 6));
  let count = 0;
  const record = () => {
    if (count < times.length) times[count++] = Date.now();
  };
  // Loaded only for a variant: the other scenarios load nothing of prom-client or OpenTelemetry.
  const operations = variant ? (require('./operations') as { operationsModules: typeof OperationsModules }).operationsModules(variant) : null;
  const { startupMs } = await start(
    jobsModule(
      impl,
      n,
      (pkg) => pkg.Cron('* * * * * *'),
      () => () => record(),
      {},
      operations?.imports,
    ),
  );
  // The warm-up, then the window, measured from half past a second.
  const first = await untilSecond(WARMUP_S * 1_000, 500);
  const meter = cpuMeter();
  await sleep(first + 500 + WINDOW_S * 1_000 - Date.now());
  const { cpuMsPerSec } = meter();
  // Late fires of the last second still count for it.
  await sleep(1_500);
  const from = first + 1_000;
  const to = from + WINDOW_S * 1_000;
  const late: number[] = [];
  for (let i = 0; i < count; i++) {
    const second = Math.floor(times[i] / 1_000) * 1_000;
    if (second >= from && second < to) late.push(times[i] - second);
  }
  return { startupMs, cpuMsPerSec, fires: late.length, expected: n * WINDOW_S, lateness: lateness(late), ...(operations && { spans: operations.spans() }) };
}

/** `n` rare jobs: heap and RSS after start-up (after GC), and the start-up time. */
async function memory() {
  collect();
  const before = process.memoryUsage();
  const { startupMs } = await start(
    jobsModule(
      impl,
      n,
      (pkg) => pkg.Cron(RARE),
      () => () => undefined,
    ),
  );
  collect();
  const after = process.memoryUsage();
  return { startupMs, heapBytes: after.heapUsed - before.heapUsed, rssBytes: after.rss - before.rss };
}

/**
 * `n` rare jobs, the heap as a user sees it: the growth from just before
 * `createApplicationContext()` (the provider's class, decorated, already loaded) to 500 ms after
 * `app.init()`, after full collections at both ends; nothing subtracted.
 */
async function footprint() {
  const module = jobsModule(
    impl,
    n,
    (pkg) => pkg.Cron(RARE),
    () => () => undefined,
  );
  collect();
  const before = process.memoryUsage().heapUsed;
  const { app } = await start(module);
  await sleep(500);
  collect();
  const heapBytes = process.memoryUsage().heapUsed - before;
  await app.close();
  return { heapBytes };
}

/**
 * `n` rare jobs, nothing due: CPU over the window, and the median of its seconds. A second now
 * and then carries a garbage collection of V8's own timing (100 ms or more of CPU, in any of the
 * implementations), which swamps the mean; the median is the steady cost.
 */
async function idle() {
  await start(
    jobsModule(
      impl,
      n,
      (pkg) => pkg.Cron(RARE),
      () => () => undefined,
    ),
  );
  await sleep(WARMUP_S * 1_000);
  const meter = cpuMeter();
  const seconds: number[] = [];
  for (let i = 0; i < WINDOW_S; i++) {
    const second = cpuMeter();
    await sleep(1_000);
    seconds.push(second().cpuMsPerSec);
  }
  return {
    cpuMsPerSec: meter().cpuMsPerSec,
    medianCpuMsPerSec: percentile(
      seconds.sort((a, b) => a - b),
      50,
    ),
  };
}

/** `n` jobs on `@Interval(1000)`: fires per second, CPU, and how far each period is from 1000 ms. */
async function interval() {
  const last = new Float64Array(n);
  const errors: number[] = [];
  let measuring = false;
  let fires = 0;
  const handler = (i: number) => () => {
    const now = performance.timeOrigin + performance.now();
    if (measuring) {
      fires++;
      if (last[i] > 0) errors.push(Math.abs(now - last[i] - 1_000));
    }
    last[i] = now;
  };
  const { startupMs } = await start(jobsModule(impl, n, (pkg) => pkg.Interval(1_000), handler));
  await sleep(WARMUP_S * 1_000);
  measuring = true;
  const meter = cpuMeter();
  await sleep(WINDOW_S * 1_000);
  const { cpuMsPerSec, wallMs } = meter();
  measuring = false;
  const { p50, p99, max } = lateness(errors);
  return { startupMs, cpuMsPerSec, firesPerSec: fires / (wallMs / 1_000), periodError: { p50, p99, max } };
}

const scenarios: Record<string, () => Promise<object>> = { fire, memory, footprint, idle, interval };

report(scenarios[scenario]());
