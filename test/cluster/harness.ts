import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { PG_URL, REDIS_URL, uniqueName } from '../support/services';

/**
 * Real processes of the application in test/fixtures/cluster-app.cjs, sharing a store. Only the
 * cluster and fault tests use real time; they wait with generous bounds and check counts.
 */
export const ROOT = join(__dirname, '..', '..');

export interface RunRecord {
  instance: string;
  at: number;
  type: string;
  job?: string;
  reason?: string;
  /** On `ready`: the names of the jobs the instance knows. */
  jobs?: string[];
  tick?: number;
  attempt?: number;
  token?: number;
  /** On `stalled`: the name of the error the run's signal was aborted with, or null. */
  aborted?: string | null;
  /** On `log` (LOG_RECORDS=1): the line. */
  message?: string;
  /** On `run.lost`: the instance that held the run. */
  owner?: string;
}

export type StoreKind = 'postgres' | 'redis';

/** The fixture's always-on jobs and their periods: each must run exactly once per tick. */
export const FIXTURE_JOBS: ReadonlyArray<[string, number]> = [
  ['cron-a', 1_000],
  ['cron-b', 1_000],
  ['interval-a', 1_000],
  ['interval-b', 2_000],
];

/** A store namespace (schema or key prefix) for one test, and its cleanup. */
export function namespace(kind: StoreKind): { url: string; name: string; drop(): Promise<void> } {
  if (kind === 'postgres') {
    const name = uniqueName('metronome_cluster');
    return {
      url: PG_URL,
      name,
      drop: async () => {
        const pool = new Pool({ connectionString: PG_URL });
        await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
        await pool.end();
      },
    };
  }
  const name = `${uniqueName('metronome-cluster')}:`;
  return {
    url: REDIS_URL,
    name,
    drop: async () => {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${name}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    },
  };
}

/** One instance: a child process whose stdout lines are collected as records. */
export class Instance {
  readonly records: RunRecord[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly waiters: Array<{ test: (record: RunRecord) => boolean; resolve: (record: RunRecord) => void }> = [];

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (`npm test` does).');
    this.child = spawn(process.execPath, [join(ROOT, 'test', 'fixtures', 'cluster-app.cjs')], {
      cwd: ROOT,
      env: { ...process.env, ...env, INSTANCE: name },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as RunRecord;
        this.records.push(record);
        for (const waiter of this.waiters.filter((w) => w.test(record))) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(record);
        }
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk}`));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** The first record (already seen or to come) that passes `test`. */
  waitFor(test: (record: RunRecord) => boolean, timeoutMs = 30_000): Promise<RunRecord> {
    const seen = this.records.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no such record within ${timeoutMs} ms`)), timeoutMs);
      // A waiter that lost a Promise.race must not hold the test process open.
      timer.unref();
      this.waiters.push({ test, resolve: (record) => (clearTimeout(timer), resolve(record)) });
    });
  }

  /** Sends a control call to the instance ("pause NAME", "reschedule NAME 500"…). */
  send(command: string): void {
    this.child.stdin!.write(`${command}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

export function start(names: string[], env: Record<string, string>): Instance[] {
  return names.map((name) => new Instance(name, env));
}

export async function stopAll(instances: Instance[]): Promise<void> {
  for (const instance of instances) instance.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.exited));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps until the wall clock is `fraction` of the way into a second (0.5: half past). */
export async function alignTo(fraction: number): Promise<void> {
  const into = Date.now() % 1_000;
  await sleep((fraction * 1_000 - into + 1_000) % 1_000);
}

/** Writes a job row by hand, as someone with access to the store could, bypassing the application. */
export async function writeRow(kind: StoreKind, store: { url: string; name: string }, definition: { name: string; [field: string]: unknown }): Promise<void> {
  if (kind === 'postgres') {
    const pool = new Pool({ connectionString: store.url });
    await pool.query(`INSERT INTO "${store.name}"."jobs" (name, anchor, definition) VALUES ($1, 0, $2::jsonb)`, [definition.name, JSON.stringify(definition)]);
    await pool.end();
  } else {
    const redis = new Redis(store.url);
    await redis.hset(`${store.name}job:${definition.name}`, 'a', '0', 'd', JSON.stringify(definition));
    await redis.sadd(`${store.name}names`, definition.name);
    await redis.quit();
  }
}

/** Every record of every instance. */
export const recordsOf = (instances: Instance[]) => instances.flatMap((instance) => instance.records);

/** Every run record of every instance. */
export const runsOf = (instances: Instance[]) => instances.flatMap((instance) => instance.records.filter((r) => r.type === 'run'));

/**
 * Checks that a job's ticks ran exactly once each: no tick twice anywhere, and within
 * [from, to] every tick of its grid (`period` ms apart) present — run, or else among the ticks
 * `reported` (records of `run.skipped` or `run.missed` the test allows), never both. On a gap,
 * the failure lists the missing ticks and, from `records` (every record of the instances), what was
 * written about them.
 */
export function expectExactlyOnce(
  runs: RunRecord[],
  job: string,
  period: number,
  from: number,
  to: number,
  reported: RunRecord[] = [],
  records: RunRecord[] = [],
): void {
  const evidenceFor = (ticks: number[]) =>
    records.filter((r) => (r.job === job && ticks.includes(r.tick!)) || (r.type === 'log' && ticks.some((tick) => Math.abs(r.at - tick) <= 2 * period)));
  const ticks = runs.filter((r) => r.job === job).map((r) => r.tick!);
  const unique = new Set(ticks);
  expect({ job, duplicates: ticks.length - unique.size }).toEqual({ job, duplicates: 0 });
  const excused = [...new Set(reported.filter((r) => r.job === job).map((r) => r.tick!))];
  expect({ job, ranAndReported: excused.filter((t) => unique.has(t)) }).toEqual({ job, ranAndReported: [] });
  const ran = [...unique].filter((t) => t >= from && t <= to);
  expect(ran.length).toBeGreaterThan(0);
  const inWindow = [...ran, ...excused.filter((t) => t >= from && t <= to)].sort((a, b) => a - b);
  const first = inWindow[0];
  const expected = Math.floor((inWindow[inWindow.length - 1] - first) / period) + 1;
  const present = new Set(inWindow);
  const missing = Array.from({ length: expected }, (_, index) => first + index * period).filter((tick) => !present.has(tick));
  // On a gap, what the instances wrote about the missing ticks (claims with RECORD_CLAIMS=1, skips)
  // and their log lines nearby (LOG_RECORDS=1) say where each went.
  const evidence = missing.length
    ? evidenceFor(missing.slice(0, 5)).map(({ instance, at, type, tick, reason, message }) => ({ instance, at, type, tick, reason, message }))
    : [];
  expect({
    job,
    gaps: expected - inWindow.length,
    missing: missing.slice(0, 20),
    offGrid: inWindow.filter((t) => (t - first) % period !== 0),
    evidence,
  }).toEqual({
    job,
    gaps: 0,
    missing: [],
    offGrid: [],
    evidence: [],
  });
  expect(inWindow.length).toBeGreaterThanOrEqual(Math.floor((to - from) / period) - 1);
}
