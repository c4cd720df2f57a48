import { Cluster } from 'ioredis';
import { CLUSTER_SLOTS, ClusterMaster, OwnRedisCluster, keyInSlot, keySlot, startRedisCluster } from '../support/redis-cluster';
import { onNode } from '../support/redis-cluster-store';

/**
 * The Redis Cluster harness (test/support/redis-cluster.ts) gives what the cluster tests of the
 * Redis store need: three masters with a replica each, an ioredis `Cluster` client that writes in
 * every master's slots, scripts on the keys of one hash tag, and a failover after which the client
 * writes on. Outcomes only: how long the cluster takes to form or to fail over is not asserted.
 */
const TIMEOUT_MS = 60_000;

/** The master among `masters` that serves `slot`. */
function masterOf(masters: ClusterMaster[], slot: number): ClusterMaster | undefined {
  return masters.find((master) => master.slots.some(([from, to]) => from <= slot && slot <= to));
}

describe('a Redis Cluster of the tests’ own', () => {
  let cluster: OwnRedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    client = new Cluster(cluster.nodes);
    client.on('error', () => undefined);
  }, TIMEOUT_MS);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  }, TIMEOUT_MS);

  it('has three masters with a replica each, serving every slot between them', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    expect(masters.map((master) => master.replicas.length)).toEqual([1, 1, 1]);
    expect(masters.flatMap((master) => master.slots).reduce((sum, [from, to]) => sum + to - from + 1, 0)).toBe(CLUSTER_SLOTS);
    expect(cluster.nodes).toHaveLength(6);
    expect(new Set(cluster.nodes.map(({ port }) => port)).size).toBe(6);
  });

  it('computes the slot of a key as the servers do, hash tags included', async () => {
    const keys = ['123456789', 'metronome:job:a', '{tag}:a', '{tag}:b', 'a{}b', '{}{tag}', 'x{tag', 'héllo', ...Array.from({ length: 50 }, (_, i) => `k${i}`)];
    const slots = await onNode(cluster.nodes[0]!.port, (redis) => Promise.all(keys.map((key) => redis.cluster('KEYSLOT', key))));
    expect(keys.map(keySlot)).toEqual(slots);
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('{tag}:a')).toBe(keySlot('{tag}:b'));
  });

  it('writes and reads keys in the slots of every master', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `harness:${i}`);
    await Promise.all(keys.map((key) => client.set(key, key)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);

    const masters = await cluster.masters();
    const perMaster = masters.map((master) => keys.filter((key) => masterOf(masters, keySlot(key)) === master).length);
    expect(perMaster.every((count) => count > 0)).toBe(true);
    // Each key is on the master that serves its slot, not only somewhere in the cluster.
    for (const master of masters) {
      const own = keys.filter((key) => masterOf(masters, keySlot(key)) === master);
      // One key at a time: a node refuses keys of several slots in one command (CROSSSLOT).
      expect(await onNode(master.port, (redis) => Promise.all(own.map((key) => redis.exists(key))))).toEqual(own.map(() => 1));
    }
  });

  it('runs a script on the keys of one hash tag, and refuses one on keys of several slots', async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[2]); return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";
    expect(await client.eval(script, 2, '{tag}:a', '{tag}:b', 'one', 'two')).toEqual(['one', 'two']);
    expect(await client.mget('{tag}:a', '{tag}:b')).toEqual(['one', 'two']);

    const [a, b] = ['harness:script:a', 'harness:script:b'];
    expect(keySlot(a)).not.toBe(keySlot(b));
    await expect(client.eval(script, 2, a, b, 'one', 'two')).rejects.toThrow(/CROSSSLOT/);
  });

  it('fails a master over to its replica, keeping what it had replicated, and the client writes on', async () => {
    const before = await cluster.masters();
    const victim = before[0]!;
    const slot = victim.slots[0]![0];
    const key = keyInSlot(slot, 'harness:failover');
    await client.set(key, 'before');
    // Replication is asynchronous: wait until the replica has the write, so that it must survive.
    expect(await onNode(victim.port, (redis) => redis.wait(1, 5_000))).toBe(1);

    const { stopped, promoted } = await cluster.failover(victim.port);
    expect(stopped).toBe(victim.port);
    expect(victim.replicas).toContain(promoted);

    const after = await cluster.masters();
    expect(after.map((master) => master.port)).not.toContain(stopped);
    expect(masterOf(after, slot)?.port).toBe(promoted);
    expect(cluster.running().map(({ port }) => port)).not.toContain(stopped);

    expect(await client.get(key)).toBe('before');
    await client.set(key, 'after');
    expect(await onNode(promoted, (redis) => redis.get(key))).toBe('after');
    const keys = Array.from({ length: 100 }, (_, i) => `harness:after:${i}`);
    await Promise.all(keys.map((k) => client.set(k, k)));
    expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys);
    expect(await client.eval("return redis.call('INCR', KEYS[1])", 1, '{tag}:counter')).toBe(1);
  });

  it('takes a failed master back as a replica of the node that took over', async () => {
    // The node the failover test stopped.
    const running = new Set(cluster.running().map(({ port }) => port));
    const port = cluster.nodes.map((node) => node.port).find((candidate) => !running.has(candidate));
    if (port === undefined) throw new Error('the failover test stopped no node');
    await cluster.restart(port);
    const masters = await cluster.masters();
    expect(masters.map((master) => master.port)).not.toContain(port);
    expect(masters.flatMap((master) => master.replicas)).toContain(port);
    expect(masters.map((master) => master.replicas.length)).toEqual([1, 1, 1]);
  });
});
