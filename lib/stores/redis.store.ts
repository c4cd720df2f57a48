import { createHash } from 'node:crypto';
import { StoreUnavailableError } from '../errors';
import { Backoff } from '../engine/backoff';
import { BATCH_SIZE, MAX_SWEEP_PAGES } from './batches';
import { cancel, later, loadDriver, MAX_DELAY_MS, unavailable, within } from './driver';
import {
  CheckIn,
  DEAD_REMEMBERED_MS,
  FinishedRun,
  historySizeOption,
  newestOfEachJob,
  readRun,
  RUN_FEED_MAX,
  RunPage,
  ClaimOutcome,
  ExpiredRun,
  HandedBackRun,
  instanceRecord,
  InstanceRecord,
  JobChange,
  JobRegistration,
  JobSet,
  JobStore,
  Lease,
  StoredJobDefinition,
  StoredJobState,
  Sweep,
  TickClaim,
} from './job-store';
import { RedisKeyspace } from './redis-keyspace';

/** The commands and events of an `ioredis` client, `Redis` or `Cluster`, used here. */
export interface RedisCommands {
  evalsha(sha: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  smembers(key: string): Promise<string[]>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  ping(): Promise<unknown>;
  /** Connects a client that is not connected (made with `lazyConnect`, or given up on). */
  connect?(): Promise<unknown>;
  /** `CONFIG GET`, to check `maxmemory-policy`. */
  config?(subcommand: 'GET', parameter: string): Promise<unknown>;
  quit(): Promise<unknown>;
  /** Closes the connection; with `reconnect`, opens a new one. */
  disconnect(reconnect?: boolean): void;
  // ioredis types its listeners' arguments so; `unknown[]` would not accept its client.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
  status?: string;
}

/** The parts of an `ioredis` client (`Redis`) used here. */
export interface RedisLike extends RedisCommands {
  /** A new client with the same options, and `override`. */
  duplicate(override?: Record<string, unknown>): RedisLike;
  /** `false` on a `Redis` client. */
  isCluster?: boolean;
  /** Its prefix, which the store refuses, and where it connects, to name the server in messages. */
  options?: { keyPrefix?: string; host?: string; port?: number; path?: string; db?: number };
}

/** A node of a Redis Cluster: `{ host, port }`, or `'host:port'`. */
export type RedisClusterNode = { host: string; port: number } | string;

/** The parts of an `ioredis` `Cluster` client used here. */
export interface RedisClusterLike extends RedisCommands {
  /** `true` on a `Cluster`: the store then spreads its keys over the cluster's slots. */
  isCluster: boolean;
  /** A new client with the same startup nodes (when `startupNodes` is empty) and options, and `override`. */
  duplicate(startupNodes?: Array<{ host?: string; port?: number } | string | number>, override?: Record<string, unknown>): RedisClusterLike;
  /** Its prefix (of its own, or of its nodes' connections), which the store refuses. */
  options?: { keyPrefix?: string; redisOptions?: { keyPrefix?: string } };
}

/**
 * Options of {@link RedisJobStore}: a client of yours, a URL, or the nodes of a Redis Cluster for
 * clients of its own. Exactly one of `url` and `nodes`, or a `client`.
 */
export interface RedisJobStoreOptions {
  /**
   * An `ioredis` client to use: a `Redis`, or a `Cluster` (then the keys are spread over the
   * cluster's slots, see docs/clustering.md). It is not closed by the store (a duplicate listens for
   * changes).
   */
  client?: RedisLike | RedisClusterLike;
  /** A Redis URL, for clients the store makes (and closes). */
  url?: string;
  /**
   * The startup nodes of a Redis Cluster (`{ host, port }` or `'host:port'`), for a `Cluster` client
   * the store makes (and closes). A few are enough: the client learns the others from them.
   */
  nodes?: readonly RedisClusterNode[];
  /**
   * With `nodes`: more options of the `Cluster` the store makes (ioredis' `ClusterOptions`, such as
   * `redisOptions: { password, tls }` or `natMap`). The store's own settings win: `lazyConnect`,
   * `enableOfflineQueue: false`, and `redisOptions.connectTimeout` and `maxRetriesPerRequest: 1`.
   */
  clusterOptions?: Record<string, unknown> & { redisOptions?: Record<string, unknown> };
  /**
   * Prefix of every key, to keep several schedulers in one database. Default `metronome:`. On a
   * Redis Cluster it may not hold `{` or `}`: the store tags the keys itself.
   */
  keyPrefix?: string;
  /**
   * How many finished runs of each job the run history keeps (a list per job, written in the
   * flush that releases each run's lease). Default 20; 0 keeps none, and nothing is written. Each record
   * takes about 150 bytes, and up to 500 more for an error's message.
   */
  historySize?: number;
}

/** `ioredis` as the store loads it: the `Redis` class, with `Cluster` on it. */
type RedisDriver = (new (url: string, options: object) => RedisLike) & {
  Cluster: new (nodes: Array<{ host: string; port: number }>, options: object) => RedisClusterLike;
};

/**
 * Each script takes the key prefix as its first argument and names its keys from it, so that the
 * whole batch of a wake-up is one call: the key prefix on a single Redis server, a shard's prefix on
 * a Redis Cluster (see {@link RedisKeyspace}), whose keys are all in one hash slot. Each call also
 * names one key of that prefix (KEYS[1], `<prefix>names`), which the scripts do not read: a
 * `Cluster` client sends the call to the master of its slot. Times come from Redis (`TIME`). A job is a hash under `<prefix>job:<name>`: a anchor, t
 * watermark, p paused, v trigger fingerprint (vd what the trigger is), f last fencing token, d definition, rc the
 * runs claims gave out (for a cluster-wide maxRuns), qk a tick queued behind the lease (overlap 'queue'), and
 * lo/lu/lt/lk/lf/la/ld/lh/ls/lw the lease (owner, until, token, tick, first tick, attempt, delivery,
 * handed back; ls: '0' for a lease claimed ahead, from versions that read only it, now cleared
 * where found and no longer written; lw: the token of a lease claimed ahead). A lease is unstarted
 * while lw is its token (a version that knows nothing of it and claims the job writes a new token)
 * and `<prefix>started` (instance → the ticks it started, JobStore.startAll) is below its tick.
 * `<prefix>dead` holds when instances were declared dead (an hour: it refuses their startAll), `<prefix>streaks` since when each instance has checked in without a gap. `<prefix>names` holds every name, `<prefix>leases` the lease expiries, and
 * `<prefix>fencing` the counter every fencing token comes from (it outlives a job's removal).
 * The run history: `<prefix>runs:<name>`, a list of each job's last runs (as JSON, newest first), and
 * `<prefix>feed`, a stream of every run recorded, capped at about {@link RUN_FEED_MAX} entries.
 */
const NOW = `local time = redis.call('TIME') local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;
/** Whether the lease of a row (`lw`, `lt`, `lo`, `lk` as read) was claimed ahead and its run has not started. */
const UNSTARTED = `local function unstarted(waiting, token, owner, tick)
    if waiting == false or waiting ~= token then return false end
    local mark = tonumber(redis.call('HGET', prefix .. 'started', owner))
    return not (mark and mark >= (tonumber(tick) or 0))
  end`;
/**
 * The next fencing token of a job whose last token is `last`: above it, and above every token the
 * store gave before this script (`<prefix>fencing`, written once at the end with {@link SAVE_TOKENS}),
 * so that a job removed and added again goes on from its tokens. Tokens of one script may repeat
 * across jobs; for one job they only grow.
 */
const NEXT_TOKEN = `local given = tonumber(redis.call('GET', prefix .. 'fencing')) or 0 local highest = given
  local function nextToken(last) local token = math.max(given + 1, (tonumber(last) or 0) + 1) if token > highest then highest = token end return token end`;
const SAVE_TOKENS = `if highest > given then redis.call('SET', prefix .. 'fencing', highest) end`;
/**
 * Hands a lease that ends on to the tick queued behind it (overlap 'queue'): a lease handed back at
 * that tick, under a new token, attempt 1 once taken over. After {@link NEXT_TOKEN}; `handedOn`
 * names the first job, for one announcement ({@link ANNOUNCE_HANDED_ON}).
 */
const HAND_ON = `local handedOn = nil
  local function handOn(key, name, queued, last)
    local token = nextToken(last)
    redis.call('HSET', key, 'lu', 0, 'lt', token, 'f', token, 'lk', queued, 'lf', queued, 'la', 0, 'lh', '1')
    redis.call('HDEL', key, 'qk', 'ls', 'lw')
    redis.call('ZADD', prefix .. 'leases', 0, name)
    handedOn = handedOn or name
  end`;
/**
 * Writes run records (`list`: name, JSON, name, JSON…) to each job's history, trimmed to its last
 * `size`, and to the feed. A key that is not a list, or a feed that is not a stream, fails its own
 * record, never the call.
 */
const RECORD_RUNS = `local function recordRuns(list, size)
    for i = 1, #list, 2 do
      local key = prefix .. 'runs:' .. list[i]
      local pushed = redis.pcall('LPUSH', key, list[i + 1])
      if type(pushed) == 'number' and pushed > size then redis.pcall('LTRIM', key, 0, size - 1) end
      redis.pcall('XADD', prefix .. 'feed', 'MAXLEN', '~', ${RUN_FEED_MAX}, '*', 'r', list[i + 1])
    end
  end`;
const ANNOUNCE_HANDED_ON = `if handedOn then redis.call('PUBLISH', prefix .. 'changes', cjson.encode({ kind = 'handed-back', job = handedOn, origin = '' })) end`;

const SCRIPTS = {
  // A key that is not a job's hash fails its own entry ('x'), not the batch.
  register: `
    local prefix = ARGV[1] local out = {}
    for i = 2, #ARGV, 4 do
      local key = prefix .. 'job:' .. ARGV[i]
      local ok = redis.pcall('HSETNX', key, 'a', ARGV[i + 1])
      if type(ok) == 'table' and ok.err then out[#out + 1] = 'x' out[#out + 1] = '' out[#out + 1] = ''
      else
        redis.call('HSET', key, 'v', ARGV[i + 2], 'vd', ARGV[i + 3])
        redis.call('SADD', prefix .. 'names', ARGV[i])
        local row = redis.call('HMGET', key, 'a', 't', 'p')
        out[#out + 1] = row[1] out[#out + 1] = row[2] or '' out[#out + 1] = row[3] or '0'
      end
    end
    return out`,
  // A key that is not a job's hash, or fields that are not numbers, make that claim 'gone' or count
  // as empty: one bad key must not fail the claims of every other job.
  claim: `
    local prefix = ARGV[1] local instance = ARGV[2] ${NOW} ${NEXT_TOKEN} ${UNSTARTED} local claims = cjson.decode(ARGV[3]) local out = {} local leases = {}
    for i = 1, #claims, 7 do
      local name, at, leaseMs, mode, from, fingerprint, maxRuns = claims[i], claims[i + 1], claims[i + 2], claims[i + 3], claims[i + 4], claims[i + 5], tonumber(claims[i + 6])
      local tick, exclusive, ahead, queue, delivery = tonumber(at), string.sub(mode, 1, 1) == 'x', string.sub(mode, 2, 2) == 'a', string.sub(mode, 3, 3) == 'q', string.sub(mode, 4)
      local key = prefix .. 'job:' .. name
      -- What decides the claims that go no further (two thirds of them, in a cluster of three) is
      -- read first; the lease's fields only when the tick is still to be had.
      local row = redis.pcall('HMGET', key, 'a', 't', 'v', 'rc')
      local last = type(row) == 'table' and tonumber(row[2])
      if type(row) == 'table' and not row.err and row[1] and not (row[3] and row[3] ~= fingerprint) and not (last and last >= tick) then
        local lease = redis.call('HMGET', key, 'p', 'lo', 'lu', 'ld', 'f', 'lh', 'lk', 'la', 'lw', 'lt', 'ls', 'qk')
        row = { row[1], row[2], lease[1], lease[2], lease[3], lease[4], lease[5], row[3], lease[6], lease[7], lease[8], lease[9], row[4], lease[10], lease[11], lease[12] }
      elseif type(row) == 'table' and not row.err then
        row = { row[1], row[2], false, false, false, false, false, row[3], false, false, false, false, row[4] }
      end
      if type(row) ~= 'table' or row.err or not row[1] then out[#out + 1] = 'gone'
      elseif row[8] and row[8] ~= fingerprint then out[#out + 1] = 's:' .. (redis.call('HGET', key, 'vd') or row[8])
      -- Complete for every instance, whoever asks: before the watermark, which the first to ask advances.
      elseif maxRuns and (tonumber(row[13]) or 0) >= maxRuns then out[#out + 1] = 'completed' if not last or last < tick then redis.call('HSET', key, 't', at) end
      elseif last and last > tick then out[#out + 1] = 'overtaken'
      elseif last and last == tick then out[#out + 1] = 'lost'
      else
        -- A lease is taken while it lives, and after, while a run waits to be taken over (its own, or one queued behind it).
        local taken = row[4] and ((tonumber(row[5]) or 0) > now or row[6] == 'at-least-once' or row[9] == '1' or unstarted(row[12], row[14], row[4], row[10]) or row[16])
        if row[3] == '1' then out[#out + 1] = 'paused' redis.call('HSET', key, 't', at)
        -- Made ahead: asked again at the tick rather than skipped (the run in the way may end before).
        elseif ahead and taken then out[#out + 1] = 'later'
        -- Queued behind the run, one tick at most: handed on when its lease ends (HAND_ON).
        elseif exclusive and taken and queue and not row[16] then out[#out + 1] = 'queued' redis.call('HSET', key, 't', at, 'qk', at) redis.call('HINCRBY', key, 'rc', 1)
        elseif exclusive and taken then out[#out + 1] = 'busy' redis.call('HSET', key, 't', at)
        else
          local token = nextToken(row[7])
          redis.call('HINCRBY', key, 'rc', 1)
          if taken then redis.call('HSET', key, 't', at, 'f', token) out[#out + 1] = token
          else
            redis.call('HSET', key, 't', at, 'f', token, 'lo', instance, 'lu', now + leaseMs, 'lt', token, 'lk', at, 'lf', from == '' and at or from, 'la', 1, 'ld', delivery, 'lh', '0')
            if row[15] or row[12] then redis.call('HDEL', key, 'ls', 'lw') end
            if ahead then redis.call('HSET', key, 'lw', token) end
            -- Queued behind a lease that ended without handing it on (a version that does not queue released it).
            if row[16] then redis.call('HDEL', key, 'qk') end
            leases[#leases + 1] = now + leaseMs leases[#leases + 1] = name
            -- An expired at-most-once lease no sweep gave up yet: given up by this claim, and said so;
            -- and a tick queued behind a lease that ended without handing it on, which goes: said so.
            if row[4] or row[16] then out[#out + 1] = { token, tonumber(row[10]) or 0, tonumber(row[11]) or 1, row[4] or '', row[16] or '' }
            else out[#out + 1] = token end
          end
        end
      end
    end
    -- The expiries go in at the end, a few thousand at a time (the most arguments a call takes).
    for i = 1, #leases, 4000 do redis.call('ZADD', prefix .. 'leases', unpack(leases, i, math.min(i + 3999, #leases))) end
    ${SAVE_TOKENS}
    return cjson.encode(out)`,
  // Refused for an instance declared dead within the hour: leases it claimed may have been taken over as unstarted.
  startAll: `
    local prefix = ARGV[1] local instance = ARGV[2] local upTo = tonumber(ARGV[3])
    -- Until the record goes (with the instance's mark: see expired), whatever its age: a mark made
    -- meanwhile would be deleted with it, and the leases it covers taken for unstarted.
    if redis.call('ZSCORE', prefix .. 'dead', instance) then return 0 end
    local mark = tonumber(redis.call('HGET', prefix .. 'started', instance))
    if not mark or mark < upTo then redis.call('HSET', prefix .. 'started', instance, upTo) end
    return 1`,
  renew: `
    local prefix = ARGV[1] local instance = ARGV[2] local leaseMs = tonumber(ARGV[3]) ${NOW} local leases = cjson.decode(ARGV[4]) local out = {}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      local row = redis.call('HMGET', key, 'lo', 'lt', 'lh')
      if row[1] == instance and row[2] == leases[i + 1] and row[3] ~= '1' then
        redis.call('HSET', key, 'lu', now + leaseMs)
        redis.call('ZADD', prefix .. 'leases', now + leaseMs, leases[i])
        out[#out + 1] = 1
      else out[#out + 1] = 0 end
    end
    return out`,
  start: `
    local prefix = ARGV[1] local instance = ARGV[2] ${NOW} local leases = cjson.decode(ARGV[3]) local out = {}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      local row = redis.call('HMGET', key, 'lo', 'lt', 'lh', 'lu')
      -- A lease that ran out (its instance was declared dead, or did not renew it) may be another's at any moment: not started.
      if row[1] == instance and row[2] == leases[i + 1] and row[3] ~= '1' and (tonumber(row[4]) or 0) >= now then redis.call('HDEL', key, 'ls', 'lw') out[#out + 1] = 1
      else out[#out + 1] = 0 end
    end
    return out`,
  release: `
    local prefix = ARGV[1] local leases = cjson.decode(ARGV[2]) local ended = {} local out = {} ${NEXT_TOKEN} ${HAND_ON}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      local row = redis.call('HMGET', key, 'lt', 'lh', 'qk', 'f')
      out[#out + 1] = 0
      if row[1] == leases[i + 1] and row[2] ~= '1' then
        if row[3] then handOn(key, leases[i], row[3], row[4]) out[#out] = 1
        else
          redis.call('HDEL', key, 'lo', 'lu', 'lt', 'lk', 'lf', 'la', 'ld', 'lh', 'ls', 'lw')
          ended[#ended + 1] = leases[i]
        end
      end
    end
    for i = 1, #ended, 4000 do redis.call('ZREM', prefix .. 'leases', unpack(ended, i, math.min(i + 3999, #ended))) end
    ${SAVE_TOKENS} ${ANNOUNCE_HANDED_ON}
    return out`,
  record: `
    local prefix = ARGV[1] ${RECORD_RUNS}
    recordRuns(cjson.decode(ARGV[2]), tonumber(ARGV[3]))
    return 1`,
  // A job's last ARGV[3] runs, newest first; none when its key is not a list.
  history: `
    local prefix = ARGV[1]
    local runs = redis.pcall('LRANGE', prefix .. 'runs:' .. ARGV[2], 0, tonumber(ARGV[3]) - 1)
    if type(runs) ~= 'table' or runs.err then return {} end
    return runs`,
  // The feed after ARGV[2] (an entry id; from it, inclusive: the caller asks from the one after the last it read), ARGV[3] at most:
  // id, record, id, record… Without ARGV[2], the id of the last entry (0-0 if none): the present.
  feed: `
    local prefix = ARGV[1] local out = {}
    if ARGV[2] == '' then
      local last = redis.call('XREVRANGE', prefix .. 'feed', '+', '-', 'COUNT', 1)
      return { last[1] and last[1][1] or '0-0' }
    end
    for _, entry in ipairs(redis.call('XRANGE', prefix .. 'feed', ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))) do
      local fields = entry[2] local record = nil
      for i = 1, #fields, 2 do if fields[i] == 'r' then record = fields[i + 1] end end
      out[#out + 1] = entry[1] out[#out + 1] = record or ''
    end
    return out`,
  // The runs whose lease ran out, a page at a time, and whether each is to be taken over; first
  // the revision, whether the instance had been declared dead, the time, and the instances this call
  // declared dead. With a check-in (ARGV[4], the instance's JSON), the instance is recorded alive,
  // and those silent for ARGV[5] ms are declared dead: their leases run out now. ARGV[7] on are
  // instances another call declared dead (on a Redis Cluster, the check-in is in another shard):
  // their leases here run out now too.
  expired: `
    local prefix = ARGV[1] ${NOW} ${UNSTARTED} local out = { tonumber(redis.call('GET', prefix .. 'revision')) or 0, 0, now, {} }
    local dead = {}
    if ARGV[4] ~= '' then
      local instance, checkins, infos, reaped = ARGV[6], prefix .. 'checkins', prefix .. 'instances', prefix .. 'reaped'
      if redis.call('ZREM', reaped, instance) == 1 then out[2] = 1 end
      local previous, deadAfter, streaks = tonumber(redis.call('ZSCORE', checkins, instance)), tonumber(ARGV[5]), prefix .. 'streaks'
      -- Since when it has checked in without a gap of more than half that time.
      local since = tonumber(redis.call('HGET', streaks, instance))
      if not previous or not since or now - previous > deadAfter / 2 then since = now redis.call('HSET', streaks, instance, now) end
      redis.call('ZADD', checkins, now, instance)
      redis.call('HSET', infos, instance, ARGV[4])
      -- Only an instance that has checked in itself, without a gap, for that long declares others dead (see CheckIn.deadAfterMs).
      if deadAfter <= 0 or now - since >= deadAfter then
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', checkins, '-inf', '(' .. (now - deadAfter), 'LIMIT', 0, 100)) do
          if id ~= instance then dead[#dead + 1] = id end
        end
      end
      for _, id in ipairs(dead) do redis.call('ZREM', checkins, id) redis.call('HDEL', infos, id) redis.call('HDEL', streaks, id) redis.call('ZADD', reaped, now, id) out[4][#out[4] + 1] = id end
      -- Instances declared dead are remembered an hour, to tell them if they come back.
      redis.call('ZREMRANGEBYSCORE', reaped, '-inf', now - ${DEAD_REMEMBERED_MS})
    end
    for i = 7, #ARGV do dead[#dead + 1] = ARGV[i] end
    if #dead > 0 then
      local isDead = {}
      -- Recorded in this shard with its leases' expiry, at once: it refuses their startAll for an hour.
      for _, id in ipairs(dead) do isDead[id] = true redis.call('ZADD', prefix .. 'dead', now, id) end
      for _, name in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'leases', now, '+inf', 'LIMIT', 0, 10000)) do
        local key = prefix .. 'job:' .. name
        local owner = redis.call('HGET', key, 'lo')
        if owner and isDead[owner] then redis.call('HSET', key, 'lu', 0) redis.call('ZADD', prefix .. 'leases', 0, name) end
      end
    end
    -- After the hour, an instance's mark of the ticks it started goes too: its leases have gone long since.
    if ARGV[2] == '0' then
      for _, id in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'dead', '-inf', now - ${DEAD_REMEMBERED_MS}, 'LIMIT', 0, 100)) do
        redis.call('ZREM', prefix .. 'dead', id) redis.call('HDEL', prefix .. 'started', id)
      end
    end
    for _, name in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'leases', '-inf', '(' .. now, 'LIMIT', ARGV[2], ARGV[3])) do
      local row = redis.pcall('HMGET', prefix .. 'job:' .. name, 'ld', 'lh', 'lw', 'lt', 'lo', 'lk')
      out[#out + 1] = name
      out[#out + 1] = (type(row) == 'table' and not row.err and (row[1] == 'at-least-once' or row[2] == '1' or unstarted(row[3], row[4], row[5], row[6]))) and 1 or 0
    end
    return out`,
  // Each named run, if its lease still ran out: taken over when the caller has its job (1), else given up if at-most-once.
  recover: `
    local prefix = ARGV[1] local instance = ARGV[2] local leaseMs = tonumber(ARGV[3]) ${NOW} ${NEXT_TOKEN} ${HAND_ON} ${UNSTARTED} local runs = cjson.decode(ARGV[4]) local out = {}
    for i = 1, #runs, 2 do
      local name = runs[i]
      local key = prefix .. 'job:' .. name
      local row = redis.pcall('HMGET', key, 'lo', 'lu', 'lt', 'lk', 'la', 'ld', 'lh', 'f', 'lf', 'lw', 'qk')
      local never = type(row) == 'table' and not row.err and unstarted(row[10], row[3], row[1], row[4])
      if type(row) ~= 'table' or row.err or not row[1] then redis.call('ZREM', prefix .. 'leases', name)
      elseif (tonumber(row[2]) or 0) >= now then
      elseif row[6] == 'at-least-once' or row[7] == '1' or never then
        if runs[i + 1] == 1 then
          local token = nextToken(row[8])
          -- A run that never started is at the attempt it was claimed for.
          local attempt = (tonumber(row[5]) or 1) + (never and 0 or 1)
          redis.call('HSET', key, 'f', token, 'lo', instance, 'lu', now + leaseMs, 'lt', token, 'la', attempt, 'lh', '0')
          redis.call('HDEL', key, 'ls', 'lw')
          redis.call('ZADD', prefix .. 'leases', now + leaseMs, name)
          out[#out + 1] = 'recovered' out[#out + 1] = name out[#out + 1] = row[4] or 0 out[#out + 1] = attempt out[#out + 1] = token
          out[#out + 1] = row[1] out[#out + 1] = row[3] or 0 out[#out + 1] = row[9] or row[4] or 0
        end
      else
        if row[11] then handOn(key, name, row[11], row[8])
        else
          redis.call('HDEL', key, 'lo', 'lu', 'lt', 'lk', 'lf', 'la', 'ld', 'lh', 'ls', 'lw')
          redis.call('ZREM', prefix .. 'leases', name)
        end
        out[#out + 1] = 'abandoned' out[#out + 1] = name out[#out + 1] = row[4] or 0 out[#out + 1] = row[5] or 1 out[#out + 1] = row[3] or 0
        out[#out + 1] = row[1] out[#out + 1] = row[3] or 0 out[#out + 1] = row[9] or row[4] or 0
      end
    end
    ${SAVE_TOKENS} ${ANNOUNCE_HANDED_ON}
    return out`,
  handBack: `
    local prefix = ARGV[1] local instance = ARGV[2] local runs = cjson.decode(ARGV[3]) local out = {} local first = nil
    for i = 1, #runs, 5 do
      local name = runs[i]
      local key = prefix .. 'job:' .. name
      local row = redis.pcall('HMGET', key, 'lo', 'lt')
      if type(row) == 'table' and not row.err and row[1] == instance and row[2] == runs[i + 1] then
        -- The attempt before the first to run: a takeover counts one more, started or not.
        redis.call('HSET', key, 'lu', 0, 'lk', runs[i + 2], 'lf', runs[i + 3], 'la', tonumber(runs[i + 4]) - 1, 'lh', '1')
        redis.call('HDEL', key, 'ls', 'lw')
        redis.call('ZADD', prefix .. 'leases', 0, name)
        first = first or name
        out[#out + 1] = 1
      else out[#out + 1] = 0 end
    end
    if first then redis.call('PUBLISH', prefix .. 'changes', cjson.encode({ kind = 'handed-back', job = first, origin = instance })) end
    return out`,
  // The instances that checked in within ARGV[2] ms: id, JSON, when.
  instances: `
    local prefix = ARGV[1] ${NOW} local out = {}
    local ids = redis.call('ZRANGEBYSCORE', prefix .. 'checkins', now - tonumber(ARGV[2]), '+inf', 'WITHSCORES', 'LIMIT', 0, 1000)
    for i = 1, #ids, 2 do out[#out + 1] = ids[i] out[#out + 1] = redis.call('HGET', prefix .. 'instances', ids[i]) or '{}' out[#out + 1] = ids[i + 1] end
    return out`,
  // A page of the names (SSCAN from cursor ARGV[3]): the next cursor, then name, paused flag ('x'
  // for a key that is not a job's hash) and definition of each job, or of each job with a
  // definition, or that cannot be read.
  rows: `
    local prefix = ARGV[1] local definitions = ARGV[2] == 'definitions'
    local page = redis.call('SSCAN', prefix .. 'names', ARGV[3], 'COUNT', ARGV[4]) local out = { page[1] }
    for _, name in ipairs(page[2]) do
      local row = redis.pcall('HMGET', prefix .. 'job:' .. name, 'p', 'd')
      if type(row) ~= 'table' or row.err then out[#out + 1] = name out[#out + 1] = 'x' out[#out + 1] = ''
      elseif row[2] or not definitions then out[#out + 1] = name out[#out + 1] = row[1] or '0' out[#out + 1] = definitions and row[2] or '' end
    end
    return out`,
  setPaused: `
    local prefix = ARGV[1] local key = prefix .. 'job:' .. ARGV[2]
    if redis.call('EXISTS', key) == 0 then return 0 end
    redis.call('HSET', key, 'p', ARGV[3])
    redis.call('INCR', prefix .. 'revision')
    redis.call('PUBLISH', prefix .. 'changes', ARGV[4])
    return 1`,
  remove: `
    local prefix = ARGV[1]
    -- The job's run history goes with it.
    redis.call('DEL', prefix .. 'runs:' .. ARGV[2])
    if redis.call('DEL', prefix .. 'job:' .. ARGV[2]) == 0 then return 0 end
    redis.call('SREM', prefix .. 'names', ARGV[2])
    redis.call('ZREM', prefix .. 'leases', ARGV[2])
    redis.call('INCR', prefix .. 'revision')
    redis.call('PUBLISH', prefix .. 'changes', ARGV[3])
    return 1`,
  save: `
    local prefix = ARGV[1] local key = prefix .. 'job:' .. ARGV[2]
    redis.call('HSETNX', key, 'a', ARGV[3])
    redis.call('HSET', key, 'd', ARGV[4])
    -- A definition saved (added or changed) starts its maxRuns afresh.
    redis.call('HDEL', key, 'rc')
    redis.call('SADD', prefix .. 'names', ARGV[2])
    redis.call('INCR', prefix .. 'revision')
    redis.call('PUBLISH', prefix .. 'changes', ARGV[5])
    return 1`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
const SHAS = Object.fromEntries(Object.entries(SCRIPTS).map(([name, script]) => [name, createHash('sha1').update(script).digest('hex')])) as Record<
  ScriptName,
  string
>;

/** What a sweep read of one shard: its expired leases to deal with, and what the check-in learned (on the first page). */
interface ShardPage {
  candidates: Array<string | number>;
  more: boolean;
  revision: number;
  reaped: boolean;
  storeNow: number;
  dead: string[];
}

/**
 * A store on Redis (driver `ioredis`), one server or a Redis Cluster. A claim is one Lua script for
 * every tick of a wake-up (on a cluster, one per shard of the ticks' jobs, at once):
 * compare-and-advance of each job's watermark and its run's lease, atomically. Leases use the
 * server's clock. Changes are announced with pub/sub.
 */
export class RedisJobStore implements JobStore {
  readonly kind = 'redis';
  readonly shared = true;
  readonly historySize: number;
  /** The client given, or the store's own once made (see {@link client}). */
  private clientInstance: RedisLike | RedisClusterLike | null;
  /** How to make a client of its own: a `Redis` for a URL, a `Cluster` for nodes. */
  private readonly ownClientOf: ((timeoutMs: number) => RedisLike | RedisClusterLike) | null;
  private readonly ownClient: boolean;
  /** Where the keys are: under the prefix, or in the shards of a Redis Cluster. */
  private readonly keys: RedisKeyspace;
  /** Host and port (and database), or a cluster's startup nodes, for messages. */
  private readonly address: string;
  /** How long a call may take (see {@link configure}). */
  private timeoutMs = 5_000;
  /** Where warnings about the server's configuration go (see {@link configure}). */
  private warn: (message: string) => void = () => undefined;
  /** Whether `maxmemory-policy` was checked (or cannot be). */
  private policyChecked = false;
  /** The stop functions of the subscriptions {@link watch} started. */
  private readonly watches = new Set<() => Promise<void>>();
  private closed = false;

  constructor(options: RedisJobStoreOptions) {
    const prefix = options.keyPrefix ?? 'metronome:';
    if (!/^[A-Za-z0-9_:{}.-]{1,64}$/.test(prefix)) {
      throw new StoreUnavailableError('redis', `keyPrefix ${JSON.stringify(prefix)} is not a safe prefix (letters, digits and _ : { } . -, up to 64)`);
    }
    this.historySize = historySizeOption('redis', options.historySize);
    const { client, url, nodes } = options;
    if (!client && url === undefined && nodes === undefined)
      throw new StoreUnavailableError('redis', 'give it a client, a url or the nodes of a Redis Cluster');
    if (url !== undefined && nodes !== undefined) {
      throw new StoreUnavailableError('redis', 'give it a url (one Redis server) or nodes (a Redis Cluster), not both');
    }
    if (client && nodes !== undefined) throw new StoreUnavailableError('redis', 'give it a client or nodes, not both');
    if (options.clusterOptions && nodes === undefined)
      throw new StoreUnavailableError('redis', 'clusterOptions go with nodes, for the Cluster the store makes');
    const cluster = client ? isCluster(client) : nodes !== undefined;
    if (cluster && /[{}]/.test(prefix)) {
      throw new StoreUnavailableError(
        'redis',
        `keyPrefix ${JSON.stringify(prefix)} holds { or }: on a Redis Cluster the store puts a hash tag of its own in every key, after the prefix`,
      );
    }
    this.keys = cluster ? RedisKeyspace.cluster(prefix) : RedisKeyspace.single(prefix);
    if (client) {
      const keyPrefix = isCluster(client) ? (client.options?.keyPrefix ?? client.options?.redisOptions?.keyPrefix) : client.options?.keyPrefix;
      if (keyPrefix) {
        throw new StoreUnavailableError(
          'redis',
          `the client has a keyPrefix (${JSON.stringify(keyPrefix)}), which its scripts cannot see; give the prefix to RedisJobStore as keyPrefix instead`,
        );
      }
      this.clientInstance = client;
      this.ownClientOf = null;
      this.ownClient = false;
      this.address = isCluster(client) ? redisClusterAddress(startupNodesOf(client)) : redisAddress(client.options ?? {});
    } else if (nodes !== undefined) {
      const startupNodes = parseClusterNodes(nodes);
      const { Cluster } = loadDriver<RedisDriver>('ioredis', 'redis');
      const extra = options.clusterOptions ?? {};
      this.clientInstance = null;
      // Fail fast while a node is out of reach: a claim that waits for the reconnection would run
      // late. It connects in connect(), and reconnects by itself after.
      this.ownClientOf = (timeoutMs) =>
        new Cluster(startupNodes, {
          ...extra,
          lazyConnect: true,
          enableOfflineQueue: false,
          redisOptions: { ...extra.redisOptions, connectTimeout: timeoutMs, maxRetriesPerRequest: 1 },
        });
      this.ownClient = true;
      this.address = redisClusterAddress(startupNodes);
    } else {
      const Redis = loadDriver<RedisDriver>('ioredis', 'redis');
      this.clientInstance = null;
      // Fail fast while disconnected, as above.
      this.ownClientOf = (timeoutMs) => new Redis(url!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: timeoutMs });
      this.ownClient = true;
      this.address = redisUrlAddress(url!);
    }
  }

  /**
   * Takes the time limit of connecting and of `watch`'s first subscription, and where to warn
   * about the server's configuration. Before {@link connect}.
   */
  configure(settings: { timeoutMs: number; warn(message: string): void }): void {
    this.timeoutMs = Math.min(Math.max(1, Math.ceil(settings.timeoutMs)), MAX_DELAY_MS);
    this.warn = settings.warn;
  }

  async connect(): Promise<void> {
    // The scripts are sent on first use; there is nothing to create.
    const client = this.client;
    await this.run(() => ready(client, this.timeoutMs, this.ownClient));
    if (!this.policyChecked) await this.checkEvictionPolicy(client);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches].map((stop) => stop()));
    const client = this.clientInstance;
    if (!this.ownClient || !client) return;
    if (client.status !== 'ready') return client.disconnect();
    await within(client.quit(), this.timeoutMs).catch(() => client.disconnect());
  }

  async register(jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>> {
    return this.keys.byShard(
      jobs,
      (job) => job.name,
      (prefix, batch) => this.registerBatch(prefix, batch),
    );
  }

  private async registerBatch(prefix: string, jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>> {
    if (jobs.length === 0) return [];
    const reply = (await this.script(
      'register',
      prefix,
      jobs.flatMap((job) => [job.name, job.anchor, job.fingerprint, job.trigger ?? job.fingerprint]),
    )) as string[];
    return jobs.map(({ name }, index) =>
      reply[index * 3] === 'x'
        ? null
        : {
            name,
            anchor: Number(reply[index * 3]),
            lastTick: reply[index * 3 + 1] === '' ? null : Number(reply[index * 3 + 1]),
            paused: reply[index * 3 + 2] === '1',
          },
    );
  }

  async claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    // The claims of a shard out of reach are reported unclaimed (`unreachable`), not asked again:
    // a call that failed may have been carried out, and asked again it would come back `lost`.
    return this.keys.byShard(
      claims,
      (claim) => claim.job,
      (prefix, batch) => this.claimBatch(prefix, instance, batch),
      { answer: { status: 'unreachable' } },
    );
  }

  private async claimBatch(prefix: string, instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    if (claims.length === 0) return [];
    // A batch goes as one JSON argument and comes back as one JSON string: thousands of separate
    // arguments and replies cost more to encode and decode than the claims cost Redis.
    const args: Array<string | number> = [];
    // The first tick is sent only when it is not the tick itself (catch-up under misfire 'all').
    for (const c of claims)
      args.push(
        c.job,
        String(c.tick),
        c.leaseMs,
        `${c.exclusive ? 'x' : 'o'}${c.ahead ? 'a' : 'n'}${c.queue ? 'q' : 'n'}${c.delivery}`,
        c.from === c.tick ? '' : String(c.from),
        c.fingerprint,
        c.maxRuns == null ? '' : String(c.maxRuns),
      );
    const reply = JSON.parse((await this.script('claim', prefix, [instance, JSON.stringify(args)])) as string) as Array<string | number | unknown[]>;
    return reply.map((value): ClaimOutcome => {
      if (typeof value === 'number') return { status: 'won', fencingToken: value };
      if (Array.isArray(value)) {
        const [fencingToken, tick, attempt, owner, queued] = value as [number, number, number, string, string];
        return {
          status: 'won',
          fencingToken,
          ...(owner === '' ? {} : { replaced: { tick, attempt, owner } }),
          ...(queued === '' ? {} : { droppedQueued: Number(queued) }),
        };
      }
      if (value.startsWith('s:')) return { status: 'superseded', trigger: value.slice(2) };
      return { status: value as 'busy' | 'lost' | 'overtaken' | 'paused' | 'gone' | 'later' | 'completed' | 'queued' };
    });
  }

  async start(instance: string, leases: readonly Lease[]): Promise<boolean[]> {
    return this.keys.byShard(
      leases,
      (lease) => lease.job,
      async (prefix, batch) => {
        if (batch.length === 0) return [];
        const reply = (await this.script('start', prefix, [instance, leasesJson(batch)])) as number[];
        return reply.map((held) => held === 1);
      },
    );
  }

  async startAll(instance: string, upTo: number, jobs?: readonly string[]): Promise<boolean> {
    // On a Redis Cluster, in the shards of the runs' jobs, or in every shard when they are not
    // named: each shard keeps the marks and the instances declared dead of its own leases.
    const shards = jobs === undefined || !this.keys.cluster ? this.keys.shards : [...new Set(jobs.map((job) => this.keys.prefixOf(job)))];
    const marked = await Promise.all(shards.map((prefix) => this.script('startAll', prefix, [instance, Math.round(upTo)])));
    return marked.every((answer) => answer === 1);
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    return this.keys.byShard(
      leases,
      (lease) => lease.job,
      async (prefix, batch) => {
        if (batch.length === 0) return [];
        const reply = (await this.script('renew', prefix, [instance, leaseMs, leasesJson(batch)])) as number[];
        return reply.map((held) => held === 1);
      },
    );
  }

  async release(leases: readonly Lease[]): Promise<number> {
    const handedOn = await this.keys.byShard(
      leases,
      (lease) => lease.job,
      async (prefix, batch) => (batch.length > 0 ? ((await this.script('release', prefix, [leasesJson(batch)])) as number[]) : []),
    );
    return handedOn.reduce((sum, handed) => sum + handed, 0);
  }

  async recordRuns(runs: readonly FinishedRun[]): Promise<void> {
    if (this.historySize === 0 || runs.length === 0) return;
    await this.keys.byShard(
      runs,
      (run) => run.job,
      async (prefix, batch) => {
        await this.script('record', prefix, [runsJson(newestOfEachJob(batch, this.historySize)), this.historySize]);
        return batch.map(() => true);
      },
    );
  }

  async runHistory(job: string, limit: number): Promise<FinishedRun[]> {
    const count = Math.min(Math.max(0, Math.floor(limit)), this.historySize);
    if (count === 0) return [];
    const reply = (await this.script('history', this.keys.prefixOf(job), [job, count])) as string[];
    return reply.flatMap((json) => parseRun(json) ?? []);
  }

  /**
   * The runs recorded since the cursor: the cursor holds the id of the last entry read in each
   * shard's feed (one on a single server), and each call reads every shard after its own, merged
   * in the order of the entries' times.
   */
  async runsSince(cursor: string | null, limit: number): Promise<RunPage> {
    const count = Math.min(Math.max(1, Math.floor(limit)), BATCH_SIZE);
    const { shards } = this.keys;
    const from = cursor === null ? null : parseFeedCursor(cursor, shards.length);
    if (from === null) {
      const heads = await Promise.all(shards.map(async (prefix) => String(((await this.script('feed', prefix, ['', 0])) as string[])[0])));
      return { runs: [], cursor: JSON.stringify(heads) };
    }
    const pages = await Promise.all(
      shards.map(async (prefix, shard) => {
        const reply = (await this.script('feed', prefix, [nextEntryId(from[shard]!), count])) as string[];
        const entries: Array<{ id: string; at: [number, number]; shard: number; run: FinishedRun | null }> = [];
        for (let i = 0; i < reply.length; i += 2) entries.push({ id: String(reply[i]), at: entryTime(String(reply[i])), shard, run: parseRun(reply[i + 1]) });
        return entries;
      }),
    );
    const taken = pages
      .flat()
      .sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.shard - b.shard)
      .slice(0, count);
    const next = [...from];
    for (const entry of taken) next[entry.shard] = entry.id;
    return { runs: taken.flatMap((entry) => entry.run ?? []), cursor: JSON.stringify(next) };
  }

  async recover(instance: string, leaseMs: number, jobs: JobSet, checkIn?: CheckIn): Promise<Sweep> {
    // The runs to deal with, a page of expired leases at a time: those given up whoever has their
    // job, and those to take over of the jobs here. Leases left for other instances are passed.
    // The first page checks in: on one server, the check-in and the first page are one call.
    const self = checkIn ? JSON.stringify(checkIn.self) : '';
    const [control, ...others] = this.keys.shards as [string, ...string[]];
    // On a Redis Cluster, each shard is read on its own: a shard that cannot be read (its master
    // failing over) is passed by this sweep, and the next one reads it again, so that the takeovers
    // on the other masters go on; only when no shard answered does the sweep fail. On one server,
    // exactly one shard, whose failure is the sweep's.
    let failure: unknown;
    const read = <T>(work: Promise<T>): Promise<T | null> =>
      this.keys.cluster
        ? work.catch((error: unknown) => {
            failure ??= error;
            return null;
          })
        : work;
    const first = await read(this.expired(control, instance, jobs, self, checkIn?.deadAfterMs ?? 0, []));
    // The check-in is in the control shard, and every other shard is read at once after it, told
    // which instances the check-in declared dead, for their leases there to run out now too. If
    // this instance dies in between, or a shard cannot be read, those leases run out by their own time.
    const rest = await Promise.all(others.map((prefix) => read(this.expired(prefix, instance, jobs, '', 0, first?.dead ?? []))));
    const pages = [first, ...rest];
    if (pages.every((page) => page === null)) throw failure;
    const seen: Pick<Sweep, 'reaped' | 'revision' | 'storeNow'> =
      self === '' || first === null
        ? {}
        : {
            // Each shard's revision only grows: their sum changes whenever one of them does. Not
            // said when a shard was passed: the sum would change for nothing.
            ...(rest.includes(null) ? {} : { revision: pages.reduce((sum, page) => sum + page!.revision, 0) }),
            reaped: first.reaped,
            storeNow: first.storeNow,
          };
    // At most BATCH_SIZE runs in one sweep, over every shard.
    let room = BATCH_SIZE * 2;
    let more = false;
    const taken = pages.map((page) => {
      if (page === null) return [];
      const candidates = page.candidates.slice(0, room);
      room -= candidates.length;
      more ||= page.more || candidates.length < page.candidates.length;
      return candidates;
    });
    if (room === BATCH_SIZE * 2) return { recovered: [], abandoned: [], more, ...seen };
    const replies = await Promise.all(
      taken.map((candidates, shard) =>
        candidates.length === 0
          ? []
          : read(this.script('recover', this.keys.shards[shard]!, [instance, leaseMs, JSON.stringify(candidates)]) as Promise<Array<string | number>>),
      ),
    );
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
    for (const reply of replies) {
      if (reply === null) continue;
      for (let i = 0; i < reply.length; i += 8) {
        const run: ExpiredRun = {
          job: String(reply[i + 1]),
          tick: Number(reply[i + 2]),
          attempt: Number(reply[i + 3]),
          fencingToken: Number(reply[i + 4]),
          owner: String(reply[i + 5]),
          previousToken: Number(reply[i + 6]),
          from: Number(reply[i + 7]),
        };
        (reply[i] === 'recovered' ? recovered : abandoned).push(run);
      }
    }
    return { recovered, abandoned, more, ...seen };
  }

  /**
   * The expired leases of one shard (all of them on one server) that this sweep is to deal with, a
   * page at a time, as `name, 1 | 0` (whether to take it over): past those left for other
   * instances, until there are `BATCH_SIZE` of them, and `more` if others may wait. The first page
   * checks in when `self` is not empty, and makes the leases of `dead` instances run out; it also
   * gives the shard's revision, the store's time, whether this instance had been declared dead, and
   * whom this check-in declared dead.
   */
  private async expired(prefix: string, instance: string, jobs: JobSet, self: string, deadAfterMs: number, dead: readonly string[]): Promise<ShardPage> {
    const candidates: Array<string | number> = [];
    let more = false;
    let head = { revision: 0, reaped: false, storeNow: 0, dead: [] as string[] };
    for (let page = 0; page < MAX_SWEEP_PAGES && candidates.length < BATCH_SIZE * 2; page++) {
      const firstPage = page === 0;
      const reply = (await this.script('expired', prefix, [
        page * BATCH_SIZE,
        BATCH_SIZE,
        firstPage ? self : '',
        deadAfterMs,
        instance,
        ...(firstPage ? dead : []),
      ])) as Array<string | number | string[]>;
      if (firstPage) head = { revision: Number(reply[0]), reaped: reply[1] === 1, storeNow: Number(reply[2]), dead: (reply[3] as string[]).map(String) };
      for (let i = 4; i < reply.length; i += 2) {
        const name = String(reply[i]);
        const mine = jobs.has(name);
        if (reply[i + 1] === 0 || mine) candidates.push(name, mine ? 1 : 0);
      }
      more = reply.length === BATCH_SIZE * 2 + 4;
      if (!more) break;
    }
    return { candidates, more, ...head };
  }

  async instances(deadAfterMs: number): Promise<InstanceRecord[]> {
    // The check-ins are in the control shard.
    const reply = (await this.script('instances', this.keys.control, [deadAfterMs])) as string[];
    const records: InstanceRecord[] = [];
    for (let i = 0; i < reply.length; i += 3) records.push(instanceRecord(reply[i], reply[i + 1], Number(reply[i + 2])));
    return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async handBack(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    return this.keys.byShard(
      runs,
      (run) => run.job,
      (prefix, batch) => this.handBackBatch(prefix, instance, batch),
    );
  }

  private async handBackBatch(prefix: string, instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    if (runs.length === 0) return [];
    const flat: string[] = [];
    for (const run of runs) flat.push(run.job, String(run.fencingToken), String(run.tick), String(run.from), String(run.attempt));
    const reply = (await this.script('handBack', prefix, [instance, JSON.stringify(flat)])) as number[];
    return reply.map((handed) => handed === 1);
  }

  async setPaused(job: string, paused: boolean, origin: string): Promise<void> {
    await this.script('setPaused', this.keys.prefixOf(job), [job, paused ? '1' : '0', JSON.stringify({ kind: paused ? 'paused' : 'resumed', job, origin })]);
  }

  async remove(job: string, origin: string): Promise<void> {
    await this.script('remove', this.keys.prefixOf(job), [job, JSON.stringify({ kind: 'removed', job, origin })]);
  }

  async saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void> {
    await this.script('save', this.keys.prefixOf(definition.name), [
      definition.name,
      anchor,
      JSON.stringify(definition),
      JSON.stringify({ kind: 'saved', job: definition.name, origin }),
    ]);
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
    // Each shard announces on a channel of its own (one on a single server). A cluster client's
    // plain PUBLISH reaches every node, so a subscriber on any node hears every shard.
    const channels = this.keys.shards.map((prefix) => `${prefix}changes`);
    const ours = new Set(channels);
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    // Tries again after 200 ms, doubling to 5 s; the periodic resync covers what is missed meanwhile.
    const backoff = new Backoff(200, 5_000);
    let subscribed!: () => void;
    const firstSubscription = new Promise<void>((resolve) => (subscribed = resolve));
    // A client in subscriber mode can do nothing else: listen on a duplicate. It subscribes on
    // every connection, here rather than by the driver, so that a subscription that fails (a
    // connection lost meanwhile, a refusal) is tried again.
    const subscriber = duplicateSubscriber(this.client);
    const subscribe = async (): Promise<void> => {
      cancel(retry);
      retry = undefined;
      if (stopped) return;
      try {
        await within(subscriber.subscribe(...channels), this.timeoutMs);
        backoff.reset();
        subscribed();
      } catch {
        retryLater();
      }
    };
    // One retry waits at a time; a new connection subscribes at once anyway.
    const retryLater = () => {
      if (!stopped && retry === undefined) retry = later(backoff.next(), () => ((retry = undefined), void retrySubscribe()));
    };
    const retrySubscribe = async (): Promise<void> => {
      if (stopped) return;
      if (subscriber.status === 'ready') return subscribe();
      // A client the driver gave up reconnecting is connected again, and subscribes once ready; one
      // that is reconnecting subscribes once ready too.
      if (subscriber.status === 'end') await subscriber.connect?.().catch(retryLater);
    };
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => void subscribe());
    subscriber.on('message', (from: string, message: string) => {
      if (!ours.has(from)) return;
      try {
        listener(JSON.parse(message) as JobChange);
      } catch {
        // A message that is not ours is ignored.
      }
    });
    const stop = async () => {
      stopped = true;
      cancel(retry);
      this.watches.delete(stop);
      subscriber.disconnect();
    };
    this.watches.add(stop);
    if (this.closed) await stop();
    // The first subscription is waited for, within the time limit; it goes on being tried after.
    else {
      await within(firstSubscription, this.timeoutMs).catch(() => {
        // A connection made that never became ready is dropped, so that a fresh one is tried.
        if (!stopped && subscriber.status === 'connect') subscriber.disconnect(true);
      });
    }
    return stop;
  }

  /**
   * Every job's paused flag, or only the jobs with a definition and their definition, in one call.
   * A key that cannot be read as a job's hash has no definition, for the caller to reject.
   */
  private async rows(which: 'definitions' | 'paused'): Promise<Array<{ name: string; paused: boolean; definition?: string }>> {
    // A page at a time (a definition is up to 80 KiB: fewer of them), each shard's pages one after
    // another, the shards at once; SSCAN may give a name twice.
    const found = new Map<string, { name: string; paused: boolean; definition?: string }>();
    await Promise.all(
      this.keys.shards.map(async (prefix) => {
        let cursor = '0';
        do {
          const reply = (await this.script('rows', prefix, [which, cursor, which === 'definitions' ? 100 : BATCH_SIZE])) as string[];
          cursor = String(reply[0]);
          for (let i = 1; i < reply.length; i += 3) {
            const row = { name: reply[i], paused: reply[i + 1] === '1' };
            found.set(row.name, which === 'definitions' && reply[i + 1] !== 'x' ? { ...row, definition: reply[i + 2] } : row);
          }
        } while (cursor !== '0');
      }),
    );
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The client: the one given, or the store's own, made on first use with the time limit of {@link configure}. */
  private get client(): RedisLike | RedisClusterLike {
    if (this.clientInstance) return this.clientInstance;
    // Closed before it was ever used: no client is made any more.
    if (this.closed) throw new StoreUnavailableError('redis', 'the store is closed');
    const client = this.ownClientOf!(this.timeoutMs);
    client.on('error', () => undefined);
    return (this.clientInstance = client);
  }

  /**
   * Warns once when Redis may evict keys (`maxmemory-policy` other than `noeviction`): a job whose
   * hash is evicted loses its watermark, and a tick can run twice. A server that refuses `CONFIG`
   * (managed Redis often does) is not asked again, and nothing is said.
   */
  private async checkEvictionPolicy(client: RedisCommands): Promise<void> {
    if (!client.config) return void (this.policyChecked = true);
    try {
      const reply = await within(client.config('GET', 'maxmemory-policy'), this.timeoutMs);
      this.policyChecked = true;
      const policy = Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : 'noeviction';
      if (policy !== 'noeviction') {
        this.warn(
          `Redis at ${this.address} has maxmemory-policy ${policy}: when its memory is full it may evict keys, and a job whose key is evicted loses its watermark, so a tick can run twice. Set maxmemory-policy to noeviction.`,
        );
      }
    } catch (error) {
      // An error reply (CONFIG refused or renamed) is final; anything else is asked again at the next connect.
      if ((error as Error | undefined)?.name === 'ReplyError') this.policyChecked = true;
    }
  }

  /**
   * Runs a script on the keys under `prefix` by its hash, sending it once when Redis does not know it
   * yet: at first use, and on a Redis Cluster after a failover, for a promoted replica has not seen
   * the scripts. A cluster client follows `MOVED` by itself, and retries `TRYAGAIN` and
   * `CLUSTERDOWN` a few times; what still fails is a {@link StoreUnavailableError}, tried again at
   * the next wake-up.
   */
  private script(name: ScriptName, prefix: string, args: Array<string | number>): Promise<unknown> {
    return this.run(async () => {
      const client = this.client;
      const key = RedisKeyspace.routingKey(prefix);
      try {
        return await client.evalsha(SHAS[name], 1, key, prefix, ...args);
      } catch (error) {
        if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
        return client.eval(SCRIPTS[name], 1, key, prefix, ...args);
      }
    });
  }

  /** Runs a driver call; its failures become {@link StoreUnavailableError}, naming the server. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw unavailable('redis', this.address, error);
    }
  }
}

/**
 * Resolves once the client is connected, connecting one that is not. Rejects at the first
 * connection error (refused, a wrong password…) rather than waiting through the driver's
 * reconnections, and after `timeoutMs` otherwise; then, with `restartStalled`, a connection made
 * that never became ready (a server that accepts and says nothing) is dropped for a fresh one.
 */
function ready(client: RedisCommands, timeoutMs: number, restartStalled: boolean): Promise<void> {
  if (client.status === 'ready' || client.status === undefined) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      cancel(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => settle();
    const onError = (error: unknown) => settle(error ?? new Error('the connection failed'));
    const timer = later(timeoutMs, () => {
      settle(new Error(`no connection within ${timeoutMs} ms`));
      if (restartStalled && client.status === 'connect') client.disconnect(true);
    });
    client.on('ready', onReady);
    client.on('error', onError);
    if (client.status === 'wait' || client.status === 'end') (client.connect?.() ?? client.ping()).catch(() => undefined);
  });
}

/** `host:port` (and `/db` if not 0) of a client's options, for messages: never the user or password. */
function redisAddress(options: NonNullable<RedisLike['options']>): string {
  if (options.path) return options.path;
  return `${options.host ?? 'localhost'}:${options.port ?? 6379}${options.db ? `/${options.db}` : ''}`;
}

/** Whether a client is an `ioredis` `Cluster`. */
function isCluster(client: RedisLike | RedisClusterLike): client is RedisClusterLike {
  return client.isCluster === true;
}

/**
 * A client for `watch` to subscribe with: a client in subscriber mode can do nothing else. It
 * connects at once and fails fast; a `Redis` does not subscribe again by itself on a new
 * connection (`watch` does, on every `ready`). A `Cluster`'s subscriber connection moves to another
 * node when its node goes, and subscribes there again by itself; `watch` subscribes on `ready` too.
 */
function duplicateSubscriber(client: RedisLike | RedisClusterLike): RedisCommands {
  if (isCluster(client)) return client.duplicate([], { lazyConnect: false, enableOfflineQueue: false });
  return client.duplicate({ autoResubscribe: false, lazyConnect: false, enableOfflineQueue: false });
}

/** The startup nodes of an `ioredis` `Cluster`, which it keeps but does not type as public: for messages only. */
function startupNodesOf(client: RedisClusterLike): unknown[] {
  const nodes: unknown = Reflect.get(client, 'startupNodes');
  return Array.isArray(nodes) ? nodes : [];
}

/** `cluster host:port,host:port,…` of a Redis Cluster's startup nodes, for messages: never a user or password. */
function redisClusterAddress(nodes: readonly unknown[]): string {
  const named = nodes.map((node) => {
    if (typeof node === 'number') return redisAddress({ port: node });
    if (typeof node === 'string') return /^[a-z]+:\/\//i.test(node) ? redisUrlAddress(node) : node.replace(/^[^@]*@/, '');
    const { host, port } = (node ?? {}) as { host?: unknown; port?: unknown };
    return redisAddress({ host: typeof host === 'string' ? host : undefined, port: typeof port === 'number' ? port : undefined });
  });
  if (named.length === 0) return 'a Redis Cluster';
  return `cluster ${named.slice(0, 3).join(',')}${named.length > 3 ? ',…' : ''}`;
}

/** The nodes given as `{ host, port }` or `'host:port'`, as `{ host, port }`; a node that is neither is refused. */
function parseClusterNodes(nodes: readonly RedisClusterNode[]): Array<{ host: string; port: number }> {
  if (!Array.isArray(nodes) || nodes.length === 0) throw new StoreUnavailableError('redis', 'nodes must list at least one node of the Redis Cluster');
  return nodes.map((node, index) => {
    const parsed =
      typeof node === 'string'
        ? (() => {
            const at = node.lastIndexOf(':');
            return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
          })()
        : { host: (node as { host?: unknown })?.host, port: (node as { port?: unknown })?.port };
    const { host, port } = parsed;
    // Not echoed: a URL given here by mistake may hold a password.
    if (typeof host !== 'string' || !/^[^\s/@]+$/.test(host) || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new StoreUnavailableError('redis', `nodes[${index}] is not a node of a Redis Cluster: give { host, port } or 'host:port'`);
    }
    return { host, port };
  });
}

/** The same for a Redis URL. */
function redisUrlAddress(url: string): string {
  try {
    const parsed = new URL(url);
    const db = Number(parsed.pathname.slice(1)) || 0;
    return redisAddress({ host: parsed.hostname || undefined, port: Number(parsed.port) || undefined, db });
  } catch {
    // A socket path, or ioredis' own shorthand: without anything that looks like credentials.
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** Run records as one JSON argument: name, record as JSON, name… (the record's keys short: Redis keeps many). */
function runsJson(runs: readonly FinishedRun[]): string {
  const flat: string[] = [];
  for (const run of runs) {
    const record: Record<string, unknown> = {
      j: run.job,
      i: run.instance,
      s: run.scheduledAt,
      t: run.startedAt,
      d: run.durationMs,
      a: run.attempt,
      o: run.outcome,
    };
    if (run.error !== undefined) record.e = run.error;
    flat.push(run.job, JSON.stringify(record));
  }
  return JSON.stringify(flat);
}

/** A run record as {@link runsJson} wrote it, or `null` if it is not one (written by another version, or damaged). */
function parseRun(json: unknown): FinishedRun | null {
  if (typeof json !== 'string') return null;
  try {
    const record = JSON.parse(json) as Record<string, unknown>;
    if (record === null || typeof record !== 'object') return null;
    return readRun({
      job: record.j,
      instance: record.i,
      scheduledAt: record.s,
      startedAt: record.t,
      durationMs: record.d,
      attempt: record.a,
      outcome: record.o,
      error: record.e,
    });
  } catch {
    return null;
  }
}

/** A stream entry id as [ms, sequence]. */
function entryTime(id: string): [number, number] {
  const [ms, seq] = id.split('-');
  return [Number(ms) || 0, Number(seq) || 0];
}

/** The id just after `id`: where a read of the feed goes on from (XRANGE includes its start). */
function nextEntryId(id: string): string {
  const [ms, seq] = entryTime(id);
  return `${ms}-${seq + 1}`;
}

/** A feed cursor (one entry id per shard), or `null` if it is not one of this store's: the feed then starts from now. */
function parseFeedCursor(cursor: string, shards: number): string[] | null {
  try {
    const ids = JSON.parse(cursor) as unknown;
    if (!Array.isArray(ids) || ids.length !== shards || !ids.every((id) => typeof id === 'string' && /^\d+-\d+$/.test(id))) return null;
    return ids as string[];
  } catch {
    return null;
  }
}

/** Leases as one JSON argument: name, fencing token (as text, as the hash keeps it), name… */
function leasesJson(leases: readonly Lease[]): string {
  const flat: string[] = [];
  for (const lease of leases) flat.push(lease.job, String(lease.fencingToken));
  return JSON.stringify(flat);
}
