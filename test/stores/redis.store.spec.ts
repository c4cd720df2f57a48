import Redis from 'ioredis';
import { StoreUnavailableError } from '../../lib';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { REDIS_URL, uniqueName } from '../support/services';
import { describeJobStore } from './conformance';

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
    await store.register([{ name: 'a', anchor: 1 }]);
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
    await deleteKeys(keyPrefix);
  });

  it('reports a server it cannot reach as StoreUnavailableError', async () => {
    const store = new RedisJobStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' });
    await expect(store.register([{ name: 'a', anchor: 1 }])).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });
});
