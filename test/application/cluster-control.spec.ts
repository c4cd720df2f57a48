import { Injectable } from '@nestjs/common';
import { CronJob as CronPackageJob } from 'cron';
import { Cron, CronJob, CronTime, Interval, JobContext, JobHandler, RescheduleRefusedError, StoreUnavailableError } from '../../lib';
import { JobStore } from '../../lib/stores/job-store';
import { SharedStoreApp, SharedStoreApps, StoreKind, ticksRun } from './shared-store';

/**
 * Which control calls are cluster-wide and which are local, on the real stores: applications of
 * this process sharing a PostgreSQL schema or a Redis key prefix, on a virtual clock.
 *
 * Cluster-wide (in the store): `pauseJob`, `resumeJob`, persistent jobs. Local: `CronJob.stop()` /
 * `start()`, `disabled: true`, `pause()`. The periodic sync applies changes of the stored paused
 * flags, and nothing else: what an instance did for itself stays.
 */
@Injectable()
class Jobs {
  @Cron('* * * * * *', { name: 'disabled', disabled: true })
  disabled() {}

  @Cron('* * * * * *', { name: 'stopped' })
  stopped() {}

  /** Ticks that fall in a pause are missed and skipped: a resume runs nothing of them. */
  @Interval('control', 1_000, { misfire: { policy: 'skip', graceMs: 100 } })
  control() {}

  @Interval('local', 1_000, { scope: 'instance' })
  local() {}

  @JobHandler()
  report(_context: JobContext, _kind: string) {}
}

/** Makes the store's next `setPaused` fail, as a write during an outage does. */
function failNextSetPaused(store: JobStore, kind: StoreKind): void {
  const setPaused = store.setPaused;
  store.setPaused = () => {
    store.setPaused = setPaused;
    return Promise.reject(new StoreUnavailableError(kind, 'connection lost'));
  };
}

/** The periodic sync, once more on every application, now. */
const syncAll = (apps: SharedStoreApps) => Promise.all(apps.apps.map(({ scheduling }) => scheduling.persistent.sync()));

const union = (...lists: number[][]) => lists.flat().sort((x, y) => x - y);

