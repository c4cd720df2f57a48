/**
 * The parent side of the cluster scenarios, cluster.ts (every-second jobs) and herd.ts (every
 * job due at second 0 of each minute). For this package, three processes of one application
 * (cluster-instance.ts) on a `RedisJobStore` or a `PostgresJobStore`; for BullMQ, `n` job
 * schedulers on the same Redis, made here, and three worker processes. Each run has a key prefix,
 * schema or queue of its own, dropped at the end. The instances count every run against its job
 * and the slot of its tick in a window named here; {@link runCluster} adds up what they report.
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import Redis from 'ioredis';
import { loadBullmq } from './bullmq';
import type { ClusterKind, FromInstance, InstanceReport, ToInstance } from './cluster-instance';
import { lateness, sleep } from './common';

export type { ClusterKind };

const INSTANCES = 3;
export const PG_URL = process.env.METRONOME_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.METRONOME_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The cluster's `claimAheadMs`, or `'default'` for the library's own (no option given). */
export type ClaimAheadSetting = number | 'default';

/** `<redis|postgres|bullmq> <n> [claimAheadMs]`, from the command line; without claimAheadMs, the library's default. */
export function clusterArgs(): { kind: ClusterKind; n: number; claimAheadMs: ClaimAheadSetting } {
  const [kind, size, claimAheadMs = 'default'] = process.argv.slice(2);
  if (!['redis', 'postgres', 'bullmq'].includes(kind) || !(Number(size) > 0)) throw new Error('usage: <redis|postgres|bullmq> <n> [claimAheadMs]');
  return { kind: kind as ClusterKind, n: Number(size), claimAheadMs: claimAheadMs === 'default' ? 'default' : Number(claimAheadMs) };
}

/** How a scenario runs its cluster. */
export interface Plan {
  /** The cron expression of every job (this package's `@Cron`, BullMQ's `pattern`). */
  cron: string;
  /** The time between two ticks of a job, and so the length of a slot of the window, in ms. */
  periodMs: number;
  /** The ticks of each job counted. */
  slots: number;
  /** The first tick counted, given the time all the instances were ready. */
  firstTick(readyAt: number): number;
  /** When the CPU is measured, given the first tick: from, and to (without it, until the report). */
  cpu(from: number): { from: number; to?: number };
  /** Resolves when the runs of the window are in; `runs()` asks the instances how many they have counted. */
  settle(from: number, expected: number, runs: () => Promise<number>): Promise<unknown>;
}

/** The runs of a set of ticks. `shares`: the part of the runs each instance made. */
interface Runs {
  expected: number;
  runs: number;
  duplicates: number;
  misses: number;
  lateness: ReturnType<typeof lateness>;
  shares: number[];
}

export interface Tally extends Runs {
  /** From the fork to the last instance ready (application started, jobs registered). */
  startupMs: number;
  /** BullMQ: the time `upsertJobScheduler` took for the `n` schedulers, before the workers start. */
  schedulersMs?: number;
  /** The CPU of the instances over the window of {@link Plan.cpu}, added up. */
  cpuMs: number;
  cpuMsPerSec: number;
  /** The Redis server's own CPU over the same window (INFO): everyone's, not only this run's. */
  storeCpuMs?: number;
  /** Per instance, in the order of their names (`instance-1`…). */
  instances: Array<Omit<InstanceReport, 'counts' | 'lateness'> & { runs: number }>;
  /** Per slot of the window: its tick (ms) and its runs. */
  slots: Array<Runs & { tick: number }>;
}

/** A forked instance and the messages it sent. */
class Child {
  private readonly process: ChildProcess;
  private readonly waiting = new Map<FromInstance['type'], (message: FromInstance) => void>();
  readonly exited: Promise<void>;

  constructor(args: string[]) {
    this.process = fork(join(__dirname, 'cluster-instance.js'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: FromInstance) => this.waiting.get(message.type)?.(message));
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    void this.exited.then(() => {
      for (const type of this.waiting.keys()) this.waiting.get(type)!({ type: 'stopped' });
    });
  }

  /** The next message of a type (or a `stopped` one if the process exits first). */
  next<T extends FromInstance['type']>(type: T): Promise<Extract<FromInstance, { type: T }> | { type: 'stopped' }> {
    return new Promise((resolve) => this.waiting.set(type, resolve as (message: FromInstance) => void));
  }

  /** Sends a message and waits for the answer of a type. */
  ask<T extends FromInstance['type']>(message: ToInstance, type: T): Promise<Extract<FromInstance, { type: T }> | { type: 'stopped' }> {
    const answer = this.next(type);
    this.send(message);
    return answer;
  }

  send(message: ToInstance): void {
    if (this.process.connected) this.process.send(message);
  }

  /** Asks the instance to stop; kills it if it has not within 30 s. */
  async stop(): Promise<void> {
    const stopped = this.ask({ type: 'stop' }, 'stopped');
    await Promise.race([stopped, this.exited, sleep(30_000).then(() => this.process.kill('SIGKILL'))]);
    await this.exited;
  }
}

