import { createHash } from 'node:crypto';
import { StoreUnavailableError } from '../errors';
import { Backoff } from '../engine/backoff';
import { BATCH_SIZE, batches, inBatches, MAX_SWEEP_PAGES } from './batches';
import { cancel, later, loadDriver, MAX_DELAY_MS, unavailable, within } from './driver';
import {
  CheckIn,
  DEAD_REMEMBERED_MS,
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
  /** A new client with the same options, and `override`. */
  duplicate(override?: Record<string, unknown>): RedisLike;
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
  /** Its prefix, which the store refuses, and where it connects, to name the server in messages. */
  options?: { keyPrefix?: string; host?: string; port?: number; path?: string; db?: number };
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
 * watermark, p paused, v trigger fingerprint (vd what the trigger is), f last fencing token, d definition, rc the
 * runs claims gave out (for a cluster-wide maxRuns), qk a tick queued behind the lease (overlap 'queue'), and
 * lo/lu/lt/lk/lf/la/ld/lh/ls/lw the lease (owner, until, token, tick, first tick, attempt, delivery,
 * handed back; ls: '0' for a lease claimed ahead, from versions that read only it, now cleared
 * where found and no longer written; lw: the token of a lease claimed ahead). A lease is unstarted
 * while lw is its token (a version that knows nothing of it and claims the job writes a new token)
 * and `<prefix>started` (instance → the ticks it started, JobStore.startAll) is below its tick.
 * `<prefix>dead` holds when instances were declared dead (an hour: it refuses their startAll). `<prefix>names` holds every name, `<prefix>leases` the lease expiries, and
 * `<prefix>fencing` the counter every fencing token comes from (it outlives a job's removal).
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
const HAND_ON = `local handedOn = nil local handedCount = 0
  local function handOn(key, name, queued, last)
    local token = nextToken(last)
    redis.call('HSET', key, 'lu', 0, 'lt', token, 'f', token, 'lk', queued, 'lf', queued, 'la', 0, 'lh', '1')
    redis.call('HDEL', key, 'qk', 'ls', 'lw')
    redis.call('ZADD', prefix .. 'leases', 0, name)
    handedOn = handedOn or name
    handedCount = handedCount + 1
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
      local row = redis.pcall('HMGET', key, 'a', 't', 'p', 'lo', 'lu', 'ld', 'f', 'v', 'lh', 'lk', 'la', 'lw', 'rc', 'lt', 'ls', 'qk')
      local last = type(row) == 'table' and tonumber(row[2])
      if type(row) ~= 'table' or row.err or not row[1] then out[#out + 1] = 'gone'
      elseif row[8] and row[8] ~= fingerprint then out[#out + 1] = 's:' .. (redis.call('HGET', key, 'vd') or row[8])
      -- Complete for every instance, whoever asks: before the watermark, which the first to ask advances.
      elseif maxRuns and (tonumber(row[13]) or 0) >= maxRuns then out[#out + 1] = 'completed' if not last or last < tick then redis.call('HSET', key, 't', at) end
      elseif last and last >= tick then out[#out + 1] = 'lost'
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
            -- An expired at-most-once lease no sweep gave up yet: given up by this claim, and said so.
            if row[4] then out[#out + 1] = { token, tonumber(row[10]) or 0, tonumber(row[11]) or 1, row[4] }
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
    local prefix = ARGV[1] local instance = ARGV[2] local upTo = tonumber(ARGV[3]) ${NOW}
    local dead = tonumber(redis.call('ZSCORE', prefix .. 'dead', instance))
    if dead and dead > now - ${DEAD_REMEMBERED_MS} then return 0 end
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
    local prefix = ARGV[1] local leases = cjson.decode(ARGV[2]) local ended = {} ${NEXT_TOKEN} ${HAND_ON}
    for i = 1, #leases, 2 do
      local key = prefix .. 'job:' .. leases[i]
      local row = redis.call('HMGET', key, 'lt', 'lh', 'qk', 'f')
      if row[1] == leases[i + 1] and row[2] ~= '1' then
        if row[3] then handOn(key, leases[i], row[3], row[4])
        else
          redis.call('HDEL', key, 'lo', 'lu', 'lt', 'lk', 'lf', 'la', 'ld', 'lh', 'ls', 'lw')
          ended[#ended + 1] = leases[i]
        end
      end
    end
    for i = 1, #ended, 4000 do redis.call('ZREM', prefix .. 'leases', unpack(ended, i, math.min(i + 3999, #ended))) end
    ${SAVE_TOKENS} ${ANNOUNCE_HANDED_ON}
    return handedCount`,
  // The runs whose lease ran out, a page at a time, and whether each is to be taken over; first
  // the revision, whether the instance had been declared dead, and the time. With a check-in (ARGV[4], the
  // instance's JSON), the instance is recorded alive, and those silent for ARGV[5] ms are declared
  // dead: their leases run out now.
  expired: `
    local prefix = ARGV[1] ${NOW} ${UNSTARTED} local out = { tonumber(redis.call('GET', prefix .. 'revision')) or 0, 0, now }
    if ARGV[4] ~= '' then
      local instance, checkins, infos, reaped = ARGV[6], prefix .. 'checkins', prefix .. 'instances', prefix .. 'reaped'
      if redis.call('ZREM', reaped, instance) == 1 then out[2] = 1 end
      redis.call('ZADD', checkins, now, instance)
      redis.call('HSET', infos, instance, ARGV[4])
      local dead = {}
      for _, id in ipairs(redis.call('ZRANGEBYSCORE', checkins, '-inf', '(' .. (now - tonumber(ARGV[5])), 'LIMIT', 0, 100)) do
        if id ~= instance then dead[#dead + 1] = id end
      end
      if #dead > 0 then
        local isDead = {}
        for _, id in ipairs(dead) do
          isDead[id] = true redis.call('ZREM', checkins, id) redis.call('HDEL', infos, id) redis.call('ZADD', reaped, now, id) redis.call('ZADD', prefix .. 'dead', now, id)
        end
        for _, name in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'leases', now, '+inf', 'LIMIT', 0, 10000)) do
          local key = prefix .. 'job:' .. name
          local owner = redis.call('HGET', key, 'lo')
          if owner and isDead[owner] then redis.call('HSET', key, 'lu', 0) redis.call('ZADD', prefix .. 'leases', 0, name) end
        end
      end
      -- Instances declared dead are remembered an hour, to tell them if they come back (and refuse their
      -- startAll); then their mark of the ticks they started goes too: their leases have gone long since.
      redis.call('ZREMRANGEBYSCORE', reaped, '-inf', now - ${DEAD_REMEMBERED_MS})
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

/**
 * A store on Redis (driver `ioredis`). A claim is one Lua script for every tick of a wake-up:
 * compare-and-advance of each job's watermark and its run's lease, atomically. Leases use the
 * server's clock. Changes are announced with pub/sub.
 */
export class RedisJobStore implements JobStore {
  readonly kind = 'redis';
  readonly shared = true;
  /** The client given, or the store's own once made (see {@link client}). */
  private clientInstance: RedisLike | null;
  /** How to make a client of its own: `ioredis` and the URL. */
  private readonly ownClientOf: { Redis: new (url: string, options: object) => RedisLike; url: string } | null;
  private readonly ownClient: boolean;
  private readonly prefix: string;
  /** Host and port (and database), for messages. */
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
    if (!options.client && !options.url) throw new StoreUnavailableError('redis', 'give it a client or a url');
    this.prefix = prefix;
    if (options.client) {
      if (options.client.options?.keyPrefix) {
        throw new StoreUnavailableError(
          'redis',
          `the client has a keyPrefix (${JSON.stringify(options.client.options.keyPrefix)}), which its scripts cannot see; give the prefix to RedisJobStore as keyPrefix instead`,
        );
      }
      this.clientInstance = options.client;
      this.ownClientOf = null;
      this.ownClient = false;
    } else {
      const Redis = loadDriver<new (url: string, options: object) => RedisLike>('ioredis', 'redis');
      this.clientInstance = null;
      this.ownClientOf = { Redis, url: options.url! };
      this.ownClient = true;
    }
    this.address = options.client ? redisAddress(options.client.options ?? {}) : redisUrlAddress(options.url!);
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
    return inBatches(jobs, (batch) => this.registerBatch(batch));
  }

  private async registerBatch(jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>> {
    if (jobs.length === 0) return [];
    const reply = (await this.script(
      'register',
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
    return inBatches(claims, (batch) => this.claimBatch(instance, batch));
  }

  private async claimBatch(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
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
    const reply = JSON.parse((await this.script('claim', [instance, JSON.stringify(args)])) as string) as Array<string | number | unknown[]>;
    return reply.map((value): ClaimOutcome => {
      if (typeof value === 'number') return { status: 'won', fencingToken: value };
      if (Array.isArray(value)) {
        const [fencingToken, tick, attempt, owner] = value as [number, number, number, string];
        return { status: 'won', fencingToken, replaced: { tick, attempt, owner } };
      }
      if (value.startsWith('s:')) return { status: 'superseded', trigger: value.slice(2) };
      return { status: value as 'busy' | 'lost' | 'paused' | 'gone' | 'later' | 'completed' | 'queued' };
    });
  }

  async start(instance: string, leases: readonly Lease[]): Promise<boolean[]> {
    return inBatches(leases, async (batch) => {
      if (batch.length === 0) return [];
      const reply = (await this.script('start', [instance, leasesJson(batch)])) as number[];
      return reply.map((held) => held === 1);
    });
  }

  async startAll(instance: string, upTo: number): Promise<boolean> {
    return (await this.script('startAll', [instance, Math.round(upTo)])) === 1;
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    return inBatches(leases, async (batch) => {
      if (batch.length === 0) return [];
      const reply = (await this.script('renew', [instance, leaseMs, leasesJson(batch)])) as number[];
      return reply.map((held) => held === 1);
    });
  }

  async release(leases: readonly Lease[]): Promise<number> {
    let handedOn = 0;
    for (const batch of batches(leases)) handedOn += Number(await this.script('release', [leasesJson(batch)]));
    return handedOn;
  }

  async recover(instance: string, leaseMs: number, jobs: JobSet, checkIn?: CheckIn): Promise<Sweep> {
    // The runs to deal with, a page of expired leases at a time: those given up whoever has their
    // job, and those to take over of the jobs here. Leases left for other instances are passed.
    // The first page checks in.
    const candidates: Array<string | number> = [];
    let more = false;
    let seen: Pick<Sweep, 'reaped' | 'revision' | 'storeNow'> = {};
    for (let page = 0; page < MAX_SWEEP_PAGES && candidates.length < BATCH_SIZE * 2; page++) {
      const self = page === 0 && checkIn ? JSON.stringify(checkIn.self) : '';
      const reply = (await this.script('expired', [page * BATCH_SIZE, BATCH_SIZE, self, checkIn?.deadAfterMs ?? 0, instance])) as Array<string | number>;
      if (self !== '') seen = { revision: Number(reply[0]), reaped: reply[1] === 1, storeNow: Number(reply[2]) };
      for (let i = 3; i < reply.length; i += 2) {
        const name = String(reply[i]);
        const mine = jobs.has(name);
        if (reply[i + 1] === 0 || mine) candidates.push(name, mine ? 1 : 0);
      }
      more = reply.length === BATCH_SIZE * 2 + 3;
      if (!more) break;
    }
    if (candidates.length === 0) return { recovered: [], abandoned: [], more, ...seen };
    more ||= candidates.length > BATCH_SIZE * 2;
    const reply = (await this.script('recover', [instance, leaseMs, JSON.stringify(candidates.slice(0, BATCH_SIZE * 2))])) as Array<string | number>;
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
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
    return { recovered, abandoned, more, ...seen };
  }

  async instances(deadAfterMs: number): Promise<InstanceRecord[]> {
    const reply = (await this.script('instances', [deadAfterMs])) as string[];
    const records: InstanceRecord[] = [];
    for (let i = 0; i < reply.length; i += 3) records.push(instanceRecord(reply[i], reply[i + 1], Number(reply[i + 2])));
    return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async handBack(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    return inBatches(runs, (batch) => this.handBackBatch(instance, batch));
  }

  private async handBackBatch(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    if (runs.length === 0) return [];
    const flat: string[] = [];
    for (const run of runs) flat.push(run.job, String(run.fencingToken), String(run.tick), String(run.from), String(run.attempt));
    const reply = (await this.script('handBack', [instance, JSON.stringify(flat)])) as number[];
    return reply.map((handed) => handed === 1);
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
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    // Tries again after 200 ms, doubling to 5 s; the periodic resync covers what is missed meanwhile.
    const backoff = new Backoff(200, 5_000);
    let subscribed!: () => void;
    const firstSubscription = new Promise<void>((resolve) => (subscribed = resolve));
    // A client in subscriber mode can do nothing else: listen on a duplicate. It subscribes on
    // every connection, here rather than by the driver, so that a subscription that fails (a
    // connection lost meanwhile, a refusal) is tried again.
    const subscriber = this.client.duplicate({ autoResubscribe: false, lazyConnect: false, enableOfflineQueue: false });
    const subscribe = async (): Promise<void> => {
      cancel(retry);
      retry = undefined;
      if (stopped) return;
      try {
        await within(subscriber.subscribe(channel), this.timeoutMs);
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
      if (from !== channel) return;
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
    // A page at a time (a definition is up to 80 KiB: fewer of them); SSCAN may give a name twice.
    const found = new Map<string, { name: string; paused: boolean; definition?: string }>();
    let cursor = '0';
    do {
      const reply = (await this.script('rows', [which, cursor, which === 'definitions' ? 100 : BATCH_SIZE])) as string[];
      cursor = String(reply[0]);
      for (let i = 1; i < reply.length; i += 3) {
        const row = { name: reply[i], paused: reply[i + 1] === '1' };
        found.set(row.name, which === 'definitions' && reply[i + 1] !== 'x' ? { ...row, definition: reply[i + 2] } : row);
      }
    } while (cursor !== '0');
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The client: the one given, or the store's own, made on first use with the time limit of {@link configure}. */
  private get client(): RedisLike {
    if (this.clientInstance) return this.clientInstance;
    // Closed before it was ever used: no client is made any more.
    if (this.closed) throw new StoreUnavailableError('redis', 'the store is closed');
    const { Redis, url } = this.ownClientOf!;
    // Fail fast while disconnected: a claim that waits for the reconnection would run late. It
    // connects in connect(), and reconnects by itself after.
    const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: this.timeoutMs });
    client.on('error', () => undefined);
    return (this.clientInstance = client);
  }

  /**
   * Warns once when Redis may evict keys (`maxmemory-policy` other than `noeviction`): a job whose
   * hash is evicted loses its watermark, and a tick can run twice. A server that refuses `CONFIG`
   * (managed Redis often does) is not asked again, and nothing is said.
   */
  private async checkEvictionPolicy(client: RedisLike): Promise<void> {
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
function ready(client: RedisLike, timeoutMs: number, restartStalled: boolean): Promise<void> {
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

/** Leases as one JSON argument: name, fencing token (as text, as the hash keeps it), name… */
function leasesJson(leases: readonly Lease[]): string {
  const flat: string[] = [];
  for (const lease of leases) flat.push(lease.job, String(lease.fencingToken));
  return JSON.stringify(flat);
}
