import Redis, { Cluster } from 'ioredis';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { close, OwnRedisCluster } from './redis-cluster';

/**
 * The Redis store on a Redis Cluster of the tests' own (test/support/redis-cluster.ts): clients
 * as an application would make them, the keys of a prefix on every master, and a direct
 * connection to one node for what a `Cluster` client would route elsewhere.
 */

/** A `Cluster` client as an application would give the store: fails fast, reconnects by itself. */
export function clusterClient(cluster: OwnRedisCluster): Cluster {
  const client = new Cluster(cluster.nodes, { enableOfflineQueue: false, lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => undefined);
  return client;
}

/** A direct connection to the node on `port`, that does not retry. */
export async function onNode<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    close(redis);
  }
}

/** Every key under `prefix` on each master that runs, by master port. */
export async function keysByMaster(cluster: OwnRedisCluster, prefix: string): Promise<Map<number, string[]>> {
  const found = new Map<number, string[]>();
  for (const master of await cluster.masters()) {
    found.set(master.port, await onNode(master.port, (redis) => redis.keys(`${prefix}*`)));
  }
  return found;
}

/** Deletes every key under `prefix`, one key at a time (a command may not name keys of several slots). */
export async function deleteClusterKeys(cluster: OwnRedisCluster, prefix: string): Promise<void> {
  for (const [port, keys] of await keysByMaster(cluster, prefix)) {
    await onNode(port, async (redis) => {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.unlink(key);
      await pipeline.exec();
    });
  }
}

/** A store on the cluster through a `Cluster` client of its own (`nodes`), connected. */
export async function openClusterStore(cluster: OwnRedisCluster, keyPrefix: string): Promise<RedisJobStore> {
  const store = new RedisJobStore({ nodes: cluster.nodes, keyPrefix });
  await store.connect();
  return store;
}