/** BullMQ: `n` job schedulers on `pattern`, made before the workers start; returns what removes them. */
async function addSchedulers(namespace: string, n: number, pattern: string): Promise<() => Promise<void>> {
  const { Queue } = loadBullmq();
  const queue = new Queue(namespace, { connection: { url: REDIS_URL, maxRetriesPerRequest: null } });
  const remove = async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  };
  try {
    for (let i = 0; i < n; i += 500) {
      const batch = Array.from({ length: Math.min(500, n - i) }, (_, k) => `job${i + k}`);
      await Promise.all(batch.map((name) => queue.upsertJobScheduler(name, { pattern }, { name })));
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return remove;
}

/** Drops what the run left in the store. */
export async function dropNamespace(kind: ClusterKind, namespace: string): Promise<void> {
  if (kind === 'postgres') {
    const pool = new Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`);
    await pool.end();
    return;
  }
  const redis = new Redis(REDIS_URL);
  const pattern = kind === 'redis' ? `${namespace}*` : `bull:${namespace}:*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
}

/** The Redis server's CPU so far (user + system, INFO), in ms. */
async function redisCpuMs(): Promise<number> {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('cpu');
  await redis.quit();
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1_000;
}

/** The Redis server's CPU between `from` and `to` (ms), or until the function returned is called. */
function meterRedis(from: number, to?: number): () => Promise<number> {
  const start = sleep(from - Date.now()).then(redisCpuMs);
  const end = to === undefined ? null : sleep(to - Date.now()).then(redisCpuMs);
  return async () => (await (end ?? redisCpuMs())) - (await start);
}

/** Adds up the runs of some cells (`counts[cell]`, one a job and slot) and the instances' lateness and runs. */
function runsOf(counts: Uint8Array, cells: (cell: number) => boolean, late: number[], instanceRuns: number[]): Runs {
  let runs = 0;
  let duplicates = 0;
  let misses = 0;
  let expected = 0;
  counts.forEach((count, cell) => {
    if (!cells(cell)) return;
    expected++;
    runs += count;
    if (count === 0) misses++;
    else duplicates += count - 1;
  });
  return { expected, runs, duplicates, misses, lateness: lateness(late), shares: instanceRuns.map((share) => share / Math.max(1, runs)) };
}

/** Runs `n` jobs on three instances as `plan` says, and adds up what they counted. */
export async function runCluster(kind: ClusterKind, n: number, claimAheadMs: ClaimAheadSetting, plan: Plan): Promise<Tally> {
  const id = randomBytes(4).toString('hex');
  const url = kind === 'postgres' ? PG_URL : REDIS_URL;
  const namespace = kind === 'postgres' ? `metronome_bench_${id}` : kind === 'redis' ? `metronome-bench-${id}:` : `metronome-bench-${id}`;
  let removeSchedulers: (() => Promise<void>) | null = null;
  let children: Child[] = [];
  try {
    const schedulersFrom = performance.now();
    if (kind === 'bullmq') removeSchedulers = await addSchedulers(namespace, n, plan.cron);
    const schedulersMs = performance.now() - schedulersFrom;
    children = Array.from({ length: INSTANCES }, (_, i) => new Child([kind, String(n), url, namespace, `instance-${i + 1}`, String(claimAheadMs), plan.cron]));
    const started = performance.now();
    const ready = await Promise.all(children.map((child) => child.next('ready')));
    if (ready.some((message) => message.type !== 'ready')) throw new Error('an instance failed to start');
    const startupMs = performance.now() - started;

    const from = plan.firstTick(Date.now());
    const cpu = plan.cpu(from);
    const { periodMs, slots } = plan;
    for (const child of children) child.send({ type: 'window', from, periodMs, slots, cpuFrom: cpu.from, cpuTo: cpu.to });
    const storeCpu = kind === 'postgres' ? null : meterRedis(cpu.from, cpu.to);
    await plan.settle(from, n * slots, async () => {
      const answers = await Promise.all(children.map((child) => child.ask({ type: 'progress' }, 'progress')));
      return answers.reduce((sum, answer) => sum + (answer.type === 'progress' ? answer.runs : 0), 0);
    });
    const reports = await Promise.all(children.map((child) => child.ask({ type: 'report' }, 'report')));
    if (reports.some((report) => report.type !== 'report')) throw new Error('an instance stopped before reporting');
    const figures = reports as Array<InstanceReport & { type: 'report' }>;

    const counts = new Uint8Array(n * slots);
    for (const report of figures) report.counts.forEach((count, cell) => (counts[cell] += count));
    const total = (late: number[][]) => late.reduce((sum, slot) => sum + slot.length, 0);
    const all = runsOf(
      counts,
      () => true,
      figures.flatMap((report) => report.lateness.flat()),
      figures.map((report) => total(report.lateness)),
    );
    return {
      ...all,
      startupMs,
      ...(kind === 'bullmq' && { schedulersMs }),
      cpuMs: figures.reduce((sum, report) => sum + report.cpuMs, 0),
      cpuMsPerSec: figures.reduce((sum, report) => sum + report.cpuMsPerSec, 0),
      ...(storeCpu && { storeCpuMs: await storeCpu() }),
      instances: figures.map(({ type: _, counts: __, lateness: late, ...report }) => ({ ...report, runs: total(late) })),
      slots: Array.from({ length: slots }, (_, slot) => ({
        tick: from + slot * periodMs,
        ...runsOf(
          counts,
          (cell) => cell % slots === slot,
          figures.flatMap((report) => report.lateness[slot]),
          figures.map((report) => report.lateness[slot].length),
        ),
      })),
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await removeSchedulers?.();
    await dropNamespace(kind, namespace);
  }
}
