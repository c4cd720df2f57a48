import { createHash } from 'node:crypto';
import { StoreUnavailableError } from '../errors';
import { loadDriver } from './driver';
import { ClaimOutcome, ExpiredRun, JobChange, JobStore, Lease, StoredJobDefinition, StoredJobState, TickClaim } from './job-store';

/** The parts of an `ioredis` client used here. */
export interface RedisLike {
  evalsha(sha: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  smembers(key: string): Promise<string[]>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  ping(): Promise<unknown>;
  duplicate(): RedisLike;
  quit(): Promise<unknown>;
  disconnect(): void;
  // ioredis types its listeners' arguments so; `unknown[]` would not accept its client.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
  status?: string;
  options?: { keyPrefix?: string };
}

/** Options of {@link RedisJobStore}: a client of yours, or a URL for clients of its own. */
export interface RedisJobStoreOptions {
  /** An `ioredis` client to use; it is not closed by the store (a duplicate listens for changes). */
  client?: RedisLike;
  /** A Redis URL, for clients the store makes (and closes). */
  url?: string;
  /** Prefix of every key, to keep several schedulers in one database. Default `metronome:`. */
  keyPrefix?: string;
}

/**
 * Each script takes the key prefix as its first argument and names its keys from it, so that the
 * whole batch of a wake-up is one call: the store suits a single Redis server (or a cluster slot).
 * Times come from Redis (`TIME`). A job is a hash under `<prefix>job:<name>`: a anchor, t
 * watermark, p paused, f fencing counter, d definition, and lo/lu/lt/lk/la/ld the lease (owner,
 * until, token, tick, attempt, delivery). `<prefix>names` holds every name, `<prefix>leases` the
 * lease expiries.
 */
const NOW = `local time = redis.call('TIME') local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

const SCRIPTS = {
  register: `
    local prefix = ARGV[1] local out = {}
    for i = 2, #ARGV, 2 do
      local key = prefix .. 'job:' .. ARGV[i]
      redis.call('HSETNX', key, 'a', ARGV[i + 1])
      redis.call('SADD', prefix .. 'names', ARGV[i])
      local row = redis.call('HMGET', key, 'a', 't', 'p')
      out[#out + 1] = row[1] out[#out + 1] = row[2] or '' out[#out + 1] = row[3] or '0'
    end
    return out`,
  // A key that is not a job's hash, or fields that are not numbers, make that claim 'gone' or count
  // as empty: one bad key must not fail the claims of every other job.
  claim: `
    local prefix = ARGV[1] local instance = ARGV[2] ${NOW} local claims = cjson.decode(ARGV[3]) local out = {} local leases = {}
    for i = 1, #claims, 4 do
      local name, at, leaseMs, mode = claims[i], claims[i + 1], claims[i + 2], claims[i + 3]
      local tick, exclusive, delivery = tonumber(at), string.sub(mode, 1, 1) == 'x', string.sub(mode, 2)
      local key = prefix .. 'job:' .. name
      local row = redis.pcall('HMGET', key, 'a', 't', 'p', 'lo', 'lu', 'ld', 'f')
      local last = type(row) == 'table' and tonumber(row[2])
      if type(row) ~= 'table' or row.err or not row[1] then out[#out + 1] = 'gone'
      elseif last and last >= tick then out[#out + 1] = 'lost'
      else
        -- A lease is taken while it lives, and after, while an at-least-once run waits to be taken over.
        local taken = row[4] and ((tonumber(row[5]) or 0) > now or row[6] == 'at-least-once')
        if row[3] == '1' then out[#out + 1] = 'paused' redis.call('HSET', key, 't', at)
        elseif exclusive and taken then out[#out + 1] = 'busy' redis.call('HSET', key, 't', at)
        else
          local token = (tonumber(row[7]) or 0) + 1
          if taken then redis.call('HSET', key, 't', at, 'f', token)
          else
            redis.call('HSET', key, 't', at, 'f', token, 'lo', instance, 'lu', now + leaseMs, 'lt', token, 'lk', at, 'la', 1, 'ld', delivery)
            leases[#leases + 1] = now + leaseMs leases[#leases + 1] = name
          end
          out[#out + 1] = token
        end
      end
    end
    -- The expiries go in at the end, a few thousand at a time (the most arguments a call takes).
    for i = 1, #leases, 4000 do redis.call('ZADD', prefix .. 'leases', unpack(leases, i, math.min(i + 3999, #leases))) end
    return cjson.encode(out)`,
  renew: `
    local prefix = ARGV[1] local instance = ARGV[2] local leaseMs = tonumber(ARGV[3]) ${NOW} local leases = cjson.decode(ARGV[4]) local out = {}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      local row = redis.call('HMGET', key, 'lo', 'lt')
      if row[1] == instance and row[2] == leases[i + 1] then
        redis.call('HSET', key, 'lu', now + leaseMs)
        redis.call('ZADD', prefix .. 'leases', now + leaseMs, leases[i])
        out[#out + 1] = 1
      else out[#out + 1] = 0 end
    end
    return out`,
  release: `
    local prefix = ARGV[1] local leases = cjson.decode(ARGV[2]) local ended = {}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      if redis.call('HGET', key, 'lt') == leases[i + 1] then
        redis.call('HDEL', key, 'lo', 'lu', 'lt', 'lk', 'la', 'ld')
        ended[#ended + 1] = leases[i]
      end
    end
    for i = 1, #ended, 4000 do redis.call('ZREM', prefix .. 'leases', unpack(ended, i, math.min(i + 3999, #ended))) end
    return 1`,
  recover: `
    local prefix = ARGV[1] local instance = ARGV[2] local leaseMs = tonumber(ARGV[3]) ${NOW} local out = {}
    for _, name in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'leases', '-inf', '(' .. now)) do
      local key = prefix .. 'job:' .. name
      local row = redis.pcall('HMGET', key, 'lo', 'lu', 'lt', 'lk', 'la', 'ld')
      if type(row) ~= 'table' or row.err or not row[1] then redis.call('ZREM', prefix .. 'leases', name)
      elseif (tonumber(row[2]) or 0) >= now then
      elseif row[6] == 'at-least-once' then
        local token = redis.call('HINCRBY', key, 'f', 1)
        local attempt = (tonumber(row[5]) or 1) + 1
        redis.call('HSET', key, 'lo', instance, 'lu', now + leaseMs, 'lt', token, 'la', attempt)
        redis.call('ZADD', prefix .. 'leases', now + leaseMs, name)
        out[#out + 1] = 'recovered' out[#out + 1] = name out[#out + 1] = row[4] or 0 out[#out + 1] = attempt out[#out + 1] = token out[#out + 1] = row[1]
      else
        redis.call('HDEL', key, 'lo', 'lu', 'lt', 'lk', 'la', 'ld')
        redis.call('ZREM', prefix .. 'leases', name)
        out[#out + 1] = 'abandoned' out[#out + 1] = name out[#out + 1] = row[4] or 0 out[#out + 1] = row[5] or 1 out[#out + 1] = row[3] or 0 out[#out + 1] = row[1]
      end
    end
    return out`,
  // Name, paused flag ('x' for a key that is not a job's hash) and definition of each job, or of
  // each job with a definition, or that cannot be read.
  rows: `
    local prefix = ARGV[1] local definitions = ARGV[2] == 'definitions' local out = {}
    for _, name in ipairs(redis.call('SMEMBERS', prefix .. 'names')) do
      local row = redis.pcall('HMGET', prefix .. 'job:' .. name, 'p', 'd')
      if type(row) ~= 'table' or row.err then out[#out + 1] = name out[#out + 1] = 'x' out[#out + 1] = ''
      elseif row[2] or not definitions then out[#out + 1] = name out[#out + 1] = row[1] or '0' out[#out + 1] = definitions and row[2] or '' end
    end
    return out`,
  setPaused: `
    local prefix = ARGV[1] local key = prefix .. 'job:' .. ARGV[2]
    if redis.call('EXISTS', key) == 0 then return 0 end
    redis.call('HSET', key, 'p', ARGV[3])
    redis.call('PUBLISH', prefix .. 'changes', ARGV[4])
    return 1`,
  remove: `
    local prefix = ARGV[1]
    if redis.call('DEL', prefix .. 'job:' .. ARGV[2]) == 0 then return 0 end
    redis.call('SREM', prefix .. 'names', ARGV[2])
    redis.call('ZREM', prefix .. 'leases', ARGV[2])
    redis.call('PUBLISH', prefix .. 'changes', ARGV[3])
    return 1`,
  save: `
    local prefix = ARGV[1] local key = prefix .. 'job:' .. ARGV[2]
    redis.call('HSETNX', key, 'a', ARGV[3])
    redis.call('HSET', key, 'd', ARGV[4])
    redis.call('SADD', prefix .. 'names', ARGV[2])
    redis.call('PUBLISH', prefix .. 'changes', ARGV[5])
    return 1`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
const SHAS = Object.fromEntries(Object.entries(SCRIPTS).map(([name, script]) => [name, createHash('sha1').update(script).digest('hex')])) as Record<
  ScriptName,
  string
>;

/**
 * A store on Redis (driver `ioredis`). A claim is one Lua script for every tick of a wake-up:
 * compare-and-advance of each job's watermark and its run's lease, atomically. Leases use the
 * server's clock. Changes are announced with pub/sub.
 */
export class RedisJobStore implements JobStore {
  readonly kind = 'redis';
  readonly shared = true;
  private readonly client: RedisLike;
  private readonly ownClient: boolean;
  private readonly prefix: string;
  private subscriber: RedisLike | null = null;

  constructor(options: RedisJobStoreOptions) {
    const prefix = options.keyPrefix ?? 'metronome:';
    if (!/^[A-Za-z0-9_:{}.-]{1,64}$/.test(prefix)) {
      throw new StoreUnavailableError('redis', `keyPrefix ${JSON.stringify(prefix)} is not a safe prefix (letters, digits and _ : { } . -, up to 64)`);
    }
    if (!options.client && !options.url) throw new StoreUnavailableError('redis', 'give it a client or a url');
    this.prefix = prefix;
    if (options.client) {
      if (options.client.options?.keyPrefix) {
        throw new StoreUnavailableError(
          'redis',
          `the client has a keyPrefix (${JSON.stringify(options.client.options.keyPrefix)}), which its scripts cannot see; give the prefix to RedisJobStore as keyPrefix instead`,
        );
      }
      this.client = options.client;
      this.ownClient = false;
    } else {
      const Redis = loadDriver<new (url: string, options: object) => RedisLike>('ioredis', 'redis');
      // Fail fast while disconnected: a claim that waits for the reconnection would run late.
      this.client = new Redis(options.url!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
      this.client.on('error', () => undefined);
      this.ownClient = true;
    }
  }

  async connect(): Promise<void> {
    // A client made with lazyConnect connects on its first command; the scripts are sent on first
    // use; there is nothing else to create.
    if (this.client.status === 'wait') await this.run(() => this.client.ping());
    await ready(this.client);
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    subscriber?.disconnect();
    if (this.ownClient) await this.client.quit().catch(() => this.client.disconnect());
  }

  async register(jobs: ReadonlyArray<{ name: string; anchor: number }>): Promise<StoredJobState[]> {
    if (jobs.length === 0) return [];
    const reply = (await this.script(
      'register',
      jobs.flatMap((job) => [job.name, job.anchor]),
    )) as string[];
    return jobs.map(({ name }, index) => ({
      name,
      anchor: Number(reply[index * 3]),
      lastTick: reply[index * 3 + 1] === '' ? null : Number(reply[index * 3 + 1]),
      paused: reply[index * 3 + 2] === '1',
    }));
  }

  async claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    if (claims.length === 0) return [];
    // A batch goes as one JSON argument and comes back as one JSON string: thousands of separate
    // arguments and replies cost more to encode and decode than the claims cost Redis.
    const args: Array<string | number> = [];
    for (const c of claims) args.push(c.job, String(c.tick), c.leaseMs, `${c.exclusive ? 'x' : 'o'}${c.delivery}`);
    const reply = JSON.parse((await this.script('claim', [instance, JSON.stringify(args)])) as string) as Array<string | number>;
    return reply.map((value) =>
      typeof value === 'number' ? { status: 'won', fencingToken: value } : { status: value as 'busy' | 'lost' | 'paused' | 'gone' },
    );
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const reply = (await this.script('renew', [instance, leaseMs, leasesJson(leases)])) as number[];
    return reply.map((held) => held === 1);
  }

  async release(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return;
    await this.script('release', [leasesJson(leases)]);
  }

  async recover(instance: string, leaseMs: number): Promise<{ recovered: ExpiredRun[]; abandoned: ExpiredRun[] }> {
    const reply = (await this.script('recover', [instance, leaseMs])) as Array<string | number>;
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
    for (let i = 0; i < reply.length; i += 6) {
      const run = {
        job: String(reply[i + 1]),
        tick: Number(reply[i + 2]),
        attempt: Number(reply[i + 3]),
        fencingToken: Number(reply[i + 4]),
        owner: String(reply[i + 5]),
      };
      (reply[i] === 'recovered' ? recovered : abandoned).push(run);
    }
    return { recovered, abandoned };
  }

  async setPaused(job: string, paused: boolean, origin: string): Promise<void> {
    await this.script('setPaused', [job, paused ? '1' : '0', JSON.stringify({ kind: paused ? 'paused' : 'resumed', job, origin })]);
  }

  async remove(job: string, origin: string): Promise<void> {
    await this.script('remove', [job, JSON.stringify({ kind: 'removed', job, origin })]);
  }

  async saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void> {
    await this.script('save', [definition.name, anchor, JSON.stringify(definition), JSON.stringify({ kind: 'saved', job: definition.name, origin })]);
  }

  async loadDefinitions(): Promise<Array<{ name: string; definition: unknown; paused: boolean }>> {
    return (await this.rows('definitions')).map(({ name, paused, definition }) => {
      if (definition === undefined) return { name, definition, paused };
      try {
        return { name, definition: JSON.parse(definition) as unknown, paused };
      } catch {
        // Left as it is: the caller rejects what is not a definition.
        return { name, definition, paused };
      }
    });
  }

  async loadPaused(): Promise<Map<string, boolean>> {
    return new Map((await this.rows('paused')).map(({ name, paused }) => [name, paused]));
  }

  async watch(listener: (change: JobChange) => void): Promise<() => Promise<void>> {
    const channel = `${this.prefix}changes`;
    // One subscriber at a time.
    this.subscriber?.disconnect();
    // A client in subscriber mode can do nothing else: listen on a duplicate. It resubscribes by itself after reconnecting.
    const subscriber = this.client.duplicate();
    subscriber.on('error', () => undefined);
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      try {
        listener(JSON.parse(message) as JobChange);
      } catch {
        // A message that is not ours is ignored.
      }
    });
    this.subscriber = subscriber;
    try {
      await ready(subscriber);
      await this.run(() => subscriber.subscribe(channel));
    } catch (error) {
      if (this.subscriber === subscriber) this.subscriber = null;
      subscriber.disconnect();
      throw error;
    }
    return async () => {
      if (this.subscriber === subscriber) this.subscriber = null;
      subscriber.disconnect();
    };
  }

  /**
   * Every job's paused flag, or only the jobs with a definition and their definition, in one call.
   * A key that cannot be read as a job's hash has no definition, for the caller to reject.
   */
  private async rows(which: 'definitions' | 'paused'): Promise<Array<{ name: string; paused: boolean; definition?: string }>> {
    const reply = (await this.script('rows', [which])) as string[];
    const rows: Array<{ name: string; paused: boolean; definition?: string }> = [];
    for (let i = 0; i < reply.length; i += 3) {
      const row = { name: reply[i], paused: reply[i + 1] === '1' };
      rows.push(which === 'definitions' && reply[i + 1] !== 'x' ? { ...row, definition: reply[i + 2] } : row);
    }
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Runs a script by its hash, sending it once when Redis does not know it yet. */
  private script(name: ScriptName, args: Array<string | number>): Promise<unknown> {
    return this.run(async () => {
      try {
        return await this.client.evalsha(SHAS[name], 0, this.prefix, ...args);
      } catch (error) {
        if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
        return this.client.eval(SCRIPTS[name], 0, this.prefix, ...args);
      }
    });
  }

  /** Runs a driver call; its failures become {@link StoreUnavailableError}. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError('redis', undefined, { cause: error });
    }
  }
}

/** Resolves once the client is connected; rejects with {@link StoreUnavailableError} after 10 s. */
function ready(client: RedisLike): Promise<void> {
  if (client.status === 'ready' || client.status === undefined) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new StoreUnavailableError('redis', 'it did not answer within 10 s'));
    }, 10_000);
    client.on('ready', onReady);
  });
}

/** Leases as one JSON argument: name, fencing token (as text, as the hash keeps it), name… */
function leasesJson(leases: readonly Lease[]): string {
  const flat: string[] = [];
  for (const lease of leases) flat.push(lease.job, String(lease.fencingToken));
  return JSON.stringify(flat);
}
