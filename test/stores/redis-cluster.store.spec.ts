import { Cluster } from 'ioredis';
import { StoreUnavailableError } from '../../lib';
import { REDIS_CLUSTER_SHARDS, RedisKeyspace } from '../../lib/stores/redis-keyspace';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { freePort } from '../support/servers';
import { clusterClient, deleteClusterKeys, keysByMaster, onNode } from '../support/redis-cluster-store';
import { OwnRedisCluster, keySlot, startRedisCluster } from '../support/redis-cluster';
import { uniqueName } from '../support/services';
import { claim, describeJobStore, finished } from './conformance';

/**
 * The Redis store on a Redis Cluster of three masters (each with a replica) that this file starts
 * on free ports: the whole conformance suite through an ioredis `Cluster` client, the layout of the
 * keys over the slots, and the `nodes` option.
 */
const TIMEOUT_MS = 60_000;

let cluster: OwnRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
}, TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, TIMEOUT_MS);

describeJobStore('RedisJobStore on a Redis Cluster', () => {
  const keyPrefix = `${uniqueName('metronome-test')}:`;
  const opened: Array<{ store: RedisJobStore; client: Cluster }> = [];
  return {
    open: async () => {
      const client = clusterClient(cluster);
      const store = new RedisJobStore({ client, keyPrefix });
      opened.push({ store, client });
      await store.connect();
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map(({ store }) => store.close()));
      for (const { client } of opened) client.disconnect();
      await deleteClusterKeys(cluster, keyPrefix);
    },
  };
});

