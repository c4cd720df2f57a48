import { INestApplication, Injectable, OnModuleDestroy } from '@nestjs/common';
import { closeSync, openSync, writeSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { Interval, InvalidScheduleError, JobContext, JobHandler, PostgresJobStore, SchedulerEvent, SchedulerRegistry, VirtualClock } from '../../lib';
import { PG_URL } from '../support/services';
import { MemoryJobStore } from '../../lib/stores/memory.store';
import { startApp, T0 } from '../support/nest';

/**
 * Persistent jobs across several instances of an application, in one process: two apps share a
 * MemoryJobStore as they would share a database (the same flows on PostgreSQL and Redis, in real
 * processes, are in test/cluster).
 */
const calls: string[] = [];

@Injectable()
class Reports {
  @JobHandler()
  build(context: JobContext, kind: string) {
    calls.push(`${context.name}:${kind}@${context.scheduledAt.getTime() - T0}`);
  }

  /** Not a handler: a stored row must not be able to call it. */
  dropEverything() {
    calls.push('dropEverything ran');
  }
}

/** The fifth seed: a provider holding an open file handle. Jobs refer to it; nothing of it is ever serialized. */
@Injectable()
class AuditLog implements OnModuleDestroy {
  static path = '';
  private readonly fd = openSync(AuditLog.path, 'a');

  @JobHandler('append')
  append(context: JobContext, line: string) {
    writeSync(this.fd, `${context.scheduledAt.getTime() - T0} ${line}\n`);
  }

  onModuleDestroy() {
    closeSync(this.fd);
  }
}

let clock: VirtualClock;
let store: MemoryJobStore;
let apps: INestApplication[];
let events: Array<SchedulerEvent & { app: number }>;

async function instance(): Promise<{ app: INestApplication; registry: SchedulerRegistry }> {
  const { app } = await startApp([Reports, AuditLog], {
    clock,
    store,
    instanceId: `app-${apps.length}`,
    cluster: { syncEveryMs: 1_000, checkInMs: 1_000, leaseMs: 3_000 },
  });
  const index = apps.length;
  apps.push(app);
  app.get(SchedulerRegistry).events$.subscribe((event) => events.push({ ...event, app: index }));
  return { app, registry: app.get(SchedulerRegistry) };
}

const runsOf = (job: string) => calls.filter((call) => call.startsWith(`${job}:`));

beforeEach(() => {
  clock = new VirtualClock(T0);
  store = new MemoryJobStore({ shared: true, now: () => clock.now() });
  apps = [];
  events = [];
  calls.length = 0;
  AuditLog.path = join(mkdtempSync(join(tmpdir(), 'metronome-')), 'audit.log');
});

afterEach(async () => {
  for (const app of apps) await app.close();
  rmSync(join(AuditLog.path, '..'), { recursive: true, force: true });
});

describe('persistent jobs', () => {
  it('added on one instance, run on the cluster once per tick, as data in the store', async () => {
    const a = await instance();
    const b = await instance();
    await a.registry.addJob({ name: 'nightly', trigger: { every: 1_000 }, target: { provider: Reports, method: 'build' }, args: ['full'], persist: true });
    await clock.advanceAsync(100);
    expect(b.registry.getJob('nightly')).toMatchObject({ meta: { persisted: true, target: 'Reports.build' } });
    await clock.advanceAsync(3_000);
    expect(runsOf('nightly')).toEqual(['nightly:full@1000', 'nightly:full@2000', 'nightly:full@3000']);
    expect(await store.loadDefinitions()).toEqual([
      {
        name: 'nightly',
        paused: false,
        definition: { name: 'nightly', trigger: { every: 1_000 }, target: { provider: 'Reports', method: 'build' }, args: ['full'], options: {} },
      },
    ]);
  });

  it('paused, resumed, rescheduled and removed on one instance, on every instance', async () => {
    const a = await instance();
    const b = await instance();
    await a.registry.addJob({ name: 'job', trigger: { every: 1_000 }, target: { provider: Reports, method: 'build' }, args: ['x'], persist: true });
    await clock.advanceAsync(100);
    await a.registry.pauseJob('job');
    await clock.advanceAsync(100);
    expect(b.registry.getJob('job').paused).toBe(true);
    await clock.advanceAsync(2_000);
    expect(runsOf('job')).toEqual([]);
    await a.registry.resumeJob('job');
    await a.registry.rescheduleJob('job', { every: 500 });
    await clock.advanceAsync(100);
    expect(b.registry.getJob('job')).toMatchObject({ paused: false, trigger: 'every 500 ms' });
    await clock.advanceAsync(1_000);
    expect(runsOf('job').length).toBeGreaterThanOrEqual(2);
    await a.registry.removeJob('job');
    await clock.advanceAsync(100);
    expect(b.registry.listJobs().map((job) => job.name)).not.toContain('job');
    const before = runsOf('job').length;
    await clock.advanceAsync(2_000);
    expect(runsOf('job')).toHaveLength(before);
  });

  it('reach an instance that missed every notification at its next check-in, which finds the store changed', async () => {
    // Notifications can be lost (a dropped connection, a full buffer): the store's revision, read at each check-in, is the safety net.
    store.watch = async () => async () => undefined;
    const a = await instance();
    const b = await instance();
    await clock.advanceAsync(1_100);
    await a.registry.addJob({ name: 'job', trigger: { every: 10_000 }, target: { provider: Reports, method: 'build' }, args: ['x'], persist: true });
    await clock.advanceAsync(100);
    expect(b.registry.listJobs().map((job) => job.name)).not.toContain('job');
    await clock.advanceAsync(1_100);
    expect(b.registry.getJob('job').trigger).toBe('every 10000 ms');
    await a.registry.pauseJob('job');
    await clock.advanceAsync(1_100);
    expect(b.registry.getJob('job').paused).toBe(true);
    await a.registry.removeJob('job');
    await clock.advanceAsync(1_100);
    expect(b.registry.listJobs().map((job) => job.name)).not.toContain('job');
  });

  it('keep firing after every instance restarts: only the provider reference was stored, never the instance and its file handle', async () => {
    const first = await instance();
    await first.registry.addJob({
      name: 'audit',
      trigger: { every: 1_000 },
      target: { provider: AuditLog, method: 'append' },
      args: ['checked'],
      persist: true,
    });
    await clock.advanceAsync(2_000);
    for (const app of apps.splice(0)) await app.close();
    await clock.advanceAsync(500);
    await instance();
    await instance();
    await clock.advanceAsync(2_000);
    const lines = readFileSync(AuditLog.path, 'utf8').trim().split('\n');
    expect(lines).toEqual(['1000 checked', '2000 checked', '3000 checked', '4000 checked']);
  });

  it('refuse what cannot be stored: a callback, a symbol token', async () => {
    const { registry } = await instance();
    await expect(registry.addJob({ name: 'cb', trigger: { every: 1_000 }, handler: () => undefined, persist: true })).rejects.toThrow(
      'Invalid persist for job "cb": true needs a provider target: a function cannot be stored, only a reference to a provider method.',
    );
    await expect(
      registry.addJob({ name: 'sym', trigger: { every: 1_000 }, target: { provider: Symbol('Reports'), method: 'build' }, persist: true }),
    ).rejects.toThrow(InvalidScheduleError);
    expect(await store.loadDefinitions()).toEqual([]);
  });
});

describe('persistent jobs on PostgreSQL', () => {
  it('are not re-created by the instance that saved them, although jsonb reorders their keys', async () => {
    const schema = `metronome_test_${Date.now()}`;
    const pgStore = new PostgresJobStore({ connectionString: PG_URL, schema });
    const { app } = await startApp([Reports, AuditLog], { clock, store: pgStore, instanceId: 'pg', cluster: { syncEveryMs: 1_000, checkInMs: 1_000 } });
    apps.push(app);
    const seen: string[] = [];
    app.get(SchedulerRegistry).events$.subscribe((event) => 'job' in event && event.job === 'ordered' && seen.push(event.type));
    await app.get(SchedulerRegistry).addJob({
      name: 'ordered',
      trigger: { cron: '0 0 * * * *', timeZone: 'UTC' },
      target: { provider: Reports, method: 'build' },
      args: [{ z: 1, a: 2 }],
      retry: { attempts: 1 },
      persist: true,
    });
    await clock.advanceAsync(3_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await clock.advanceAsync(1_000);
    expect(seen.filter((type) => type.startsWith('job.'))).toEqual(['job.added']);
    await app.close();
    apps.length = 0;
    const pool = new Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  });
});

describe('stored rows are untrusted', () => {
  it('a row named like a job of the application is refused, and that job runs on', async () => {
    @Injectable()
    class Decorated {
      @Interval('heartbeat', 1_000)
      beat() {
        calls.push(`heartbeat@${clock.now() - T0}`);
      }
    }
    const { app } = await startApp([Reports, AuditLog, Decorated], { clock, store, instanceId: 'x', cluster: { syncEveryMs: 1_000, checkInMs: 1_000 } });
    apps.push(app);
    const rejected: string[] = [];
    app.get(SchedulerRegistry).events$.subscribe((event) => event.type === 'job.rejected' && rejected.push(event.reason));
    await store.saveDefinition(
      { name: 'heartbeat', trigger: { every: 500 }, target: { provider: 'Reports', method: 'build' }, args: ['hijack'], options: {} },
      clock.now(),
      'attacker',
    );
    await clock.advanceAsync(3_000);
    expect(rejected).toEqual(['Invalid name for job "heartbeat": "heartbeat" is the name of a job of this application that is not a stored job.']);
    expect(calls.filter((c) => c.startsWith('heartbeat@'))).toEqual(['heartbeat@1000', 'heartbeat@2000', 'heartbeat@3000']);
    expect(calls.some((c) => c.includes('hijack'))).toBe(false);
  });

  it('a hand-written row naming a method that is not a handler runs nothing and raises an event; the others run on', async () => {
    const { registry } = await instance();
    await registry.addJob({ name: 'good', trigger: { every: 1_000 }, target: { provider: Reports, method: 'build' }, args: ['ok'], persist: true });
    await store.saveDefinition(
      { name: 'evil', trigger: { every: 1_000 }, target: { provider: 'Reports', method: 'dropEverything' }, args: [], options: {} },
      clock.now(),
      'attacker',
    );
    await store.saveDefinition(
      { name: 'corrupt', trigger: 'every second' as never, target: { provider: 'Reports', method: 'build' }, args: [], options: {} },
      clock.now(),
      'attacker',
    );
    await store.saveDefinition(
      {
        name: 'proto',
        trigger: { every: 1_000 },
        target: { provider: 'Reports', method: 'build' },
        args: [JSON.parse('{"__proto__":{"polluted":1}}')],
        options: {},
      },
      clock.now(),
      'attacker',
    );
    await clock.advanceAsync(3_000);
    expect(calls).not.toContain('dropEverything ran');
    expect(runsOf('good')).toEqual(['good:ok@1000', 'good:ok@2000', 'good:ok@3000']);
    const rejected = events.filter((e) => e.type === 'job.rejected');
    expect(rejected.map((e) => e.type === 'job.rejected' && [e.job, e.reason])).toEqual([
      ['corrupt', 'Invalid trigger for job "corrupt": "every second" must be an object with one of cron, every or at.'],
      [
        'evil',
        'Job "evil" cannot target Reports.dropEverything: the method is not marked @JobHandler() nor scheduled with a decorator. Handlers of Reports: "build".',
      ],
      ['proto', 'Invalid args[0].__proto__ for job "proto": "__proto__" is a key that JSON arguments may not use.'],
    ]);
    expect(registry.listJobs().map((job) => job.name)).toEqual(['good']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
