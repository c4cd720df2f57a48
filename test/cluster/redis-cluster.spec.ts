import { systemClock } from '../../lib/engine/clock';
import { RedisKeyspace } from '../../lib/stores/redis-keyspace';
import { CronTrigger } from '../../lib/triggers/cron.trigger';
import { deleteClusterKeys, onNode, openClusterStore } from '../support/redis-cluster-store';
import { OwnRedisCluster, keySlot, startRedisCluster } from '../support/redis-cluster';
import { uniqueName } from '../support/services';
import { InProcessCluster, Member, StoreNamespace } from './in-process';

/**
 * Three instances of this process on the Redis store over a Redis Cluster of three masters, each
 * with a replica, that this file starts on free ports. Real time: 30 jobs every second for a few
 * seconds, every tick counted. Counts are asserted, never speed.
 */
const TIMEOUT_MS = 120_000;
const JOBS = Array.from({ length: 30 }, (_, i) => `rc-${i}`);
const everySecond = (name: string) => CronTrigger.create(name, '* * * * * *', { timeZone: 'UTC' });
// Short leases and check-ins, so that a run caught in the failover is taken over within the test.
const TIMING = { cluster: { leaseMs: 3_000, checkInMs: 1_000, syncEveryMs: 2_000, timeoutMs: 2_000 } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let redis: OwnRedisCluster;
let current: InProcessCluster | undefined;

beforeAll(async () => {
  redis = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2_000 });
}, TIMEOUT_MS);

afterEach(async () => {
  await current?.stop();
  current = undefined;
}, TIMEOUT_MS);

afterAll(async () => {
  await redis?.stop();
}, TIMEOUT_MS);

/** Three instances with every job, started. */
async function threeInstances(keyPrefix: string): Promise<{ cluster: InProcessCluster; members: Member[] }> {
  const namespace: StoreNamespace = { open: () => openClusterStore(redis, keyPrefix), drop: () => deleteClusterKeys(redis, keyPrefix) };
  const cluster = (current = new InProcessCluster(namespace, systemClock));
  const members = [await cluster.member('a', TIMING), await cluster.member('b', TIMING), await cluster.member('c', TIMING)];
  for (const member of members) {
    for (const name of JOBS) member.add(name, everySecond(name));
    member.scheduler.start();
  }
  return { cluster, members };
}

/**
 * Each job's ticks from `from` to `to` (whole seconds), against what the instances did: ticks run
 * more than once (anywhere, at any time), and ticks not run that no instance reported (missed,
 * lost or skipped).
 */
function account(cluster: InProcessCluster, from: number, to: number) {
  const duplicates: string[] = [];
  const unaccounted: string[] = [];
  let expected = 0;
  let ran = 0;
  const reported = new Set<string>();
  for (const event of cluster.events('run.missed')) {
    for (let tick = event.scheduledAt.getTime(); tick <= event.lastScheduledAt.getTime(); tick += 1_000) reported.add(`${event.job}@${tick}`);
  }
  for (const event of [...cluster.events('run.lost'), ...cluster.events('run.skipped')]) reported.add(`${event.job}@${event.scheduledAt.getTime()}`);
  for (const job of JOBS) {
    const counts = new Map<number, number>();
    for (const tick of cluster.ticks(job)) counts.set(tick, (counts.get(tick) ?? 0) + 1);
    for (const [tick, count] of counts) if (count > 1) duplicates.push(`${job}@${new Date(tick).toISOString()} ×${count}`);
    for (let tick = Math.ceil(from / 1_000) * 1_000; tick <= to; tick += 1_000) {
      expected += 1;
      if (counts.has(tick)) ran += 1;
      else if (!reported.has(`${job}@${tick}`)) unaccounted.push(`${job}@${new Date(tick).toISOString()}`);
    }
  }
  return { duplicates, unaccounted, expected, ran };
}

describe('three instances on a Redis Cluster', () => {
  it(
    'run every tick of every job exactly once',
    async () => {
      const startedAt = Date.now();
      const { cluster, members } = await threeInstances(`${uniqueName('metronome-rc')}:`);
      await sleep(5_500);
      const stoppedAt = Date.now();
      await cluster.stop();
      // From the first whole second after start-up to a second before the stop (a tick claimed ahead then is handed back).
      const { duplicates, unaccounted, expected, ran } = account(cluster, startedAt + 1_000, stoppedAt - 1_000);
      expect(duplicates).toEqual([]);
      expect(unaccounted).toEqual([]);
      expect(expected).toBeGreaterThanOrEqual(JOBS.length * 3);
      // A tick reported missed is allowed (a busy machine), but not many.
      expect(ran).toBeGreaterThanOrEqual(expected * 0.9);
      // The ticks are shared out over the instances.
      for (const member of members) expect(cluster.runs.filter((run) => run.instance === member.id).length).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    'go on through the failover of a master: runs on the promoted replica, no tick twice, every tick not run reported',
    async () => {
      const keyPrefix = `${uniqueName('metronome-rc')}:`;
      const keys = RedisKeyspace.cluster(keyPrefix);
      const victim = (await redis.masters()).find((master) => master.replicas.length > 0)!;
      const onVictim = (job: string) => victim.slots.some(([from, to]) => from <= keySlot(keys.prefixOf(job)) && keySlot(keys.prefixOf(job)) <= to);
      const victimJobs = JOBS.filter(onVictim);
      // Jobs on the master that fails, and on the others.
      expect(victimJobs.length).toBeGreaterThan(0);
      expect(victimJobs.length).toBeLessThan(JOBS.length);

      const startedAt = Date.now();
      const { cluster } = await threeInstances(keyPrefix);
      await sleep(3_000);
      const { stopped, promoted } = await redis.failover(victim.port);
      expect(stopped).toBe(victim.port);
      const failedOverAt = Date.now();
      await sleep(6_000);
      const stoppedAt = Date.now();
      await cluster.stop();

      const { duplicates, unaccounted, ran } = account(cluster, startedAt + 1_000, stoppedAt - 1_000);
      expect(duplicates).toEqual([]);
      // Every tick not run was reported (missed, lost or skipped), through the failover too.
      expect(unaccounted).toEqual([]);
      expect(ran).toBeGreaterThan(0);
      // After the failover, the jobs of the failed master ran their ticks on the promoted replica,
      // which knew none of the scripts: each was sent again after a NOSCRIPT.
      const after = cluster.runs.filter((run) => run.tick >= failedOverAt + 1_000 && run.tick <= stoppedAt - 1_000);
      for (const job of victimJobs) expect(after.filter((run) => run.job === job).length).toBeGreaterThanOrEqual(3);
      const stats = await onNode(promoted, async (node) => `${await node.info('errorstats')}\n${await node.info('commandstats')}`);
      expect(stats).toMatch(/errorstat_NOSCRIPT:count=[1-9]/);
      expect(stats).toMatch(/cmdstat_eval:calls=[1-9]/);
    },
    TIMEOUT_MS,
  );
});
