import { StoreUnavailableError } from '../errors';
import { Backoff } from '../engine/backoff';
import { BATCH_SIZE, batches, inBatches, MAX_SWEEP_PAGES } from './batches';
import { cancel, later, loadDriver, MAX_DELAY_MS, unavailable, within } from './driver';
import {
  CheckIn,
  DEAD_REMEMBERED_MS,
  FinishedRun,
  historySizeOption,
  newestOfEachJob,
  readRun,
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
  SAFE_NAME,
  StoredJobDefinition,
  StoredJobState,
  Sweep,
  TickClaim,
} from './job-store';

/** The parts of a `pg` query result used here. */
interface PgResult {
  rows: Array<Record<string, unknown>>;
}

/** The parts of a `pg` client used here (a pooled client, for LISTEN). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  release(error?: Error | boolean): void;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error?: Error) => void): unknown;
}

/** The parts of a `pg` `Pool` used here. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Where it connects, to name the server in messages (never its password). */
  readonly options?: { connectionString?: string; host?: string; port?: number | string; database?: string };
}

/** Options of {@link PostgresJobStore}: a pool of yours, or a connection string for one of its own. */
export interface PostgresJobStoreOptions {
  /** A `pg` `Pool` to use; it is not closed by the store. */
  pool?: PgPoolLike;
  /** A connection string, for a pool the store makes (and closes). */
  connectionString?: string;
  /** The schema of the store's tables. Default `metronome`. */
  schema?: string;
  /** A prefix for the table names, to keep several schedulers in one schema. Default none. */
  tablePrefix?: string;
  /**
   * How many finished runs of each job the run history keeps (table `runs`, written in the
   * flush that releases each run's lease). Default 20; 0 keeps none, and nothing is written.
   */
  historySize?: number;
}

/** The store's tables and sequence, as quoted names. */
interface Tables {
  jobs: string;
  /** Where every fencing token comes from: tokens grow across a job's removal and re-adding. */
  fencing: string;
  /** The instances' check-ins. */
  instances: string;
  /** Counts the changes to jobs (saved, removed, paused, resumed). */
  revision: string;
  /** The index of leases by expiry, as a bare name (it lives in the table's schema). */
  leaseIndex: string;
  /** The run history: finished runs, numbered in the order they were written. */
  runs: string;
  /** The index of the run history by job, as a bare name. */
  runsIndex: string;
}

/** Versioned schema changes, applied in order, once each, under an advisory lock. */
const MIGRATIONS: ReadonlyArray<(tables: Tables) => string> = [
  ({ jobs }) => `CREATE TABLE IF NOT EXISTS ${jobs} (
    name text PRIMARY KEY,
    anchor bigint NOT NULL,
    last_tick bigint,
    paused boolean NOT NULL DEFAULT false,
    definition jsonb,
    fencing bigint NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until bigint,
    lease_token bigint,
    lease_tick bigint,
    lease_attempt integer,
    lease_delivery text
  )`,
  // Trigger fingerprints, the first tick of a lease, leases handed back, and one counter for tokens.
  ({ jobs, fencing }) => `
    ALTER TABLE ${jobs} ADD COLUMN IF NOT EXISTS fingerprint text,
      ADD COLUMN IF NOT EXISTS trigger text,
      ADD COLUMN IF NOT EXISTS lease_from bigint,
      ADD COLUMN IF NOT EXISTS lease_handed boolean NOT NULL DEFAULT false;
    CREATE SEQUENCE IF NOT EXISTS ${fencing};
    SELECT setval('${fencing}', GREATEST(last, 1), last > 0) FROM (SELECT COALESCE(max(fencing), 0) AS last FROM ${jobs}) AS m`,
  // Leases claimed ahead of their tick, not started yet (false; null once started, and for leases written before).
  ({ jobs }) => `ALTER TABLE ${jobs} ADD COLUMN IF NOT EXISTS lease_started boolean`,
  // Instances check in; a revision counts changes; expired leases are found by an index.
  ({ jobs, instances, revision, leaseIndex }) => `
    CREATE TABLE IF NOT EXISTS ${instances} (id text PRIMARY KEY, info jsonb NOT NULL, checked_in bigint NOT NULL, reaped bigint);
    CREATE SEQUENCE IF NOT EXISTS ${revision};
    CREATE INDEX IF NOT EXISTS ${leaseIndex} ON ${jobs} (lease_until) WHERE lease_owner IS NOT NULL`,
  // The runs claims gave out, for a cluster-wide maxRuns.
  ({ jobs }) => `ALTER TABLE ${jobs} ADD COLUMN IF NOT EXISTS runs bigint NOT NULL DEFAULT 0`,
  // The token of a lease claimed ahead that waits for its run: a lease is unstarted only while this
  // is its token, so that a version that knows nothing of it and claims the job (a new token) does
  // not leave its run marked unstarted. lease_started is no longer written (false): a version that
  // reads only it would take a run started by startAll for unstarted; it is cleared where found.
  ({ jobs }) => `ALTER TABLE ${jobs} ADD COLUMN IF NOT EXISTS lease_unstarted bigint`,
  // A tick queued behind the lease (overlap 'queue'), handed on when the lease ends.
  ({ jobs }) => `ALTER TABLE ${jobs} ADD COLUMN IF NOT EXISTS lease_queued bigint`,
  // Each instance's mark of the ticks it started (startAll), and when it was last declared dead
  // (kept when it checks in again: it marks its starts one by one for an hour).
  ({ instances }) => `ALTER TABLE ${instances} ADD COLUMN IF NOT EXISTS started_up_to bigint, ADD COLUMN IF NOT EXISTS last_reaped bigint`,
  // The run history: the last runs of each job are kept.
  // Versions before it never read nor write it.
  ({ runs, runsIndex }) => `
    CREATE TABLE IF NOT EXISTS ${runs} (
      id bigserial PRIMARY KEY,
      job text NOT NULL,
      instance text NOT NULL,
      scheduled_at double precision NOT NULL,
      started_at double precision NOT NULL,
      duration_ms double precision NOT NULL,
      attempt integer NOT NULL,
      outcome text NOT NULL,
      error text
    );
    CREATE INDEX IF NOT EXISTS ${runsIndex} ON ${runs} (job, id)`,
  // Since when each instance has checked in without a gap: only one that has for long enough
  // declares others dead (see CheckIn.deadAfterMs). Versions before it neither read nor write it.
  ({ instances }) => `ALTER TABLE ${instances} ADD COLUMN IF NOT EXISTS checked_in_since bigint`,
];

