import { INestApplication, Injectable, OnModuleDestroy } from '@nestjs/common';
import { closeSync, openSync, writeSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidScheduleError, JobContext, JobHandler, SchedulerEvent, SchedulerRegistry, VirtualClock } from '../../lib';
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
  const { app } = await startApp([Reports, AuditLog], { clock, store, instanceId: `app-${apps.length}`, cluster: { syncEveryMs: 1_000, leaseMs: 3_000 } });
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
      { name: 'nightly', paused: false, definition: { name: 'nightly', trigger: { every: 1_000 }, target: { provider: 'Reports', method: 'build' }, args: ['full'], options: {} } },
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

  it('keep firing after every instance restarts: only the provider reference was stored, never the instance and its file handle', async () => {
    const first = await instance();
    await first.registry.addJob({ name: 'audit', trigger: { every: 1_000 }, target: { provider: AuditLog, method: 'append' }, args: ['checked'], persist: true });
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
    await expect(registry.addJob({ name: 'sym', trigger: { every: 1_000 }, target: { provider: Symbol('Reports'), method: 'build' }, persist: true })).rejects.toThrow(
      InvalidScheduleError,
    );
    expect(await store.loadDefinitions()).toEqual([]);
  });
});

describe('stored rows are untrusted', () => {
  it('a hand-written row naming a method that is not a handler runs nothing and raises an event; the others run on', async () => {
    const { registry } = await instance();
    await registry.addJob({ name: 'good', trigger: { every: 1_000 }, target: { provider: Reports, method: 'build' }, args: ['ok'], persist: true });
    await store.saveDefinition(
      { name: 'evil', trigger: { every: 1_000 }, target: { provider: 'Reports', method: 'dropEverything' }, args: [], options: {} },
      clock.now(),
      'attacker',
    );
    await store.saveDefinition({ name: 'corrupt', trigger: 'every second' as never, target: { provider: 'Reports', method: 'build' }, args: [], options: {} }, clock.now(), 'attacker');
    await store.saveDefinition({ name: 'proto', trigger: { every: 1_000 }, target: { provider: 'Reports', method: 'build' }, args: [JSON.parse('{"__proto__":{"polluted":1}}')], options: {} }, clock.now(), 'attacker');
    await clock.advanceAsync(3_000);
    expect(calls).not.toContain('dropEverything ran');
    expect(runsOf('good')).toEqual(['good:ok@1000', 'good:ok@2000', 'good:ok@3000']);
    const rejected = events.filter((e) => e.type === 'job.rejected');
    expect(rejected.map((e) => e.type === 'job.rejected' && [e.job, e.reason])).toEqual([
      ['corrupt', 'Invalid trigger for job "corrupt": "every second" must be an object with one of cron, every or at.'],
      ['evil', 'Job "evil" cannot target Reports.dropEverything: the method is not marked @JobHandler() nor scheduled with a decorator.'],
      ['proto', 'Invalid args[0].__proto__ for job "proto": "__proto__" is a key that JSON arguments may not use.'],
    ]);
    expect(registry.listJobs().map((job) => job.name)).toEqual(['good']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
