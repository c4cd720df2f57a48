import Redis from 'ioredis';
import { StoreUnavailableError } from '../../lib';
import { JobChange } from '../../lib/stores/job-store';
import { RedisJobStore } from '../../lib/stores/redis.store';
import { OwnServer, freePort, ownRedis } from '../support/servers';
import { REDIS_URL, uniqueName } from '../support/services';
import { StallProxy, hostAndPort, through } from '../support/stall-proxy';

/**
 * Connecting to Redis fails fast and says where, the server's eviction policy is checked, and the
 * subscription to changes is kept up. The shared server only behind a proxy that can go silent;
 * whatever changes a server's configuration or users runs on a server of the test's own.
 */
const TIMEOUT_MS = 400;

type Failure = StoreUnavailableError & { cause?: { code?: string; message?: string } };

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (error) {
    return error as Failure;
  }
  throw new Error('it did not fail');
}

/** Waits until `check` holds, polling; false if it still does not after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000, every?: () => Promise<unknown>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await every?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** A store on a client of its own (`url`), or on a client it is given, as users often make one (it reconnects forever). */
function openStore(kind: 'own client' | 'given client', url: string, keyPrefix = `${uniqueName('metronome-connect')}:`) {
  const warnings: string[] = [];
  const client = kind === 'given client' ? new Redis(url, { lazyConnect: true, enableOfflineQueue: false }) : undefined;
  client?.on('error', () => undefined);
  const store = new RedisJobStore(client ? { client, keyPrefix } : { url, keyPrefix });
  store.configure({ timeoutMs: TIMEOUT_MS, warn: (message) => warnings.push(message) });
  return { store, client, warnings, keyPrefix };
}

describe.each(['own client', 'given client'] as const)('RedisJobStore connecting on its %s', (kind) => {
  it('fails at the first refusal, naming host and port but no password', async () => {
    const port = await freePort();
    const { store, client } = openStore(kind, `redis://someone:hunter2@127.0.0.1:${port}`);
    // A time limit it would not reach: the refusal itself ends the wait.
    store.configure({ timeoutMs: 60_000, warn: () => undefined });

    const error = await failure(store.connect());
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.cause?.code).toBe('ECONNREFUSED');
    expect(error.message).toContain(`(at 127.0.0.1:${port})`);
    expect(error.message).not.toContain('hunter2');
    await store.close();
    client?.disconnect();
  });

  it('fails within its time limit when the server accepts but never answers, and connects once it answers', async () => {
    const proxy = await StallProxy.start(hostAndPort(REDIS_URL, 6379));
    proxy.stalled = true;
    const { store, client } = openStore(kind, through(REDIS_URL, proxy));

    const error = await failure(store.connect());
    expect(error.message).toContain(`no connection within ${TIMEOUT_MS} ms (at 127.0.0.1:${proxy.port})`);

    proxy.stalled = false;
    // Its own client drops the stalled connection for a fresh one; a client given is the user's, cut here as a network would.
    if (client) proxy.cut();
    expect(
      await eventually(() =>
        store.connect().then(
          () => true,
          () => false,
        ),
      ),
    ).toBe(true);
    await store.close();
    client?.disconnect();
    await proxy.close();
  });
});

describe('RedisJobStore on a server of its own', () => {
  let server: OwnServer;
  let admin: Redis;

  beforeAll(async () => {
    server = await ownRedis();
    admin = new Redis(server.url);
  }, 60_000);

  afterAll(async () => {
    await admin.quit();
    server.destroy();
  });

  /** The connections the server has besides the admin's. */
  const otherConnections = async () =>
    String(await admin.client('LIST'))
      .trim()
      .split('\n').length - 1;

  it('warns once, through what the application gave it, when Redis may evict its keys', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const { store, warnings } = openStore('own client', server.url);
    await store.connect();
    await store.connect();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Redis at ${server.url.replace('redis://', '')} has maxmemory-policy allkeys-lru`);
    expect(warnings[0]).toContain('Set maxmemory-policy to noeviction');
    await store.close();

    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    const quiet = openStore('given client', server.url);
    await quiet.store.connect();
    expect(quiet.warnings).toEqual([]);
    await quiet.store.close();
    quiet.client!.disconnect();
  });

  it('says nothing, and connects, where CONFIG is refused (as on managed Redis)', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await admin.acl('SETUSER', 'managed', 'on', '>pw', '~*', '&*', '+@all', '-config');
    const { store, warnings } = openStore('own client', server.url.replace('redis://', 'redis://managed:pw@'));
    await store.connect();
    await store.register([{ name: 'a', anchor: 0, fingerprint: 'every 1000 ms' }]);
    expect(warnings).toEqual([]);
    await store.close();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
  });

  it('tries a refused subscription again, and subscribes again after losing its connection', async () => {
    await admin.acl('SETUSER', 'watcher', 'reset', 'on', '>pw', '~*', '+@all', 'resetchannels');
    const { store, keyPrefix } = openStore('own client', server.url.replace('redis://', 'redis://watcher:pw@'));
    const heard: JobChange[] = [];
    const announce = () => admin.publish(`${keyPrefix}changes`, JSON.stringify({ kind: 'paused', job: 'a', origin: 'other' }));
    await store.connect();
    // Refused: no channel is allowed to this user yet.
    await store.watch((change) => heard.push(change));
    await announce();
    expect(heard).toEqual([]);

    await admin.acl('SETUSER', 'watcher', 'allchannels');
    expect(await eventually(() => heard.length > 0, 15_000, announce)).toBe(true);
    expect(heard[0]).toEqual({ kind: 'paused', job: 'a', origin: 'other' });

    // The connection is lost, and the subscription refused again after reconnecting, then allowed.
    await admin.acl('SETUSER', 'watcher', 'resetchannels');
    await admin.client('KILL', 'USER', 'watcher');
    heard.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    await announce();
    expect(heard).toEqual([]);
    await admin.acl('SETUSER', 'watcher', 'allchannels');
    expect(await eventually(() => heard.length > 0, 15_000, announce)).toBe(true);

    await store.close();
    expect(await eventually(async () => (await otherConnections()) === 0)).toBe(true);
  }, 60_000);

  it('leaves no connection behind at close, however many subscriptions, even one still being made', async () => {
    const { store } = openStore('own client', server.url);
    await store.connect();
    await store.watch(() => undefined);
    await store.watch(() => undefined);
    const third = store.watch(() => undefined);
    await store.close();
    await third;
    expect(await eventually(async () => (await otherConnections()) === 0)).toBe(true);
    // Given time to connect, had anything been left to.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await otherConnections()).toBe(0);
  });
});