/**
 * Statements (CTEs) that write run records — eight arrays from parameter `$p` on, then the
 * history's size — and trim each job's history to its newest runs: those of this statement and
 * the ones before (which the statement's own DELETE does not see, hence the union). Two
 * statements writing the same job at once may each keep a few more; the next write trims them.
 */
const RECORD_RUNS = ({ runs }: Tables, p: number) => `
  run_input AS (
    SELECT * FROM unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::float8[], $${p + 3}::float8[], $${p + 4}::float8[], $${p + 5}::int[], $${p + 6}::text[], $${p + 7}::text[])
      WITH ORDINALITY AS r(job, instance, scheduled_at, started_at, duration_ms, attempt, outcome, error, ord)
  ),
  recorded AS (
    INSERT INTO ${runs} (job, instance, scheduled_at, started_at, duration_ms, attempt, outcome, error)
    SELECT job, instance, scheduled_at, started_at, duration_ms, attempt, outcome, error FROM run_input ORDER BY ord RETURNING id, job
  ),
  trimmed AS (
    DELETE FROM ${runs} o USING (
      SELECT t.job, (SELECT min(n.id) FROM (
          (SELECT r.id FROM recorded r WHERE r.job = t.job)
          UNION ALL (SELECT x.id FROM ${runs} x WHERE x.job = t.job ORDER BY x.id DESC LIMIT $${p + 8})
          ORDER BY id DESC LIMIT $${p + 8}) AS n) AS keep_from
      FROM (SELECT DISTINCT job FROM recorded) AS t
    ) k WHERE o.job = k.job AND o.id < k.keep_from RETURNING o.id
  )`;

/** The values of {@link RECORD_RUNS}, in order. */
function recordValues(runs: readonly FinishedRun[], historySize: number): unknown[] {
  return [
    runs.map((run) => run.job),
    runs.map((run) => run.instance),
    runs.map((run) => run.scheduledAt),
    runs.map((run) => run.startedAt),
    runs.map((run) => run.durationMs),
    runs.map((run) => Math.round(run.attempt)),
    runs.map((run) => run.outcome),
    runs.map((run) => run.error ?? null),
    historySize,
  ];
}

/** The run feed's position: the last id read, and ids skipped below it that may still show up (see `runsSince`). */
interface FeedCursor {
  /** The last id read. */
  a: number;
  /** Ids below it not found yet, each with when it was first missed (the database's clock). */
  g: Array<[number, number]>;
}

/** How many missing ids a cursor looks for again at most. */
const MAX_GAPS = 100;
/** How long a missing id is looked for, in ms: far longer than any statement that writes runs may take. */
const GAP_MS = 60_000;

const NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
/**
 * A lease handed on to the tick queued behind it (overlap 'queue') as it ends, from `d`'s `queued`
 * and `new_token`; ended otherwise: handed back at that tick, under the new token, attempt 1 once
 * taken over. With the owner and expiry, which differ by caller.
 */
const HANDED_ON = (d: string) => `
  fencing = COALESCE(${d}.new_token, j.fencing), lease_token = ${d}.new_token, lease_tick = ${d}.queued, lease_from = ${d}.queued,
  lease_attempt = CASE WHEN ${d}.queued IS NOT NULL THEN 0 END, lease_handed = ${d}.queued IS NOT NULL, lease_queued = NULL,
  lease_delivery = CASE WHEN ${d}.queued IS NOT NULL THEN j.lease_delivery END, lease_started = NULL, lease_unstarted = NULL`;
/** One announcement of the leases a statement handed on (rows of `from` with `queued`), naming the first: whoever hears it sweeps once. */
const ANNOUNCE_HANDED_ON = (from: string, channel: string) =>
  `SELECT pg_notify(${channel}, json_build_object('kind', 'handed-back', 'job', name, 'origin', '')::text) FROM (SELECT name FROM ${from} WHERE queued IS NOT NULL LIMIT 1) AS first`;
/**
 * Whether a lease was claimed ahead and its run has not started: marked unstarted under its own
 * token (migration 6), and not covered by its instance's mark of the ticks it started (startAll,
 * migration 8). Of the row `j` (an alias and a dot, or '').
 */
const unstarted = (j: string, instances: string) =>
  `CASE WHEN ${j}lease_unstarted = ${j}lease_token
     THEN NOT COALESCE((SELECT s.started_up_to >= ${j}lease_tick FROM ${instances} s WHERE s.id = ${j}lease_owner), false) ELSE false END`;
/** Whether a lease that ran out is taken over by an instance that has its job (at-least-once, handed back, never started), rather than given up. */
const retake = (j: string, instances: string) => `(COALESCE(${j}lease_delivery = 'at-least-once', false) OR ${j}lease_handed OR ${unstarted(j, instances)})`;

/**
 * A page of expired leases after `$1` (`$2` of them): name, whether to take it over, and three
 * empty columns (see `checkInAndList`). `also`: other leases to list, as a condition on the row.
 */
const EXPIRED_PAGE = ({ jobs, instances }: Tables, also: string) => `
  SELECT name, retake, NULL::bigint AS revision, NULL::bigint AS was_reaped, NULL::bigint AS store_now FROM (
    SELECT name, ${retake('', instances)} AS retake FROM ${jobs} WHERE lease_owner IS NOT NULL AND lease_until < ${NOW} AND name > $1
    UNION SELECT name, ${retake('', instances)} FROM ${jobs} WHERE ${also} AND name > $1
    ORDER BY name LIMIT $2
  ) AS page`;

/**
 * A store on PostgreSQL (driver `pg`). A claim is one statement: the due jobs' rows are locked
 * (skipping rows another instance holds), their watermark advanced and the run's lease written,
 * for every tick of a wake-up at once. Leases use the database's clock. Changes are announced with
 * `LISTEN`/`NOTIFY`. Every value is a query parameter; schema and prefix are checked names.
 */
