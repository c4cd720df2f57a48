import Redis from 'ioredis';
import { StoreUnavailableError } from '../../lib';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { REDIS_URL, uniqueName } from '../support/services';
import { claim, describeJobStore, finished } from './conformance';

/** Deletes every key under a prefix. */
async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

describeJobStore('RedisJobStore', () => {
  const keyPrefix = `${uniqueName('metronome-test')}:`;
  const opened: RedisJobStore[] = [];
  return {
    open: async () => {
      const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
      opened.push(store);
      await store.connect();
      return store;
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()));
      await deleteKeys(keyPrefix);
    },
  };
});

describe('RedisJobStore', () => {
  it('refuses a key prefix with unsafe characters', () => {
    expect(() => new RedisJobStore({ url: REDIS_URL, keyPrefix: 'a b*' })).toThrow(StoreUnavailableError);
  });

  it('uses a client it is given, and leaves it open', async () => {
    const client = new Redis(REDIS_URL);
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ client, keyPrefix });
    await store.connect();
    await store.register([{ name: 'a', anchor: 1, fingerprint: 'every 1000 ms' }]);
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
    await deleteKeys(keyPrefix);
  });

  it('claims the other jobs of a batch when one key is corrupt or not a job at all', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
    await store.connect();
    await store.register([
      { name: 'good', anchor: 0, fingerprint: 'every 1000 ms' },
      { name: 'torn', anchor: 0, fingerprint: 'every 1000 ms' },
    ]);
    const redis = new Redis(REDIS_URL);
    await redis.hset(`${keyPrefix}job:torn`, 'lo', 'someone', 'lu', 'not a number');
    await redis.set(`${keyPrefix}job:string`, 'not a hash');
    await redis.sadd(`${keyPrefix}names`, 'string');
    const at1s = (job: string) => claim(job, 1_000);
    expect(await store.claim('i1', [at1s('string'), at1s('torn'), at1s('good')])).toEqual([
      { status: 'gone' },
      { status: 'won', fencingToken: 1, replaced: { tick: 0, attempt: 1, owner: 'someone' } },
      { status: 'won', fencingToken: 1 },
    ]);
    expect(await store.recover('i1', 60_000, new Set(['string', 'torn', 'good']))).toEqual({ recovered: [], abandoned: [], more: false });
    expect((await store.loadDefinitions()).map((row) => row.name)).toEqual(['string']);
    await store.close();
    await redis.quit();
    await deleteKeys(keyPrefix);
  });

  it('does not take for unstarted a run that a version without start marks claimed after a lease claimed ahead', async () => {
    // Rolling deploy: a lease claimed ahead ran out unstarted; an older version gave it up (clearing
    // the lease fields it knows) and claimed the next tick, which it ran. Its lease is not unstarted:
    // when it runs out, it is given up (at-most-once), not taken over and run a second time.
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
    await store.connect();
    await store.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    expect(await store.claim('new', [claim('job', 1_000, { ahead: true })])).toEqual([{ status: 'won', fencingToken: 1 }]);
    const redis = new Redis(REDIS_URL);
    const key = `${keyPrefix}job:job`;
    await redis.hdel(key, 'lo', 'lu', 'lt', 'lk', 'lf', 'la', 'ld', 'lh');
    await redis.hset(key, 't', 2_000, 'f', 2, 'lo', 'old', 'lu', 1, 'lt', 2, 'lk', 2_000, 'lf', 2_000, 'la', 1, 'ld', 'at-most-once', 'lh', '0');
    await redis.zadd(`${keyPrefix}leases`, 1, 'job');
    const sweep = await store.recover('new', 60_000, new Set(['job']));
    expect(sweep.recovered).toEqual([]);
    expect(sweep.abandoned).toEqual([{ job: 'job', tick: 2_000, from: 2_000, attempt: 1, fencingToken: 2, previousToken: 2, owner: 'old' }]);
    await store.close();
    await redis.quit();
    await deleteKeys(keyPrefix);
  });

  it("reports a tick queued behind a lease that a version without cluster-wide 'queue' released, as the next claim clears it", async () => {
    // Rolling deploy: this version queued tick 2000 behind the lease of tick 1000; the older
    // version that held that lease released it, clearing only the lease fields it knows, so the
    // queued tick was not handed on. The next claim wins its own tick and says tick 2000 went.
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
    await store.connect();
    await store.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    expect(await store.claim('old', [claim('job', 1_000)])).toEqual([{ status: 'won', fencingToken: 1 }]);
    expect(await store.claim('new', [claim('job', 2_000, { queue: true })])).toEqual([{ status: 'queued' }]);
    const redis = new Redis(REDIS_URL);
    await redis.hdel(`${keyPrefix}job:job`, 'lo', 'lu', 'lt', 'lk', 'lf', 'la', 'ld', 'lh');
    await redis.zrem(`${keyPrefix}leases`, 'job');
    expect(await store.claim('new', [claim('job', 3_000, { queue: true })])).toEqual([{ status: 'won', fencingToken: 2, droppedQueued: 2_000 }]);
    expect(await redis.hget(`${keyPrefix}job:job`, 'qk')).toBeNull();
    // Said once: the claim after it reports nothing more.
    await store.release([{ job: 'job', fencingToken: 2 }]);
    expect(await store.claim('new', [claim('job', 4_000, { queue: true })])).toEqual([{ status: 'won', fencingToken: 3 }]);
    await store.close();
    await redis.quit();
    await deleteKeys(keyPrefix);
  });

  it('refuses a client with a keyPrefix of its own, and connects a lazy client', async () => {
    const prefixed = new Redis(REDIS_URL, { keyPrefix: 'app:', lazyConnect: true });
    expect(() => new RedisJobStore({ client: prefixed })).toThrow('the client has a keyPrefix ("app:")');
    prefixed.disconnect();
    const lazy = new Redis(REDIS_URL, { lazyConnect: true });
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ client: lazy, keyPrefix });
    await store.connect();
    expect(await store.register([{ name: 'a', anchor: 1, fingerprint: 'every 1000 ms' }])).toEqual([{ name: 'a', anchor: 1, lastTick: null, paused: false }]);
    await store.close();
    lazy.disconnect();
    await deleteKeys(keyPrefix);
  });

  it("records nothing, and fails nothing, where a job's history key is not a list or the feed not a stream; skips history entries it cannot read", async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ url: REDIS_URL, keyPrefix });
    await store.connect();
    await store.register([{ name: 'job', anchor: 0, fingerprint: 'every 1000 ms' }]);
    const redis = new Redis(REDIS_URL);
    await redis.set(`${keyPrefix}runs:job`, 'not a list');
    await redis.set(`${keyPrefix}feed`, 'not a stream');
    await store.recordRuns([finished('job', 1_000)]);
    expect(await store.runHistory('job', 10)).toEqual([]);
    await redis.del(`${keyPrefix}feed`);
    // Written by another version, or damaged: left out.
    await redis.del(`${keyPrefix}runs:job`);
    await redis.lpush(`${keyPrefix}runs:job`, JSON.stringify({ j: 'job', o: 'succeeded', s: 1_000, t: 1_001, d: 1, a: 1 }), '{"later":"format"}', 'not json');
    expect(await store.runHistory('job', 10)).toEqual([
      { job: 'job', instance: '', scheduledAt: 1_000, startedAt: 1_001, durationMs: 1, attempt: 1, outcome: 'succeeded' },
    ]);
    await store.close();
    await redis.quit();
    await deleteKeys(keyPrefix);
  });

  it('refuses a historySize that is not a whole number from 0 to 1000, naming it', () => {
    expect(() => new RedisJobStore({ url: REDIS_URL, historySize: 1_001 })).toThrow(
      'The job store (redis) is unavailable: historySize 1001 is not a whole number from 0 to 1000',
    );
  });

  it('writes no run when its historySize is 0', async () => {
    const keyPrefix = `${uniqueName('metronome-test')}:`;
    const store = new RedisJobStore({ url: REDIS_URL, keyPrefix, historySize: 0 });
    await store.connect();
    await store.recordRuns([finished('job', 1_000)]);
    const redis = new Redis(REDIS_URL);
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([]);
    await store.close();
    await redis.quit();
  });

  it('reports a server it cannot reach as StoreUnavailableError', async () => {
    const store = new RedisJobStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' });
    await expect(store.register([{ name: 'a', anchor: 1, fingerprint: 'every 1000 ms' }])).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
});
