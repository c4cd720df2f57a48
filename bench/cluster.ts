/**
 * Three instances share `n` every-second jobs: `node cluster.js <redis|postgres|bullmq> <n> [claimAheadMs]`.
 * For this package, three processes of one application on a `RedisJobStore` or a
 * `PostgresJobStore`; for BullMQ, `n` job schedulers on the same Redis and three worker
 * processes. Over the window, every (job, second) must have run exactly once. Prints
 * `RESULT {json}`: ticks run per second, duplicates, misses, lateness from the scheduled second,
 * and the CPU of the three processes (the store server's own is not counted).
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import Redis from 'ioredis';
import { loadBullmq } from './bullmq';
import type { ClusterKind, FromInstance, ToInstance } from './cluster-instance';
import { lateness, report, sleep, WARMUP_S, WINDOW_S } from './common';

const [kind, size, claimAheadMs = '0'] = process.argv.slice(2) as [ClusterKind, string, string?];
const n = Number(size);
const INSTANCES = 3;
const PG_URL = process.env.METRONOME_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.METRONOME_REDIS_URL ?? 'redis://127.0.0.1:6379';

const id = randomBytes(4).toString('hex');
const url = kind === 'postgres' ? PG_URL : REDIS_URL;
/** The schema, key prefix or queue of this run, dropped at the end. */
const namespace = kind === 'postgres' ? `metronome_bench_${id}` : kind === 'redis' ? `metronome-bench-${id}:` : `metronome-bench-${id}`;

/** A forked instance and the messages it sent. */
class Child {
  private readonly process: ChildProcess;
  private readonly waiting = new Map<FromInstance['type'], (message: FromInstance) => void>();
  readonly exited: Promise<void>;

  constructor(name: string) {
    this.process = fork(join(__dirname, 'cluster-instance.js'), [kind, String(n), url, namespace, name, claimAheadMs], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
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

  send(message: ToInstance): void {
    if (this.process.connected) this.process.send(message);
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}

/** BullMQ: `n` job schedulers on `* * * * * *`, made before the workers start. */
async function addSchedulers(): Promise<() => Promise<void>> {
  const { Queue } = loadBullmq();
  const queue = new Queue(namespace, { connection: { url, maxRetriesPerRequest: null } });
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, k) => `job${i + k}`);
    await Promise.all(batch.map((name) => queue.upsertJobScheduler(name, { pattern: '* * * * * *' }, { name })));
  }
  return async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  };
}

/** Drops what the run left in the store. */
async function dropNamespace(): Promise<void> {
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

async function main() {
  const removeSchedulers = kind === 'bullmq' ? await addSchedulers() : null;
  const children = Array.from({ length: INSTANCES }, (_, i) => new Child(`instance-${i + 1}`));
  try {
    const started = performance.now();
    const ready = await Promise.all(children.map((child) => child.next('ready')));
    if (ready.some((message) => message.type !== 'ready')) throw new Error('an instance failed to start');
    const startupMs = performance.now() - started;
    // The warm-up (half that of one process, to keep the whole run within ten minutes), then
    // the window, from a whole second.
    const from = Math.ceil((Date.now() + (WARMUP_S / 2) * 1_000) / 1_000) * 1_000;
    for (const child of children) child.send({ type: 'window', from, seconds: WINDOW_S });
    // Runs of the last second may come late: they still count for it.
    await sleep(from + WINDOW_S * 1_000 + 3_000 - Date.now());
    const reports = await Promise.all(
      children.map((child) => {
        const report = child.next('report');
        child.send({ type: 'report' });
        return report;
      }),
    );
    const counts = new Uint8Array(n * WINDOW_S);
    const late: number[] = [];
    let cpuMsPerSec = 0;
    const shares: number[] = [];
    for (const report of reports) {
      if (report.type !== 'report') throw new Error('an instance stopped before reporting');
      report.counts.forEach((count, cell) => (counts[cell] += count));
      for (const value of report.lateness) late.push(value);
      cpuMsPerSec += report.cpuMsPerSec;
      shares.push(report.lateness.length);
    }
    let runs = 0;
    let duplicates = 0;
    let misses = 0;
    for (const count of counts) {
      runs += count;
      if (count === 0) misses++;
      else duplicates += count - 1;
    }
    return {
      startupMs,
      ticksPerSec: n,
      runsPerSec: runs / WINDOW_S,
      expected: n * WINDOW_S,
      runs,
      duplicates,
      misses,
      lateness: lateness(late),
      cpuMsPerSec,
      shares: shares.map((share) => share / Math.max(1, runs)),
    };
  } finally {
    await Promise.all(
      children.map(async (child) => {
        const stopped = child.next('stopped');
        child.send({ type: 'stop' });
        const timeout = sleep(30_000).then(() => child.kill());
        await Promise.race([stopped, timeout]);
        await child.exited;
      }),
    );
    await removeSchedulers?.();
    await dropNamespace();
  }
}

report(main());