export class PostgresJobStore implements JobStore {
  readonly kind = 'postgres';
  readonly shared = true;
  readonly historySize: number;
  /** The pool given, or the store's own once made (see {@link pool}). */
  private poolInstance: PgPoolLike | null;
  /** How to make a pool of its own: `pg`'s `Pool` and the connection string. */
  private readonly ownPoolOf: { Pool: new (config: object) => PgPoolLike; connectionString: string } | null;
  private readonly ownPool: boolean;
  /** The connections of the store's own pool that carry its statement timeout. */
  private readonly limited = new WeakSet<PgClientLike>();
  private readonly schema: string;
  private readonly jobs: string;
  private readonly fencing: string;
  private readonly tables: Tables;
  /** Counts a change in the revision (in a statement that makes one). */
  private get bump(): string {
    return `nextval('${this.tables.revision}')`;
  }
  private readonly meta: string;
  private readonly channel: string;
  /** Host, port and database, for messages. */
  private readonly address: string;
  /** How long a call may take (see {@link configure}). */
  private timeoutMs = 5_000;
  /** The stop functions of the listeners {@link watch} started. */
  private readonly watches = new Set<() => Promise<void>>();
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(options: PostgresJobStoreOptions) {
    const schema = options.schema ?? 'metronome';
    const prefix = options.tablePrefix ?? '';
    if (!SAFE_NAME.test(schema))
      throw new StoreUnavailableError('postgres', `schema ${JSON.stringify(schema)} is not a safe name (letters, digits and _, up to 48)`);
    if (prefix !== '' && !SAFE_NAME.test(prefix))
      throw new StoreUnavailableError('postgres', `tablePrefix ${JSON.stringify(prefix)} is not a safe name (letters, digits and _, up to 48)`);
    if (!options.pool && !options.connectionString) throw new StoreUnavailableError('postgres', 'give it a pool or a connectionString');
    this.schema = `"${schema}"`;
    this.jobs = `"${schema}"."${prefix}jobs"`;
    this.fencing = `"${schema}"."${prefix}fencing"`;
    this.tables = {
      jobs: this.jobs,
      fencing: this.fencing,
      instances: `"${schema}"."${prefix}instances"`,
      revision: `"${schema}"."${prefix}revision"`,
      leaseIndex: `"${prefix}jobs_lease_until"`,
      runs: `"${schema}"."${prefix}runs"`,
      runsIndex: `"${prefix}runs_job"`,
    };
    this.historySize = historySizeOption('postgres', options.historySize);
    this.meta = `"${schema}"."${prefix}meta"`;
    this.channel = `${schema}_${prefix}changes`.slice(0, 63);
    if (options.pool) {
      this.poolInstance = options.pool;
      this.ownPoolOf = null;
      this.ownPool = false;
    } else {
      const { Pool } = loadDriver<{ Pool: new (config: object) => PgPoolLike }>('pg', 'postgres');
      this.poolInstance = null;
      this.ownPoolOf = { Pool, connectionString: options.connectionString! };
      this.ownPool = true;
    }
    this.address = pgAddress(options.pool ? (options.pool.options ?? {}) : { connectionString: options.connectionString });
  }

  /** Takes the time limit of every call: a connection, a query, a wait for a lock. Before {@link connect}. */
  configure(settings: { timeoutMs: number }): void {
    this.timeoutMs = Math.min(Math.max(1, Math.ceil(settings.timeoutMs)), MAX_DELAY_MS - GRACE_MS);
  }

  async connect(): Promise<void> {
    // A statement that waits for a lock holds up the claims queued behind it: the migration waits
    // for a lock (another instance's migration, a table in use) half the time limit at most, so
    // that they do not time out; it fails then, and is tried again at the next sync.
    await this.transaction((client) => this.migrate(client), { lock_timeout: this.timeoutMs / 2 });
  }