describe.each<StoreKind>(['postgres', 'redis'])('control calls on %s', (kind) => {
  let apps: SharedStoreApps;
  let a: SharedStoreApp;
  let b: SharedStoreApp;

  beforeEach(async () => {
    apps = new SharedStoreApps(kind);
    a = await apps.start([Jobs], 'a');
    b = await apps.start([Jobs], 'b');
  });

  afterEach(async () => {
    await apps.close();
  });

  describe('local stays local', () => {
    it('a job started on one instance stays disabled on the others, and one stopped there stays stopped, through every sync', async () => {
      a.registry.getCronJob('disabled').start();
      void b.registry.getCronJob('stopped').stop();
      await apps.advance(3_500);
      await syncAll(apps);
      await apps.advance(1_000);
      expect(b.registry.getJob('disabled').paused).toBe(true);
      expect(b.registry.getJob('stopped').paused).toBe(true);
      expect(a.registry.getJob('stopped').paused).toBe(false);
      // Each runs once per tick, on the instance that runs it.
      expect(ticksRun(b, 'disabled')).toEqual([]);
      expect(ticksRun(a, 'disabled')).toEqual([1_000, 2_000, 3_000, 4_000]);
      expect(ticksRun(b, 'stopped')).toEqual([]);
      expect(ticksRun(a, 'stopped')).toEqual([1_000, 2_000, 3_000, 4_000]);
      expect(union(ticksRun(a, 'control'), ticksRun(b, 'control'))).toEqual([1_000, 2_000, 3_000, 4_000]);
    });

    it('pause() of the whole scheduler is this instance only: the other goes on claiming, and no sync resumes it', async () => {
      b.registry.pause();
      await apps.advance(2_500);
      await syncAll(apps);
      expect(ticksRun(b, 'control')).toEqual([]);
      expect(ticksRun(a, 'control')).toEqual([1_000, 2_000]);
      expect(b.events.filter((event) => event.type === 'scheduler.resumed')).toEqual([]);
    });
  });

  describe('pauseJob and resumeJob are cluster-wide', () => {
    it('reach every instance, and an instance that starts later finds the job paused', async () => {
      await a.registry.pauseJob('control');
      await apps.advance(2_500);
      expect(b.registry.getJob('control').paused).toBe(true);
      const c = await apps.start([Jobs], 'c');
      await apps.advance(1_000);
      expect(c.registry.getJob('control').paused).toBe(true);
      expect(union(ticksRun(a, 'control'), ticksRun(b, 'control'), ticksRun(c, 'control'))).toEqual([]);

      await a.registry.resumeJob('control');
      await apps.advance(2_000);
      expect([a, b, c].map((app) => app.registry.getJob('control').paused)).toEqual([false, false, false]);
      expect(union(ticksRun(a, 'control'), ticksRun(b, 'control'), ticksRun(c, 'control'))).toEqual([4_000, 5_000]);
    });

    it('a job paused for every instance does not run where CronJob.start() is called, until resumeJob', async () => {
      await a.registry.pauseJob('stopped');
      await apps.advance(500);
      b.registry.getCronJob('stopped').start();
      await apps.advance(2_000);
      await syncAll(apps);
      expect(union(ticksRun(a, 'stopped'), ticksRun(b, 'stopped'))).toEqual([]);
      await a.registry.resumeJob('stopped');
      await apps.advance(1_000);
      // Resumed at 2.5 s: the tick of 2 s, within the misfire grace, runs then; each tick once.
      expect(union(ticksRun(a, 'stopped'), ticksRun(b, 'stopped'))).toEqual([2_000, 3_000]);
    });

    it('a pause that cannot be written is undone here and rejects; no instance pauses, no sync changes anything', async () => {
      failNextSetPaused(a.store, kind);
      await expect(a.registry.pauseJob('control')).rejects.toThrow(StoreUnavailableError);
      expect(a.registry.getJob('control').paused).toBe(false);
      await apps.advance(2_500);
      await syncAll(apps);
      expect([a.registry.getJob('control').paused, b.registry.getJob('control').paused]).toEqual([false, false]);
      expect(union(ticksRun(a, 'control'), ticksRun(b, 'control'))).toEqual([1_000, 2_000]);
    });

    it('a resume that cannot be written is undone here and rejects: the job stays paused everywhere', async () => {
      await a.registry.pauseJob('control');
      await apps.advance(1_500);
      failNextSetPaused(a.store, kind);
      await expect(a.registry.resumeJob('control')).rejects.toThrow(StoreUnavailableError);
      expect(a.registry.getJob('control').paused).toBe(true);
      await apps.advance(2_000);
      await syncAll(apps);
      expect([a.registry.getJob('control').paused, b.registry.getJob('control').paused]).toEqual([true, true]);
      expect(union(ticksRun(a, 'control'), ticksRun(b, 'control'))).toEqual([]);
    });
  });

  describe('rescheduling with a shared store', () => {
    const refused = (name: string) =>
      `Cannot reschedule job "${name}" on this instance alone: with a shared store it is a cluster-wide job that each instance defines for itself`;

    it('a decorated job, a CronJob added on one instance, a job added without persist: refused with the reason, and nothing changes', async () => {
      const ours = new CronJob('*/2 * * * * *', () => undefined);
      const theirs = new CronPackageJob('*/2 * * * * *', () => undefined);
      a.registry.addCronJob('ours', ours);
      a.registry.addCronJob('theirs', theirs);
      await a.registry.addJob({ name: 'dynamic', trigger: { every: 2_000 }, handler: () => undefined });
      const names = ['control', 'stopped', 'ours', 'theirs', 'dynamic'];
      const triggers = () => names.map((name) => a.registry.getJob(name).trigger);
      const before = triggers();
      for (const name of names) {
        expect(() => a.registry.rescheduleJob(name, { every: 500 })).toThrow(RescheduleRefusedError);
        expect(() => a.registry.rescheduleJob(name, { every: 500 })).toThrow(refused(name));
      }
      expect(() => a.registry.getCronJob('stopped').setTime(new CronTime('*/5 * * * * *'))).toThrow(RescheduleRefusedError);
      expect(() => ours.setTime(new CronTime('*/5 * * * * *'))).toThrow(RescheduleRefusedError);
      expect(() => theirs.setTime(new CronTime('*/5 * * * * *') as never)).toThrow(RescheduleRefusedError);
      expect(triggers()).toEqual(before);
      expect(ours.cronTime.source).toBe('*/2 * * * * *');
      await apps.advance(2_500);
      expect(union(ticksRun(a, 'stopped'), ticksRun(b, 'stopped'))).toEqual([1_000, 2_000]);
    });

    it("a job of scope 'instance' is rescheduled here, and only here", async () => {
      await a.registry.rescheduleJob('local', { every: 500 });
      await apps.advance(2_000);
      expect(a.registry.getJob('local').trigger).toBe('every 500 ms');
      expect(b.registry.getJob('local').trigger).toBe('every 1000 ms');
      expect(ticksRun(a, 'local')).toEqual([500, 1_000, 1_500, 2_000]);
      expect(ticksRun(b, 'local')).toEqual([1_000, 2_000]);
    });

    it('a persistent job is rescheduled for every instance', async () => {
      await a.registry.addJob({ name: 'weekly', trigger: { every: 60_000 }, target: { provider: Jobs, method: 'report' }, args: ['csv'], persist: true });
      await apps.advance(1_000);
      await a.registry.rescheduleJob('weekly', { every: 30_000 });
      await apps.advance(1_000);
      expect([a.registry.getJob('weekly').trigger, b.registry.getJob('weekly').trigger]).toEqual(['every 30000 ms', 'every 30000 ms']);
    });
  });
});
