import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { Cron } from '../../lib';
import { SharedStoreApps, StoreKind } from './shared-store';

@Injectable()
class Nightly {
  /** Due once a day: in the minutes these tests cover, nothing runs. */
  @Cron('0 0 3 * * *', { name: 'nightly' })
  run() {}
}

/**
 * The instances of an application sharing a real store check in every `cluster.checkInMs`:
 * `SchedulerRegistry.instances()` lists them, and an idle instance costs the store no more calls
 * than before check-ins existed.
 */
describe.each<StoreKind>(['postgres', 'redis'])('instances on %s', (kind) => {
  let apps: SharedStoreApps;

  beforeEach(() => {
    apps = new SharedStoreApps(kind);
  });

  afterEach(async () => {
    await apps.close();
  });

  it('lists every live instance: id, host, pid, start, last check-in and the runs it has in flight', async () => {
    const a = await apps.start([Nightly], 'a');
    await apps.start([Nightly], 'b');
    await apps.advance(1_000);
    const listed = await a.registry.instances();
    expect(listed.map((instance) => instance.id)).toEqual(['a', 'b']);
    for (const instance of listed) {
      expect(instance).toEqual({
        id: instance.id,
        host: hostname(),
        pid: process.pid,
        startedAt: expect.any(Date),
        lastCheckIn: expect.any(Date),
        running: 0,
        runningJobs: [],
      });
      // The check-in is stamped by the store's clock; the start by the instance's.
      expect(Math.abs(instance.lastCheckIn.getTime() - Date.now())).toBeLessThan(60_000);
      expect(instance.startedAt.getTime()).toBe(apps.clock.now() - 1_000);
    }
  });

  it('costs an idle instance at most as many store calls a minute as before check-ins (36 with the default timing)', async () => {
    // Before, each 5 s (syncEveryMs): one sweep for expired leases and one read of the stored jobs and
    // paused flags (two calls): 36 calls a minute. Now one check-in every 2 s, which also sweeps, and
    // a read when the store changed, or every sixth sync (30 s) in case a row was written without
    // the revision.
    await apps.start([Nightly], 'idle', { cluster: {} });
    await apps.advance(5_000);
    const before = apps.calls.length;
    await apps.advance(60_000);
    const calls = apps.calls.slice(before);
    expect(calls.length).toBeLessThanOrEqual(36);
    expect(calls.filter((call) => call === 'recover')).toHaveLength(30);
    expect(calls.filter((call) => call === 'loadDefinitions')).toHaveLength(2);
  });
});
