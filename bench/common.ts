import 'reflect-metadata';
import { DynamicModule, Injectable, Module, Type } from '@nestjs/common';

/** Seconds measured, after a warm-up. */
export const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);
/**
 * Seconds of warm-up before a window: long enough for what follows any start-up to be over
 * (optimizing compilers, and V8's memory reducer, which compacts the heap once, 8 to 17 s after
 * start-up here, with 10 ms or more of pause).
 */
export const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 20);

/** The implementations compared, and `none`: the same application without a scheduler, as a baseline. */
export type Impl = 'metronome' | 'nestjs-schedule' | 'none';

export const IMPLS: Record<Impl, string> = { metronome: 'nestjs-metronome', 'nestjs-schedule': '@nestjs/schedule', none: 'no scheduler' };

/** The part of the public API both packages share, which the scenarios use. */
interface SchedulePackage {
  ScheduleModule: { forRoot(options?: object): DynamicModule };
  Cron(expression: string): MethodDecorator;
  Interval(ms: number): MethodDecorator;
}

export function schedulePackage(impl: Impl): SchedulePackage | null {
  if (impl === 'none') return null;
  // Both packages are loaded the way an application loads them.
  return require(impl === 'metronome' ? 'nestjs-metronome' : '@nestjs/schedule') as SchedulePackage;
}

/**
 * A provider with `n` generated methods, each decorated as an application's would be, and the
 * module that holds it, with `imports` beside the schedule module. `handler(i)` is the body of method `i`.
 */
export function jobsModule(
  impl: Impl,
  n: number,
  decorator: (pkg: SchedulePackage, i: number) => MethodDecorator,
  handler: (i: number) => (...args: unknown[]) => void,
  moduleOptions: object = {},
  imports: DynamicModule[] = [],
): Type {
  const pkg = schedulePackage(impl);
  class Jobs {}
  const prototype = Jobs.prototype as unknown as Record<string, unknown>;
  for (let i = 0; i < n; i++) {
    const key = `job${i}`;
    prototype[key] = handler(i);
    if (!pkg) continue;
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key)!;
    const decorated = (decorator(pkg, i)(prototype, key, descriptor) as PropertyDescriptor | undefined) ?? descriptor;
    Object.defineProperty(prototype, key, decorated);
  }
  Injectable()(Jobs);
  class AppModule {}
  Module({ imports: pkg ? [pkg.ScheduleModule.forRoot(moduleOptions), ...imports] : [], providers: [Jobs] })(AppModule);
  return AppModule;
}

/** CPU time (user + system, all threads) used between two calls, in ms, and per wall-clock second. */
export function cpuMeter(): () => { cpuMs: number; cpuMsPerSec: number; wallMs: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - start;
    const cpuMs = (used.user + used.system) / 1_000;
    return { cpuMs, cpuMsPerSec: cpuMs / (wallMs / 1_000), wallMs };
  };
}

/** The p-th percentile (0..100) of sorted values, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** p50, p99 and max of some lateness figures, in ms. */
export function lateness(values: number[] | Float64Array): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : NaN };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps until `ms` past a whole wall-clock second, at least `minMs` from now; returns that second (ms). */
export async function untilSecond(minMs: number, ms = 0): Promise<number> {
  const second = Math.ceil((Date.now() + minMs) / 1_000) * 1_000;
  await sleep(second + ms - Date.now());
  return second;
}

/** Prints a scenario's result as the line `RESULT {json}` for run.ts and exits; or its error, and exits 1. */
export function report(result: Promise<object>): void {
  result.then(
    (figures) => {
      process.stdout.write(`RESULT ${JSON.stringify(figures)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