  /** Creates or migrates the schema, in the transaction of {@link connect}. */
  private async migrate(client: PgClientLike): Promise<void> {
    // Instances starting together take turns: the DDL runs once, the others see it done.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nestjs-metronome:${this.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${this.meta} (key text PRIMARY KEY, value text NOT NULL)`);
    const { rows } = await client.query(`SELECT value FROM ${this.meta} WHERE key = 'version'`);
    const version = rows.length ? Number(rows[0].value) : 0;
    for (let next = version; next < MIGRATIONS.length; next++) await client.query(MIGRATIONS[next](this.tables));
    // A schema made by a newer version is left as it is.
    if (version < MIGRATIONS.length) {
      await client.query(`INSERT INTO ${this.meta} (key, value) VALUES ('version', $1) ON CONFLICT (key) DO UPDATE SET value = $1`, [
        String(MIGRATIONS.length),
      ]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    return (this.closing ??= (async () => {
      await Promise.all([...this.watches].map((stop) => stop()));
      // A pool of its own is ended once its clients are back, each within its time limit.
      if (this.ownPool && this.poolInstance) await this.poolInstance.end();
    })());
  }

  async register(jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>> {
    return inBatches(jobs, (batch) => this.registerBatch(batch));
  }

  private async registerBatch(jobs: ReadonlyArray<JobRegistration>): Promise<Array<StoredJobState | null>> {
    if (jobs.length === 0) return [];
    // One row per name (the last registration of a batch counts); rows are locked in name order, as claims lock them.
    const byName = new Map(jobs.map((job) => [job.name, job]));
    const unique = [...byName.values()];
    const { rows } = await this.query(
      `INSERT INTO ${this.jobs} (name, anchor, fingerprint, trigger)
       SELECT name, anchor, fingerprint, trigger FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS i(name, anchor, fingerprint, trigger) ORDER BY name
       ON CONFLICT (name) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, trigger = EXCLUDED.trigger
       RETURNING name, anchor, last_tick, paused`,
      [
        unique.map((job) => job.name),
        unique.map((job) => Math.round(job.anchor)),
        unique.map((job) => job.fingerprint),
        unique.map((job) => job.trigger ?? job.fingerprint),
      ],
    );
    const stored = new Map(rows.map((row) => [row.name as string, row]));
    return jobs.map(({ name }) => {
      const row = stored.get(name)!;
      return { name, anchor: Number(row.anchor), lastTick: row.last_tick === null ? null : Number(row.last_tick), paused: Boolean(row.paused) };
    });
  }

  async claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    return inBatches(claims, (batch) => this.claimBatch(instance, batch));
  }

  private async claimBatch(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    if (claims.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (
         SELECT * FROM unnest($2::text[], $3::bigint[], $4::boolean[], $5::bigint[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::boolean[], $11::bigint[], $12::boolean[])
           AS c(name, tick, exclusive, lease_ms, delivery, ord, from_tick, fingerprint, ahead, max_runs, queue)
       ),
       locked AS (
         SELECT j.name, c.tick, c.from_tick, c.lease_ms, c.delivery, c.exclusive, c.ahead, c.queue, j.lease_queued IS NOT NULL AS has_queued, j.paused, j.fencing, now.ms AS now,
                c.max_runs IS NOT NULL AND j.runs >= c.max_runs AS completed,
                j.lease_owner AS old_owner, j.lease_tick AS old_tick, j.lease_attempt AS old_attempt, j.lease_queued AS old_queued,
                -- A lease is taken while it lives, and after, while a run waits to be taken over (its own, or one queued behind it).
                j.lease_owner IS NOT NULL AND (COALESCE(j.lease_until, 0) > now.ms OR j.lease_delivery = 'at-least-once' OR j.lease_handed OR ${unstarted('j.', this.tables.instances)}
                  OR j.lease_queued IS NOT NULL) AS taken
         FROM input c CROSS JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = c.name) j CROSS JOIN (SELECT ${NOW} AS ms) now
         WHERE (j.last_tick IS NULL OR j.last_tick < c.tick) AND (j.fingerprint IS NULL OR j.fingerprint = c.fingerprint)
         ORDER BY j.name
         -- A row another transaction holds is not waited for: its claim comes back 'locked', to be asked again.
         FOR UPDATE OF j SKIP LOCKED
       ),
       -- Made ahead and finding the lease taken: asked again at the tick rather than skipped (the run in the way may end before).
       asked AS (SELECT *, NOT paused AND ahead AND taken AS later FROM locked),
       outcomes AS (
         SELECT *, NOT later AND NOT paused AND NOT completed AND NOT (exclusive AND taken) AS runs,
                NOT later AND NOT paused AND NOT completed AND NOT taken AS leases,
                -- Queued behind the run, one tick at most: handed on when its lease ends.
                NOT later AND NOT paused AND NOT completed AND exclusive AND taken AND queue AND NOT has_queued AS queues
         FROM asked
       ),
       -- The token beside the row (a join of two lists of a thousand rows each would be planned as a loop over both).
       decided AS (SELECT *, CASE WHEN runs THEN GREATEST(nextval('${this.fencing}'), fencing + 1) END AS token FROM outcomes),
       claimed AS (
         UPDATE ${this.jobs} j SET
           last_tick = d.tick,
           fencing = COALESCE(d.token, j.fencing),
           runs = j.runs + CASE WHEN d.runs OR d.queues THEN 1 ELSE 0 END,
           -- A tick queued behind a lease that ended without handing it on (a version that does not queue released it) goes.
           lease_queued = CASE WHEN d.queues THEN d.tick WHEN d.leases THEN NULL ELSE j.lease_queued END,
           lease_owner = CASE WHEN d.leases THEN $1 ELSE j.lease_owner END,
           lease_until = CASE WHEN d.leases THEN d.now + d.lease_ms ELSE j.lease_until END,
           lease_token = CASE WHEN d.leases THEN d.token ELSE j.lease_token END,
           lease_tick = CASE WHEN d.leases THEN d.tick ELSE j.lease_tick END,
           lease_from = CASE WHEN d.leases THEN d.from_tick ELSE j.lease_from END,
           lease_attempt = CASE WHEN d.leases THEN 1 ELSE j.lease_attempt END,
           lease_delivery = CASE WHEN d.leases THEN d.delivery ELSE j.lease_delivery END,
           lease_handed = CASE WHEN d.leases THEN false ELSE j.lease_handed END,
           lease_started = CASE WHEN d.leases THEN NULL ELSE j.lease_started END,
           lease_unstarted = CASE WHEN d.leases THEN CASE WHEN d.ahead THEN d.token END ELSE j.lease_unstarted END
         FROM decided d WHERE j.name = d.name AND NOT d.later
         RETURNING j.name, d.runs, d.leases, d.queues, j.paused, d.completed, d.token, d.old_owner, d.old_tick, d.old_attempt, d.old_queued
       )
       SELECT c.ord, COALESCE(x.trigger, x.fingerprint) AS stored_trigger,
              -- The lease a won claim replaced: an expired at-most-once one no sweep gave up yet.
              CASE WHEN k.leases THEN k.old_owner END AS replaced_owner, k.old_tick AS replaced_tick, k.old_attempt AS replaced_attempt,
              -- A tick queued behind a lease that ended without handing it on, which goes: said so.
              CASE WHEN k.leases THEN k.old_queued END AS dropped_queued,
              CASE WHEN k.name IS NOT NULL THEN CASE WHEN k.runs THEN 'won' WHEN k.queues THEN 'queued' WHEN k.paused THEN 'paused' WHEN k.completed THEN 'completed' ELSE 'busy' END
                   WHEN l.later THEN 'later'
                   WHEN x.name IS NULL THEN 'gone'
                   WHEN x.fingerprint IS NOT NULL AND x.fingerprint <> c.fingerprint THEN 'superseded'
                   -- Complete for every instance, whoever asks: not only for the first, who took the tick.
                   WHEN c.max_runs IS NOT NULL AND x.runs >= c.max_runs THEN 'completed'
                   WHEN x.last_tick IS NOT NULL AND x.last_tick > c.tick THEN 'overtaken'
                   WHEN x.last_tick IS NOT NULL AND x.last_tick = c.tick THEN 'lost'
                   ELSE 'locked' END AS status,
              k.token
       FROM input c LEFT JOIN claimed k ON k.name = c.name LEFT JOIN decided l ON l.name = c.name LEFT JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = c.name) x ON true
       ORDER BY c.ord`,
      [
        instance,
        claims.map((c) => c.job),
        claims.map((c) => Math.round(c.tick)),
        claims.map((c) => c.exclusive),
        claims.map((c) => c.leaseMs),
        claims.map((c) => c.delivery),
        claims.map((_, index) => index),
        claims.map((c) => Math.round(c.from)),
        claims.map((c) => c.fingerprint),
        claims.map((c) => c.ahead === true),
        claims.map((c) => c.maxRuns ?? null),
        claims.map((c) => c.queue === true),
      ],
    );
    return rows.map((row): ClaimOutcome => {
      if (row.status === 'won') {
        const fencingToken = Number(row.token);
        const replaced =
          row.replaced_owner === null
            ? {}
            : { replaced: { tick: Number(row.replaced_tick ?? 0), attempt: Number(row.replaced_attempt ?? 1), owner: row.replaced_owner as string } };
        return { status: 'won', fencingToken, ...replaced, ...(row.dropped_queued === null ? {} : { droppedQueued: Number(row.dropped_queued) }) };
      }
      if (row.status === 'superseded') return { status: 'superseded', trigger: row.stored_trigger as string };
      return { status: row.status as 'busy' | 'lost' | 'overtaken' | 'paused' | 'gone' | 'locked' | 'later' | 'completed' | 'queued' };
    });
  }

  async start(instance: string, leases: readonly Lease[]): Promise<boolean[]> {
    // A lease that ran out (its instance was declared dead, or did not renew it) may be another's at any moment: not started.
    return inBatches(leases, (batch) => this.updateHeld(instance, batch, 'lease_started = NULL, lease_unstarted = NULL', `j.lease_until >= ${NOW}`));
  }

  async startAll(instance: string, upTo: number): Promise<boolean> {
    // Refused for an instance declared dead within the hour (its leases may have been taken over as
    // unstarted meanwhile), or that has not checked in; the row lock orders it with a reaping.
    const { rows } = await this.query(
      `UPDATE ${this.tables.instances} SET started_up_to = GREATEST(COALESCE(started_up_to, $2), $2)
       WHERE id = $1 AND reaped IS NULL AND COALESCE(last_reaped, 0) < ${NOW} - ${DEAD_REMEMBERED_MS} RETURNING id`,
      [instance, Math.round(upTo)],
    );
    return rows.length === 1;
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    return inBatches(leases, (batch) => this.updateHeld(instance, batch, `lease_until = ${NOW} + $5`, 'true', leaseMs));
  }

  /** Sets `set` on the leases `instance` still holds under their token (and that meet `also`); whether each was held, in order. */
  private async updateHeld(instance: string, leases: readonly Lease[], set: string, also: string, ...values: unknown[]): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::int[]) AS l(name, token, ord)),
       locked AS (
         SELECT j.name FROM input l CROSS JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = l.name) j
         WHERE j.lease_token = l.token AND j.lease_owner = $1 AND NOT j.lease_handed AND ${also} ORDER BY j.name FOR UPDATE OF j
       ),
       updated AS (
         UPDATE ${this.jobs} j SET ${set} FROM locked k WHERE j.name = k.name RETURNING j.name
       )
       SELECT l.ord, r.name IS NOT NULL AS held FROM input l LEFT JOIN updated r ON r.name = l.name ORDER BY l.ord`,
      [instance, leases.map((l) => l.job), leases.map((l) => l.fencingToken), leases.map((_, index) => index), ...values],
    );
    return rows.map((row) => Boolean(row.held));
  }

  async release(leases: readonly Lease[]): Promise<number> {
    let handedOn = 0;
    for (const batch of batches(leases)) handedOn += await this.releaseBatch(batch);
    return handedOn;
  }

  private async releaseBatch(leases: readonly Lease[]): Promise<number> {
    // A lease with a tick queued behind it is handed on to that tick (see HANDED_ON) rather than ended.
    const { rows } = await this.query(
      `WITH locked AS (
         SELECT j.name, j.fencing, j.lease_queued AS queued FROM unnest($1::text[], $2::bigint[]) AS l(name, token)
           CROSS JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = l.name) j
         WHERE j.lease_token = l.token AND NOT j.lease_handed ORDER BY j.name FOR UPDATE OF j
       ),
       decided AS (SELECT *, CASE WHEN queued IS NOT NULL THEN GREATEST(nextval('${this.fencing}'), fencing + 1) END AS new_token FROM locked),
       ended AS (
         UPDATE ${this.jobs} j SET ${HANDED_ON('d')},
           lease_owner = CASE WHEN d.queued IS NOT NULL THEN j.lease_owner END,
           lease_until = CASE WHEN d.queued IS NOT NULL THEN 0 END
         FROM decided d WHERE j.name = d.name RETURNING j.name, d.queued
       ),
       announced AS (${ANNOUNCE_HANDED_ON('ended', '$3')})
       SELECT (SELECT count(*) FROM ended WHERE queued IS NOT NULL) AS handed, (SELECT count(*) FROM announced) AS announced`,
      [leases.map((l) => l.job), leases.map((l) => l.fencingToken), this.channel],
    );
    return Number(rows[0]?.handed ?? 0);
  }

  async recordRuns(runs: readonly FinishedRun[]): Promise<void> {
    if (this.historySize === 0) return;
    for (const batch of batches(runs)) {
      const kept = newestOfEachJob(batch, this.historySize);
      if (kept.length > 0)
        await this.query(`WITH ${RECORD_RUNS(this.tables, 1)} SELECT count(*) AS recorded FROM recorded`, recordValues(kept, this.historySize));
    }
  }

  async runHistory(job: string, limit: number): Promise<FinishedRun[]> {
    const count = Math.min(Math.max(0, Math.floor(limit)), this.historySize);
    if (count === 0) return [];
    const { rows } = await this.query(
      `SELECT job, instance, scheduled_at, started_at, duration_ms, attempt, outcome, error FROM ${this.tables.runs} WHERE job = $1 ORDER BY id DESC LIMIT $2`,
      [job, count],
    );
    return rows.flatMap((row) => readRow(row) ?? []);
  }

  /**
   * The runs written since the cursor, in the order of their ids. A statement that writes runs
   * takes its ids as it runs and may commit after one that took later ids: an id missing below the
   * last one read is looked for again by the next calls (up to {@link MAX_GAPS} of them, for
   * {@link GAP_MS}), so that a run committed late is still returned, once. Ids missing because a
   * job's history was trimmed are looked for in vain for that time.
   */
  async runsSince(cursor: string | null, limit: number): Promise<RunPage> {
    const count = Math.min(Math.max(1, Math.floor(limit)), BATCH_SIZE);
    const from = cursor === null ? null : parseCursor(cursor);
    if (from === null) {
      const { rows } = await this.query(`SELECT COALESCE(max(id), 0) AS head FROM ${this.tables.runs}`);
      return { runs: [], cursor: JSON.stringify({ a: Number(rows[0]?.head ?? 0), g: [] } satisfies FeedCursor) };
    }
    const { rows } = await this.query(
      `WITH now AS (SELECT ${NOW} AS ms)
       SELECT now.ms AS now, r.* FROM now LEFT JOIN LATERAL (
         SELECT id, job, instance, scheduled_at, started_at, duration_ms, attempt, outcome, error FROM ${this.tables.runs}
         WHERE id > $1 OR id = ANY($2::bigint[]) ORDER BY id LIMIT $3
       ) AS r ON true ORDER BY r.id`,
      [from.a, from.g.map(([id]) => id), count],
    );
    const now = Number(rows[0]?.now ?? 0);
    const found = rows.filter((row) => row.id !== null);
    const foundIds = new Set(found.map((row) => Number(row.id)));
    // Ids still missing below the last one read: those looked for before, and those passed over now.
    let gaps = from.g.filter(([id, since]) => !foundIds.has(id) && now - since < GAP_MS);
    let after = from.a;
    for (const row of found) {
      const id = Number(row.id);
      if (id <= after) continue;
      for (let gap = Math.max(after + 1, id - MAX_GAPS); gap < id; gap++) gaps.push([gap, now]);
      after = id;
    }
    if (gaps.length > MAX_GAPS) gaps = gaps.sort(([a], [b]) => a - b).slice(-MAX_GAPS);
    return { runs: found.flatMap((row) => readRow(row) ?? []), cursor: JSON.stringify({ a: after, g: gaps } satisfies FeedCursor) };
  }

  async recover(instance: string, leaseMs: number, jobs: JobSet, checkIn?: CheckIn): Promise<Sweep> {
    // The runs to deal with, a page of expired leases at a time: those given up whoever has their
    // job, and those to take over of the jobs here. Leases left for other instances are passed.
    // The first page checks in.
    const names: string[] = [];
    const mine: boolean[] = [];
    let after = '';
    let more = false;
    let seen: Pick<Sweep, 'reaped' | 'revision' | 'storeNow'> = {};
    for (let page = 0; page < MAX_SWEEP_PAGES && names.length < BATCH_SIZE; page++) {
      const { rows } = page === 0 && checkIn ? await this.checkInAndList(instance, checkIn) : await this.listExpired(after);
      let listed = 0;
      for (const row of rows) {
        if (row.name === null) {
          seen = { revision: Number(row.revision), reaped: row.was_reaped !== null, storeNow: Number(row.store_now) };
          continue;
        }
        listed++;
        const name = row.name as string;
        const has = jobs.has(name);
        after = name;
        if (row.retake && !has) continue;
        names.push(name);
        mine.push(has);
      }
      more = listed === BATCH_SIZE;
      if (!more) break;
    }
    if (names.length === 0) return { recovered: [], abandoned: [], more, ...seen };
    more ||= names.length > BATCH_SIZE;
    const { rows } = await this.query(
      `WITH expired AS (
         SELECT j.name, j.lease_owner AS owner, COALESCE(j.lease_tick, 0) AS tick, COALESCE(j.lease_from, j.lease_tick, 0) AS from_tick,
                COALESCE(j.lease_attempt, 1) AS attempt, COALESCE(j.lease_token, 0) AS token, j.fencing,
                -- A run that never started is taken over at the attempt it was claimed for.
                CASE WHEN ${unstarted('j.', this.tables.instances)} THEN 0 ELSE 1 END AS next_attempt,
                ${retake('j.', this.tables.instances)} AS retake, j.lease_queued AS queued
         FROM unnest($3::text[], $4::boolean[]) AS c(name, mine) CROSS JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = c.name) j
         WHERE j.lease_owner IS NOT NULL AND COALESCE(j.lease_until, 0) < ${NOW}
           -- A run to take over is left for an instance that has its job.
           AND (NOT (${retake('j.', this.tables.instances)}) OR c.mine)
         ORDER BY j.name
         FOR UPDATE OF j SKIP LOCKED
       ),
       -- A run given up with a tick queued behind it is handed on to that tick (see HANDED_ON).
       decided AS (SELECT *, CASE WHEN retake THEN GREATEST(nextval('${this.fencing}'), fencing + 1) END AS retaken_token,
                          CASE WHEN NOT retake AND queued IS NOT NULL THEN GREATEST(nextval('${this.fencing}'), fencing + 1) END AS new_token FROM expired),
       swept AS (
         UPDATE ${this.jobs} j SET
           fencing = COALESCE(e.retaken_token, e.new_token, j.fencing),
           lease_owner = CASE WHEN e.retake THEN $1 WHEN e.queued IS NOT NULL THEN j.lease_owner END,
           lease_until = CASE WHEN e.retake THEN ${NOW} + $2 WHEN e.queued IS NOT NULL THEN 0 END,
           lease_token = COALESCE(e.retaken_token, e.new_token),
           lease_tick = CASE WHEN e.retake THEN e.tick ELSE e.queued END,
           lease_from = CASE WHEN e.retake THEN e.from_tick ELSE e.queued END,
           lease_attempt = CASE WHEN e.retake THEN e.attempt + e.next_attempt WHEN e.queued IS NOT NULL THEN 0 END,
           lease_delivery = CASE WHEN e.retake OR e.queued IS NOT NULL THEN j.lease_delivery END,
           lease_handed = NOT e.retake AND e.queued IS NOT NULL,
           lease_queued = CASE WHEN e.retake THEN e.queued END,
           lease_started = NULL,
           lease_unstarted = NULL
         FROM decided e WHERE j.name = e.name
         RETURNING j.name, e.owner, e.tick, e.from_tick, e.attempt, e.next_attempt, e.token, e.retake, e.retaken_token AS new_token,
                   CASE WHEN NOT e.retake THEN e.queued END AS queued
       ),
       announced AS (${ANNOUNCE_HANDED_ON('swept', '$5')})
       SELECT *, (SELECT count(*) FROM announced) AS announced FROM swept`,
      [instance, leaseMs, names.slice(0, BATCH_SIZE), mine.slice(0, BATCH_SIZE), this.channel],
    );
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
    for (const row of rows) {
      const base = {
        job: row.name as string,
        tick: Number(row.tick),
        from: Number(row.from_tick),
        owner: row.owner as string,
        previousToken: Number(row.token),
      };
      if (row.retake) recovered.push({ ...base, attempt: Number(row.attempt) + Number(row.next_attempt), fencingToken: Number(row.new_token) });
      else abandoned.push({ ...base, attempt: Number(row.attempt), fencingToken: Number(row.token) });
    }
    return { recovered, abandoned, more, ...seen };
  }

  /** A page of the names of expired leases after `after`, and whether each is to be taken over. */
  private listExpired(after: string): Promise<PgResult> {
    return this.query(`${EXPIRED_PAGE(this.tables, 'false')}`, [after, BATCH_SIZE]);
  }

  /**
   * Checks in, declares dead the instances silent for `deadAfterMs` (their leases run out now),
   * and lists the first page of expired leases, theirs included; plus a row without a name: the
   * revision, and whether this instance had been declared dead.
   */
  private checkInAndList(instance: string, { self, deadAfterMs }: CheckIn): Promise<PgResult> {
    const { instances, revision } = this.tables;
    return this.query(
      `WITH before AS (SELECT reaped FROM ${instances} WHERE id = $3),
       me AS (
         INSERT INTO ${instances} AS i (id, info, checked_in, checked_in_since, reaped) VALUES ($3, $4::jsonb, ${NOW}, ${NOW}, NULL)
         ON CONFLICT (id) DO UPDATE SET info = EXCLUDED.info, checked_in = EXCLUDED.checked_in, reaped = NULL,
           -- Since when it has checked in without a gap of more than half of $5.
           checked_in_since = CASE WHEN i.reaped IS NULL AND i.checked_in_since IS NOT NULL AND i.checked_in >= EXCLUDED.checked_in - $5 / 2
                                   THEN i.checked_in_since ELSE EXCLUDED.checked_in END
         RETURNING checked_in_since
       ),
       -- Only an instance that has checked in itself, without a gap, for that long declares others dead (see CheckIn.deadAfterMs).
       dead AS (UPDATE ${instances} SET reaped = ${NOW}, last_reaped = ${NOW} WHERE reaped IS NULL AND checked_in < ${NOW} - $5 AND id <> $3
                  AND ($5 <= 0 OR (SELECT checked_in_since FROM me) <= ${NOW} - $5) RETURNING id),
       reap AS (UPDATE ${this.jobs} SET lease_until = 0 WHERE EXISTS (SELECT 1 FROM dead) AND lease_owner IN (SELECT id FROM dead) RETURNING name),
       -- Instances declared dead are remembered an hour, to tell them if they come back.
       purge AS (DELETE FROM ${instances} WHERE reaped < ${NOW} - 3600000 RETURNING id)
       ${EXPIRED_PAGE(this.tables, 'EXISTS (SELECT 1 FROM dead) AND lease_owner IN (SELECT id FROM dead)')}
       UNION ALL SELECT NULL, NULL, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${revision}), (SELECT reaped FROM before), ${NOW}`,
      ['', BATCH_SIZE, instance, JSON.stringify(self), Math.round(deadAfterMs)],
    );
  }

  async instances(deadAfterMs: number): Promise<InstanceRecord[]> {
    const { rows } = await this.query(
      `SELECT id, info, checked_in FROM ${this.tables.instances} WHERE reaped IS NULL AND checked_in >= ${NOW} - $1 ORDER BY id LIMIT 1000`,
      [Math.round(deadAfterMs)],
    );
    return rows.map((row) => instanceRecord(row.id as string, row.info, Number(row.checked_in)));
  }

  async handBack(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    return inBatches(runs, (batch) => this.handBackBatch(instance, batch));
  }

  private async handBackBatch(instance: string, runs: readonly HandedBackRun[]): Promise<boolean[]> {
    if (runs.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (
         SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[], $7::int[]) AS h(name, token, tick, from_tick, attempt, ord)
       ),
       locked AS (
         SELECT j.name, h.tick, h.from_tick, h.attempt, h.ord FROM input h CROSS JOIN LATERAL (SELECT * FROM ${this.jobs} WHERE name = h.name) j
         WHERE j.lease_owner = $1 AND j.lease_token = h.token ORDER BY j.name FOR UPDATE OF j
       ),
       handed AS (
         UPDATE ${this.jobs} j SET lease_until = 0, lease_tick = k.tick, lease_from = k.from_tick, lease_attempt = k.attempt - 1, lease_handed = true, lease_started = NULL, lease_unstarted = NULL
         FROM locked k WHERE j.name = k.name RETURNING k.ord, j.name
       ),
       -- One announcement for the batch, in the same statement: whoever hears it sweeps once.
       announced AS (
         SELECT pg_notify($8, json_build_object('kind', 'handed-back', 'job', name, 'origin', $1::text)::text) FROM (SELECT name FROM handed ORDER BY ord LIMIT 1) AS first
       )
       SELECT h.ord, d.ord IS NOT NULL AS handed, (SELECT count(*) FROM announced) AS announced
       FROM input h LEFT JOIN handed d ON d.ord = h.ord ORDER BY h.ord`,
      [
        instance,
        runs.map((run) => run.job),
        runs.map((run) => run.fencingToken),
        runs.map((run) => Math.round(run.tick)),
        runs.map((run) => Math.round(run.from)),
        runs.map((run) => run.attempt),
        runs.map((_, index) => index),
        this.channel,
      ],
    );
    const handed = rows.map((row) => Boolean(row.handed));
    return handed;
  }

  async setPaused(job: string, paused: boolean, origin: string): Promise<void> {
    await this.query(
      `WITH changed AS (UPDATE ${this.jobs} SET paused = $2 WHERE name = $1 RETURNING name) SELECT pg_notify($3, $4), ${this.bump} FROM changed`,
      [job, paused, this.channel, JSON.stringify({ kind: paused ? 'paused' : 'resumed', job, origin })],
    );
  }

  async remove(job: string, origin: string): Promise<void> {
    // The job's run history goes with it.
    await this.query(
      `WITH history AS (DELETE FROM ${this.tables.runs} WHERE job = $1), gone AS (DELETE FROM ${this.jobs} WHERE name = $1 RETURNING name)
       SELECT pg_notify($2, $3), ${this.bump} FROM gone`,
      [job, this.channel, JSON.stringify({ kind: 'removed', job, origin })],
    );
  }

  async saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void> {
    await this.query(
      `WITH saved AS (
         INSERT INTO ${this.jobs} (name, anchor, definition) VALUES ($1, $2, $3::jsonb)
         -- A definition saved (added or changed) starts its maxRuns afresh.
         ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, runs = 0 RETURNING name
       )
       SELECT pg_notify($4, $5), ${this.bump} FROM saved`,
      [definition.name, Math.round(anchor), JSON.stringify(definition), this.channel, JSON.stringify({ kind: 'saved', job: definition.name, origin })],
    );
  }

  async loadDefinitions(): Promise<Array<{ name: string; definition: unknown; paused: boolean }>> {
    // A definition is up to 80 KiB: a hundred at a time.
    const rows = await this.pages(`SELECT name, definition, paused FROM ${this.jobs} WHERE definition IS NOT NULL AND name > $1 ORDER BY name LIMIT $2`, 100);
    return rows.map((row) => ({ name: row.name as string, definition: row.definition, paused: Boolean(row.paused) }));
  }

  async loadPaused(): Promise<Map<string, boolean>> {
    const rows = await this.pages(`SELECT name, paused FROM ${this.jobs} WHERE name > $1 ORDER BY name LIMIT $2`, BATCH_SIZE);
    return new Map(rows.map((row) => [row.name as string, Boolean(row.paused)]));
  }

  /** Every row of `select` (which takes the last name seen as `$1` and a page size as `$2`), a page at a time. */
  private async pages(select: string, size: number): Promise<PgResult['rows']> {
    const all: PgResult['rows'] = [];
    let after = '';
    for (;;) {
      const { rows } = await this.query(select, [after, size]);
      for (const row of rows) all.push(row);
      if (rows.length < size) return all;
      after = rows[rows.length - 1].name as string;
    }
  }

  async watch(listener: (change: JobChange) => void): Promise<() => Promise<void>> {
    let stopped = false;
    /** The client that listens, while one does: given back (destroyed) exactly once. */
    let current: PgClientLike | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    // Reconnects wait 200 ms, doubling to 5 s; the periodic resync covers what is missed meanwhile.
    const backoff = new Backoff(200, 5_000);
    const done = () => stopped || this.closed;
    const drop = (client: PgClientLike) => {
      if (current !== client) return;
      current = null;
      // Destroyed, not given back: a connection that listens must not serve queries.
      client.release(true);
    };
    const again = () => {
      if (!done() && retry === undefined) retry = later(backoff.next(), () => ((retry = undefined), void listen()));
    };
    const listen = async (): Promise<void> => {
      if (done()) return;
      let client: PgClientLike;
      try {
        client = await this.checkout();
      } catch {
        return again();
      }
      // Stopped while connecting: the client goes back unused.
      if (done()) return client.release();
      current = client;
      const lost = () => {
        if (current !== client) return;
        drop(client);
        again();
      };
      client.on('error', lost);
      client.on('end', lost);
      client.on('notification', (message) => {
        if (message.channel !== this.channel || !message.payload) return;
        try {
          listener(JSON.parse(message.payload) as JobChange);
        } catch {
          // A payload that is not ours is ignored.
        }
      });
      try {
        await within(client.query(`LISTEN "${this.channel}"`), this.timeoutMs + GRACE_MS);
        backoff.reset();
        if (done()) drop(client);
      } catch {
        lost();
      }
    };
    const stop = async () => {
      stopped = true;
      cancel(retry);
      this.watches.delete(stop);
      if (current) drop(current);
    };
    // Known before the first try, so that close() meanwhile stops it too.
    this.watches.add(stop);
    await listen();
    return stop;
  }

  /** The pool: the one given, or the store's own, made on first use with the time limits of {@link configure}. */
  private get pool(): PgPoolLike {
    if (this.poolInstance) return this.poolInstance;
    // Closed before it was ever used: no pool is made any more.
    if (this.closed) throw new StoreUnavailableError('postgres', 'the store is closed');
    const { Pool, connectionString } = this.ownPoolOf!;
    const ms = this.timeoutMs;
    // Its own connections carry the time limits: the server cancels a statement after `ms`, and the
    // client gives up on a server that does not answer a little later, and destroys the connection.
    const pool = new Pool({ connectionString, max: 4, connectionTimeoutMillis: ms, query_timeout: ms + GRACE_MS });
    // An idle connection that breaks must not bring the application down.
    pool.on('error', () => undefined);
    return (this.poolInstance = pool);
  }

  private async query(text: string, values?: unknown[]): Promise<PgResult> {
    if (this.ownPool) {
      return this.run(() =>
        this.withClient(async (client) => {
          // Set on each connection before its first query, rather than as a startup parameter,
          // which PgBouncer refuses; a connection that fails it fails its query too.
          if (!this.limited.has(client)) {
            await client.query(`SET statement_timeout = ${Math.max(1, Math.round(this.timeoutMs))}`);
            this.limited.add(client);
          }
          return client.query(text, values);
        }),
      );
    }
    // A pool given is left as its owner configured it: each call sets the time limits for itself.
    return this.transaction((client) => client.query(text, values));
  }

  /**
   * Runs `work` in a transaction of its own, on a client of the pool, within the time limit:
   * `statement_timeout` and `idle_in_transaction_session_timeout` (and `limits`, in ms) set for
   * this transaction alone.
   */
  private transaction<T>(work: (client: PgClientLike) => Promise<T>, limits: Record<string, number> = {}): Promise<T> {
    const settings = { statement_timeout: this.timeoutMs, idle_in_transaction_session_timeout: this.timeoutMs, ...limits };
    const statements = Object.entries(settings).map(([name, ms]) => `SET LOCAL ${name} = ${Math.max(1, Math.round(ms))}`);
    return this.run(() =>
      this.withClient(async (client) => {
        await client.query(['BEGIN', ...statements].join('; '));
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      }),
    );
  }

  /**
   * Runs `work` on a client of the pool. A client that does not answer within the time limit (and
   * the grace after it), or whose work fails, is destroyed rather than given back: it may still be
   * in a statement or a transaction. The server then rolls back.
   */
  private async withClient<T>(work: (client: PgClientLike) => Promise<T>): Promise<T> {
    const client = await this.checkout();
    // A connection that breaks while it is out of the pool also says so with an 'error' event (its
    // query fails too): heard here, not left to crash the process. A client destroyed keeps it.
    const broken = () => undefined;
    client.on('error', broken);
    const working = work(client);
    let result: T;
    try {
      result = await within(working, this.timeoutMs + GRACE_MS);
    } catch (error) {
      // Settles after the client is gone: nobody waits for it any more.
      working.catch(() => undefined);
      client.release(error instanceof Error ? error : true);
      throw error;
    }
    client.removeListener?.('error', broken);
    client.release();
    return result;
  }

  /** A client of the pool, within the time limit; one handed over after it goes back at once. */
  private async checkout(): Promise<PgClientLike> {
    const pending = this.pool.connect();
    try {
      return await within(pending, this.timeoutMs, 'connection');
    } catch (error) {
      pending.then(
        (client) => client.release(),
        () => undefined,
      );
      throw error;
    }
  }

  /** Runs a driver call; its failures become {@link StoreUnavailableError}, naming the server. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw unavailable('postgres', this.address, error);
    }
  }
}

/** A run record of the `runs` table, or `null` if the row is not one. */
function readRow(row: Record<string, unknown>): FinishedRun | null {
  return readRun({
    job: row.job,
    instance: row.instance,
    scheduledAt: row.scheduled_at,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    attempt: row.attempt,
    outcome: row.outcome,
    error: row.error ?? undefined,
  });
}

/** A cursor of the run feed, or `null` if it is not one (another store's): the feed then starts from now. */
function parseCursor(cursor: string): FeedCursor | null {
  try {
    const parsed = JSON.parse(cursor) as Partial<FeedCursor>;
    if (!Number.isSafeInteger(parsed.a) || !Array.isArray(parsed.g)) return null;
    const gaps = parsed.g.filter((gap): gap is [number, number] => Array.isArray(gap) && Number.isSafeInteger(gap[0]) && Number.isFinite(gap[1]));
    return { a: parsed.a!, g: gaps.slice(-MAX_GAPS) };
  } catch {
    return null;
  }
}

/** How long after the server should have cancelled a statement the client gives up on it. */
const GRACE_MS = 1_000;

/** `host:port/database` of a pool's settings or connection string, for messages: never the user or password. */
function pgAddress(config: NonNullable<PgPoolLike['options']>): string {
  let { host, port, database } = config;
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      host = decodeURIComponent(url.hostname) || url.searchParams.get('host') || host;
      port = url.port || port;
      database = decodeURIComponent(url.pathname.slice(1)) || url.searchParams.get('db') || database;
    } catch {
      // Not a URL: pg's defaults below.
    }
  }
  host ||= process.env.PGHOST || 'localhost';
  port ||= process.env.PGPORT || 5432;
  database ||= process.env.PGDATABASE;
  return `${host}:${port}${database ? `/${database}` : ''}`;
}
