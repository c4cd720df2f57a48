import { INestApplication, Injectable } from '@nestjs/common';
import { Cron, Interval, JobContext, PostgresJobStore, RedisJobStore, SchedulerEvent, SchedulerRegistry } from '../../lib';
import { Pool } from 'pg';
import Redis from 'ioredis';
import { RecordingLogger, startApp } from '../support/nest';
import { OwnServer, ownPostgres, ownRedis } from '../support/servers';
import { sleep } from './harness';

/**
 * The store goes away while the application runs, and comes back: the application does not crash,
 * the ticks of the outage are reported missed (logged once), and claiming resumes. Real time, on a
 * store server of the test's own.
 */
const ticks: number[] = [];

@Injectable()
class Ticker {
  @Cron('* * * * * *', { name: 'tick' })
  tick(context: JobContext) {
    ticks.push(context.scheduledAt.getTime());
  }
}

describe.each([
  ['PostgreSQL', () => ownPostgres(), (url: string) => new PostgresJobStore({ connectionString: url, schema: 'fault' })],
  ['Redis', () => ownRedis(), (url: string) => new RedisJobStore({ url, keyPrefix: 'fault:' })],
] as const)('when %s goes away and comes back', (_label, ownServer, makeStore) => {
  let server: OwnServer;
  let app: INestApplication | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    server = await ownServer();
    process.on('unhandledRejection', onUnhandled);
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await app?.close();
    await server.destroy();
  }, 60_000);

  it('does not crash, reports the ticks it could not claim as missed, and claims again after', async () => {
    ticks.length = 0;
    const events: SchedulerEvent[] = [];
    let logger: RecordingLogger;
    ({ app, logger } = await startApp([Ticker], {
      store: makeStore(server.url),
      instanceId: 'fault-test',
      cluster: { leaseMs: 2_000, syncEveryMs: 500, checkInMs: 500 },
    }));
    app.get(SchedulerRegistry).events$.subscribe((event) => events.push(event));
    await sleep(3_500);
    const down = Date.now();
    await server.stop();
    await sleep(4_000);
    const up = Date.now();
    await server.start();
    // Claims are tried again with a backoff of at most 5 s: by then claiming has resumed.
    await sleep(10_000);
    const end = Date.now();

    expect(unhandled).toEqual([]);
    const before = ticks.filter((t) => t < down);
    const during = ticks.filter((t) => t > down + 1_000 && t < up);
    const after = ticks.filter((t) => t > up + 6_000 && t < end - 500);
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(during).toEqual([]);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ticks).size).toBe(ticks.length);

    const unclaimed = events.filter((e) => e.type === 'run.missed' && e.reason === 'unclaimed').map((e) => (e as { scheduledAt: Date }).scheduledAt.getTime());
    expect(unclaimed.filter((t) => t > down + 1_000 && t < up).length).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.type === 'store.unavailable')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'store.recovered')).toHaveLength(1);
    // Logged once per outage, not once per tick, nor once by each part that met it.
    const kind = server.url.startsWith('redis') ? 'redis' : 'postgres';
    expect(
      logger!.lines
        .filter((line) => line.level === 'error')
        .map((line) => line.message.replace(/:.*/, ''))
        .sort(),
    ).toEqual([`The job store (${kind}) cannot be reached`]);
    expect(logger!.find('warn', 'missed')).toEqual([]);
  }, 60_000);

  it('starts while the store is down, says so once, and runs the jobs once it is back', async () => {
    await app?.close();
    app = undefined;
    ticks.length = 0;
    await server.stop();
    const events: SchedulerEvent[] = [];
    let logger: RecordingLogger;
    ({ app, logger } = await startApp([Ticker], {
      store: makeStore(server.url),
      instanceId: 'fault-boot',
      cluster: { leaseMs: 2_000, syncEveryMs: 500, checkInMs: 500 },
    }));
    app.get(SchedulerRegistry).events$.subscribe((event) => events.push(event));
    await sleep(2_500);
    expect(ticks).toEqual([]);
    const kind = server.url.startsWith('redis') ? 'redis' : 'postgres';
    expect(logger!.lines.filter((line) => line.level === 'error').map((line) => line.message.replace(/:.*/, ''))).toEqual([
      `The job store (${kind}) cannot be reached`,
    ]);
    const up = Date.now();
    await server.start();
    // Registration is tried again with a backoff (1 s, 2 s, 4 s…): within 10 s the job runs.
    await sleep(10_000);
    expect(events.filter((e) => e.type === 'store.recovered')).toHaveLength(1);
    expect(ticks.filter((t) => t > up).length).toBeGreaterThanOrEqual(1);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(unhandled).toEqual([]);
  }, 60_000);
});

/** Runs of the long at-least-once job: when each started, its tick and attempt. */
const longRuns: Array<{ tick: number; attempt: number; at: number }> = [];

@Injectable()
class LongJob {
  @Interval('long', 1_000, { delivery: 'at-least-once' })
  async long(context: JobContext) {
    longRuns.push({ tick: context.scheduledAt.getTime(), attempt: context.attempt, at: Date.now() });
    await sleep(10_000);
  }
}

describe.each([
  [
    'PostgreSQL',
    () => ownPostgres(),
    (url: string) => new PostgresJobStore({ connectionString: url, schema: 'outage' }),
    async (url: string) => {
      const pool = new Pool({ connectionString: url });
      const { rows } = await pool.query('SELECT id FROM "outage"."instances" WHERE last_reaped IS NOT NULL');
      await pool.end();
      return rows.map((row: { id: string }) => row.id);
    },
  ],
  [
    'Redis',
    () => ownRedis(),
    (url: string) => new RedisJobStore({ url, keyPrefix: 'outage:' }),
    async (url: string) => {
      const redis = new Redis(url);
      const dead = await redis.zrangebyscore('outage:dead', '-inf', '+inf');
      await redis.quit();
      return dead;
    },
  ],
] as const)('when %s is away longer than an instance may be silent', (_label, ownServer, makeStore, declaredDead) => {
  let server: OwnServer;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    server = await ownServer();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await server.destroy();
  }, 60_000);

  it('declares no instance dead once it is back, and makes a run in flight then only once: the first instance back does not take the others for dead', async () => {
    longRuns.length = 0;
    // Silent for 3 s (3 check-ins of 1 s) is dead; the store is away for 5 s, less than a lease.
    const cluster = { leaseMs: 20_000, syncEveryMs: 500, checkInMs: 1_000 };
    for (const instanceId of ['outage-a', 'outage-b']) apps.push((await startApp([LongJob], { store: makeStore(server.url), instanceId, cluster })).app);
    const deadline = Date.now() + 20_000;
    while (longRuns.length === 0 && Date.now() < deadline) await sleep(100);
    expect(longRuns).toHaveLength(1);
    await server.stop();
    await sleep(5_000);
    await server.start();
    // Both check in again while the run is still in flight; a run taken over would start meanwhile.
    await sleep(5_000);
    expect(await declaredDead(server.url)).toEqual([]);
    const first = longRuns[0]!;
    expect(longRuns.filter((run) => run.tick === first.tick)).toEqual([first]);
    expect(longRuns.every((run) => run.attempt === 1)).toBe(true);
  }, 60_000);
});