describe('RedisJobStore on a Redis Cluster', () => {
  it('keeps the keys of each shard in one hash slot, the check-ins in the first, and spreads the shards over the masters', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ nodes: cluster.nodes, keyPrefix });
    await store.connect();
    const names = Array.from({ length: 200 }, (_, i) => `spread-${i}`);
    await store.register(names.map((name) => ({ name, anchor: 0, fingerprint: 'every 1000 ms' })));
    const outcomes = await store.claim('i1', [...names.map((name) => claim(name, 1_000)), claim('missing', 1_000)]);
    // Answered in the order asked, whatever shard each job is in.
    expect(outcomes.slice(0, -1).every((outcome) => outcome.status === 'won')).toBe(true);
    expect(outcomes.at(-1)).toEqual({ status: 'gone' });
    // A run's record goes to its job's shard.
    await store.recordRuns(names.map((name) => finished(name, 1_000)));
    await store.recover('i1', 60_000, new Set(names), {
      self: { id: 'i1', host: 'h', pid: 1, startedAt: 0, running: 0, runningJobs: [] },
      deadAfterMs: 60_000,
    });
    await store.close();

    const byMaster = await keysByMaster(cluster, keyPrefix);
    const keys = [...byMaster.values()].flat();
    // Every key is `<prefix>{shard}:…`.
    const shardOf = (key: string) => /^\{(\d+)\}:/.exec(key.slice(keyPrefix.length))?.[1];
    expect(keys.filter((key) => shardOf(key) === undefined)).toEqual([]);
    // Each job has one hash, in the slot of its shard's other keys.
    for (const name of names) {
      const own = keys.filter((key) => key.endsWith(`}:job:${name}`));
      expect(own).toHaveLength(1);
      const shard = `${keyPrefix}{${shardOf(own[0]!)}}:`;
      for (const key of ['names', 'leases', 'fencing', 'feed', `runs:${name}`]) {
        expect(keys).toContain(`${shard}${key}`);
        expect(keySlot(`${shard}${key}`)).toBe(keySlot(own[0]!));
      }
    }
    // One slot per shard, every shard used by 200 jobs; the check-ins in the first shard.
    const shards = new Set(keys.map(shardOf));
    expect(shards.size).toBe(REDIS_CLUSTER_SHARDS);
    expect(new Set(keys.map(keySlot)).size).toBe(REDIS_CLUSTER_SHARDS);
    expect(keys).toEqual(expect.arrayContaining([`${keyPrefix}{0}:checkins`, `${keyPrefix}{0}:instances`]));
    // Every master holds shards: the jobs are not all on one.
    expect([...byMaster.values()].map((own) => own.filter((key) => key.includes(':job:')).length).every((count) => count > 0)).toBe(true);
    await deleteClusterKeys(cluster, keyPrefix);
  });

  it('marks the runs started in the shards of their jobs only, when it is told them: one call, not one per shard', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ nodes: cluster.nodes, keyPrefix });
    await store.connect();
    await store.register([{ name: 'a', anchor: 0, fingerprint: 'every 1000 ms' }]);
    await store.claim('i1', [claim('a', 1_000, { ahead: true })]);
    expect(await store.startAll('i1', 1_000, ['a'])).toBe(true);
    const keys = [...(await keysByMaster(cluster, keyPrefix)).values()].flat();
    const jobShard = keys.find((key) => key.endsWith('}:job:a'))!.replace(/job:a$/, '');
    expect(keys.filter((key) => key.endsWith(':started'))).toEqual([`${jobShard}started`]);
    // Not told the jobs: every shard.
    expect(await store.startAll('i1', 1_000)).toBe(true);
    const after = [...(await keysByMaster(cluster, keyPrefix)).values()].flat();
    expect(after.filter((key) => key.endsWith(':started'))).toHaveLength(REDIS_CLUSTER_SHARDS);
    await store.close();
    await deleteClusterKeys(cluster, keyPrefix);
  });

  it('sweeps the shards that answer when one cannot be read: runs there are taken over; it fails only when no shard answers', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const keys = RedisKeyspace.cluster(keyPrefix);
    const client = clusterClient(cluster);
    const store = new RedisJobStore({ client, keyPrefix });
    await store.connect();
    await store.register([{ name: 'a', anchor: 0, fingerprint: 'every 1000 ms' }]);
    // A lease that ran out at once, of an at-least-once run: the sweep takes it over.
    await store.claim('i1', [claim('a', 1_000, { leaseMs: -1, delivery: 'at-least-once' })]);
    const self = { id: 'i2', host: 'h', pid: 1, startedAt: 0, running: 0, runningJobs: [] };
    // Another shard cannot be read (a key of the wrong type stands for a master failing over).
    const broken = keys.shards.find((prefix) => prefix !== keys.prefixOf('a') && prefix !== keys.control)!;
    await client.hset(`${broken}revision`, 'not', 'a number');
    const sweep = await store.recover('i2', 60_000, new Set(['a']), { self, deadAfterMs: 60_000 });
    expect(sweep.recovered).toEqual([expect.objectContaining({ job: 'a', tick: 1_000, attempt: 2, owner: 'i1' })]);
    // The check-in went through; the revision is not said, one shard's being unknown.
    expect(sweep.reaped).toBe(false);
    expect(sweep.revision).toBeUndefined();
    expect((await store.instances(60_000)).map((instance) => instance.id)).toEqual(['i2']);
    // No shard answers: the sweep fails.
    for (const prefix of keys.shards) await client.hset(`${prefix}revision`, 'not', 'a number');
    await expect(store.recover('i2', 60_000, new Set(['a']), { self, deadAfterMs: 60_000 })).rejects.toThrow(/WRONGTYPE/);
    await store.close();
    client.disconnect();
    await deleteClusterKeys(cluster, keyPrefix);
  });

  it('makes a Cluster client of its own from nodes, as { host, port } or host:port; the client learns the other nodes', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const [first, second] = cluster.nodes;
    for (const nodes of [[first!], [`${second!.host}:${second!.port}`]]) {
      const store = new RedisJobStore({ nodes, keyPrefix });
      await store.connect();
      const names = Array.from({ length: 50 }, (_, i) => `nodes-${i}`);
      const registered = await store.register(names.map((name) => ({ name, anchor: 7, fingerprint: 'every 1000 ms' })));
      expect(registered.map((row) => row?.anchor)).toEqual(names.map(() => 7));
      expect((await store.loadPaused()).size).toBe(50);
      await store.close();
    }
    await deleteClusterKeys(cluster, keyPrefix);
  });

  it('sends a script again to a master that does not know it (as a promoted replica does not)', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ nodes: cluster.nodes, keyPrefix });
    await store.connect();
    const names = Array.from({ length: 50 }, (_, i) => `flushed-${i}`);
    await store.register(names.map((name) => ({ name, anchor: 0, fingerprint: 'every 1000 ms' })));
    for (const master of await cluster.masters()) await onNode(master.port, (redis) => redis.script('FLUSH'));
    expect(
      (
        await store.claim(
          'i1',
          names.map((name) => claim(name, 1_000)),
        )
      ).every((outcome) => outcome.status === 'won'),
    ).toBe(true);
    await store.close();
    await deleteClusterKeys(cluster, keyPrefix);
  });

  it('refuses options that do not say where Redis is, or say it twice, and a prefix with a hash tag of its own', () => {
    const nodes = cluster.nodes;
    expect(() => new RedisJobStore({})).toThrow('give it a client, a url or the nodes of a Redis Cluster');
    expect(() => new RedisJobStore({ url: 'redis://127.0.0.1:6379', nodes })).toThrow('give it a url (one Redis server) or nodes (a Redis Cluster), not both');
    expect(() => new RedisJobStore({ nodes: [] })).toThrow('nodes must list at least one node');
    expect(() => new RedisJobStore({ nodes: ['redis://user:secret@127.0.0.1:7000'] })).toThrow(
      "nodes[0] is not a node of a Redis Cluster: give { host, port } or 'host:port'",
    );
    expect(() => new RedisJobStore({ url: 'redis://127.0.0.1:6379', clusterOptions: {} })).toThrow('clusterOptions go with nodes');
    expect(() => new RedisJobStore({ nodes, keyPrefix: '{app}:' })).toThrow(StoreUnavailableError);
    const client = clusterClient(cluster);
    expect(() => new RedisJobStore({ client, nodes })).toThrow('give it a client or nodes, not both');
    expect(() => new RedisJobStore({ client, keyPrefix: 'a{b}:' })).toThrow('holds { or }');
    client.disconnect();
  });

  it('names the startup nodes, never a password, when the cluster cannot be reached', async () => {
    const port = await freePort();
    const store = new RedisJobStore({ nodes: [{ host: '127.0.0.1', port }], clusterOptions: { redisOptions: { password: 'secret' } } });
    store.configure({ timeoutMs: 2_000, warn: () => undefined });
    const failure = await store.connect().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(String((failure as Error).message)).toContain(`cluster 127.0.0.1:${port}`);
    expect(String((failure as Error).message)).not.toContain('secret');
    await store.close();
  });
});
