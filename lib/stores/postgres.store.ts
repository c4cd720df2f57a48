import { StoreUnavailableError } from '../errors';
import { Backoff } from '../engine/backoff';
import { loadDriver } from './driver';
import { ClaimOutcome, ExpiredRun, JobChange, JobStore, Lease, SAFE_NAME, StoredJobDefinition, StoredJobState, TickClaim } from './job-store';

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
}

/** The parts of a `pg` `Pool` used here. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgClientLike>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
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
}

/** Versioned schema changes, applied in order, once each, under an advisory lock. */
const MIGRATIONS: ReadonlyArray<(jobs: string) => string> = [
  (jobs) => `CREATE TABLE IF NOT EXISTS ${jobs} (
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
];

const NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/**
 * A store on PostgreSQL (driver `pg`). A claim is one statement: the due jobs' rows are locked
 * (skipping rows another instance holds), their watermark advanced and the run's lease written,
 * for every tick of a wake-up at once. Leases use the database's clock. Changes are announced with
 * `LISTEN`/`NOTIFY`. Every value is a query parameter; schema and prefix are checked names.
 */
export class PostgresJobStore implements JobStore {
  readonly kind = 'postgres';
  readonly shared = true;
  private readonly pool: PgPoolLike;
  private readonly ownPool: boolean;
  private readonly schema: string;
  private readonly jobs: string;
  private readonly meta: string;
  private readonly channel: string;
  private listener: PgClientLike | null = null;
  private closed = false;

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
    this.meta = `"${schema}"."${prefix}meta"`;
    this.channel = `${schema}_${prefix}changes`.slice(0, 63);
    if (options.pool) {
      this.pool = options.pool;
      this.ownPool = false;
    } else {
      const pg = loadDriver<{ Pool: new (config: object) => PgPoolLike }>('pg', 'postgres');
      // Bounded waits: a store that hangs must fail calls, not stall them.
      this.pool = new pg.Pool({ connectionString: options.connectionString, max: 4, connectionTimeoutMillis: 5_000, query_timeout: 15_000 });
      this.ownPool = true;
      // An idle connection that breaks must not bring the application down.
      this.pool.on('error', () => undefined);
    }
  }

  async connect(): Promise<void> {
    const client = await this.run(() => this.pool.connect());
    try {
      await client.query('BEGIN');
      // Instances starting together take turns: the DDL runs once, the others see it done.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nestjs-metronome:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.meta} (key text PRIMARY KEY, value text NOT NULL)`);
      const { rows } = await client.query(`SELECT value FROM ${this.meta} WHERE key = 'version'`);
      const version = rows.length ? Number(rows[0].value) : 0;
      for (let next = version; next < MIGRATIONS.length; next++) await client.query(MIGRATIONS[next](this.jobs));
      // A schema made by a newer version is left as it is.
      if (version < MIGRATIONS.length) {
        await client.query(`INSERT INTO ${this.meta} (key, value) VALUES ('version', $1) ON CONFLICT (key) DO UPDATE SET value = $1`, [
          String(MIGRATIONS.length),
        ]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new StoreUnavailableError('postgres', undefined, { cause: error });
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listener?.release(true);
    this.listener = null;
    if (this.ownPool) await this.pool.end();
  }

  async register(jobs: ReadonlyArray<{ name: string; anchor: number }>): Promise<StoredJobState[]> {
    if (jobs.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS i(name, anchor)),
       added AS (INSERT INTO ${this.jobs} (name, anchor) SELECT name, anchor FROM input ON CONFLICT (name) DO NOTHING RETURNING name, anchor, last_tick, paused)
       SELECT name, anchor, last_tick, paused FROM added
       UNION ALL
       SELECT j.name, j.anchor, j.last_tick, j.paused FROM ${this.jobs} j JOIN input i ON i.name = j.name WHERE j.name NOT IN (SELECT name FROM added)`,
      [jobs.map((job) => job.name), jobs.map((job) => Math.round(job.anchor))],
    );
    const byName = new Map(rows.map((row) => [row.name as string, row]));
    // A row another instance inserted while this statement ran is not in its snapshot: read it now.
    const missing = jobs.filter(({ name }) => !byName.has(name)).map(({ name }) => name);
    if (missing.length > 0) {
      const again = await this.query(`SELECT name, anchor, last_tick, paused FROM ${this.jobs} WHERE name = ANY($1::text[])`, [missing]);
      for (const row of again.rows) byName.set(row.name as string, row);
    }
    return jobs.map(({ name }) => {
      const row = byName.get(name)!;
      return { name, anchor: Number(row.anchor), lastTick: row.last_tick === null ? null : Number(row.last_tick), paused: Boolean(row.paused) };
    });
  }

  async claim(instance: string, claims: readonly TickClaim[]): Promise<ClaimOutcome[]> {
    if (claims.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (
         SELECT * FROM unnest($2::text[], $3::bigint[], $4::boolean[], $5::bigint[], $6::text[], $7::int[])
           AS c(name, tick, exclusive, lease_ms, delivery, ord)
       ),
       locked AS (
         SELECT j.name, c.tick, c.lease_ms, c.delivery, c.exclusive, j.paused, now.ms AS now,
                -- A lease is taken while it lives, and after, while an at-least-once run waits to be taken over.
                j.lease_owner IS NOT NULL AND (COALESCE(j.lease_until, 0) > now.ms OR j.lease_delivery = 'at-least-once') AS taken
         FROM ${this.jobs} j JOIN input c ON c.name = j.name CROSS JOIN (SELECT ${NOW} AS ms) now
         WHERE j.last_tick IS NULL OR j.last_tick < c.tick
         ORDER BY j.name
         -- Waits for a row another statement holds, then checks the watermark again.
         FOR UPDATE OF j
       ),
       decided AS (SELECT *, NOT paused AND NOT (exclusive AND taken) AS runs, NOT paused AND NOT (exclusive AND taken) AND NOT taken AS leases FROM locked),
       claimed AS (
         UPDATE ${this.jobs} j SET
           last_tick = d.tick,
           fencing = j.fencing + CASE WHEN d.runs THEN 1 ELSE 0 END,
           lease_owner = CASE WHEN d.leases THEN $1 ELSE j.lease_owner END,
           lease_until = CASE WHEN d.leases THEN d.now + d.lease_ms ELSE j.lease_until END,
           lease_token = CASE WHEN d.leases THEN j.fencing + 1 ELSE j.lease_token END,
           lease_tick = CASE WHEN d.leases THEN d.tick ELSE j.lease_tick END,
           lease_attempt = CASE WHEN d.leases THEN 1 ELSE j.lease_attempt END,
           lease_delivery = CASE WHEN d.leases THEN d.delivery ELSE j.lease_delivery END
         FROM decided d WHERE j.name = d.name
         RETURNING j.name, d.runs, j.paused, j.fencing AS token
       )
       SELECT c.ord,
              CASE WHEN k.name IS NOT NULL THEN CASE WHEN k.runs THEN 'won' WHEN k.paused THEN 'paused' ELSE 'busy' END
                   WHEN EXISTS (SELECT 1 FROM ${this.jobs} x WHERE x.name = c.name) THEN 'lost'
                   ELSE 'gone' END AS status,
              k.token
       FROM input c LEFT JOIN claimed k ON k.name = c.name
       ORDER BY c.ord`,
      [
        instance,
        claims.map((c) => c.job),
        claims.map((c) => Math.round(c.tick)),
        claims.map((c) => c.exclusive),
        claims.map((c) => c.leaseMs),
        claims.map((c) => c.delivery),
        claims.map((_, index) => index),
      ],
    );
    return rows.map((row) =>
      row.status === 'won' ? { status: 'won', fencingToken: Number(row.token) } : { status: row.status as 'busy' | 'lost' | 'paused' | 'gone' },
    );
  }

  async renew(instance: string, leases: readonly Lease[], leaseMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.query(
      `WITH input AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::int[]) AS l(name, token, ord)),
       locked AS (
         SELECT j.name FROM ${this.jobs} j JOIN input l ON j.name = l.name
         WHERE j.lease_token = l.token AND j.lease_owner = $1 ORDER BY j.name FOR UPDATE OF j
       ),
       renewed AS (
         UPDATE ${this.jobs} j SET lease_until = ${NOW} + $5 FROM locked k WHERE j.name = k.name RETURNING j.name
       )
       SELECT l.ord, r.name IS NOT NULL AS held FROM input l LEFT JOIN renewed r ON r.name = l.name ORDER BY l.ord`,
      [instance, leases.map((l) => l.job), leases.map((l) => l.fencingToken), leases.map((_, index) => index), leaseMs],
    );
    return rows.map((row) => Boolean(row.held));
  }

  async release(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return;
    await this.query(
      `WITH locked AS (
         SELECT j.name FROM ${this.jobs} j JOIN unnest($1::text[], $2::bigint[]) AS l(name, token) ON j.name = l.name
         WHERE j.lease_token = l.token ORDER BY j.name FOR UPDATE OF j
       )
       UPDATE ${this.jobs} j SET lease_owner = NULL, lease_until = NULL, lease_token = NULL FROM locked k WHERE j.name = k.name`,
      [leases.map((l) => l.job), leases.map((l) => l.fencingToken)],
    );
  }

  async recover(instance: string, leaseMs: number): Promise<{ recovered: ExpiredRun[]; abandoned: ExpiredRun[] }> {
    const { rows } = await this.query(
      `WITH expired AS (
         SELECT j.name, j.lease_owner AS owner, COALESCE(j.lease_tick, 0) AS tick, COALESCE(j.lease_attempt, 1) AS attempt, COALESCE(j.lease_token, 0) AS token,
                j.lease_delivery = 'at-least-once' AS retake
         FROM ${this.jobs} j
         WHERE j.lease_owner IS NOT NULL AND COALESCE(j.lease_until, 0) < ${NOW}
         ORDER BY j.name
         FOR UPDATE OF j SKIP LOCKED
       )
       UPDATE ${this.jobs} j SET
         fencing = j.fencing + CASE WHEN e.retake THEN 1 ELSE 0 END,
         lease_owner = CASE WHEN e.retake THEN $1 END,
         lease_until = CASE WHEN e.retake THEN ${NOW} + $2 END,
         lease_token = CASE WHEN e.retake THEN j.fencing + 1 END,
         lease_tick = CASE WHEN e.retake THEN e.tick END,
         lease_attempt = CASE WHEN e.retake THEN e.attempt + 1 END,
         lease_delivery = CASE WHEN e.retake THEN j.lease_delivery END
       FROM expired e WHERE j.name = e.name
       RETURNING j.name, e.owner, e.tick, e.attempt, e.token, e.retake, j.lease_token AS new_token`,
      [instance, leaseMs],
    );
    const recovered: ExpiredRun[] = [];
    const abandoned: ExpiredRun[] = [];
    for (const row of rows) {
      const base = { job: row.name as string, tick: Number(row.tick), owner: row.owner as string };
      if (row.retake) recovered.push({ ...base, attempt: Number(row.attempt) + 1, fencingToken: Number(row.new_token) });
      else abandoned.push({ ...base, attempt: Number(row.attempt), fencingToken: Number(row.token) });
    }
    return { recovered, abandoned };
  }

  async setPaused(job: string, paused: boolean, origin: string): Promise<void> {
    await this.query(`WITH changed AS (UPDATE ${this.jobs} SET paused = $2 WHERE name = $1 RETURNING name) SELECT pg_notify($3, $4) FROM changed`, [
      job,
      paused,
      this.channel,
      JSON.stringify({ kind: paused ? 'paused' : 'resumed', job, origin }),
    ]);
  }

  async remove(job: string, origin: string): Promise<void> {
    await this.query(`WITH gone AS (DELETE FROM ${this.jobs} WHERE name = $1 RETURNING name) SELECT pg_notify($2, $3) FROM gone`, [
      job,
      this.channel,
      JSON.stringify({ kind: 'removed', job, origin }),
    ]);
  }

  async saveDefinition(definition: StoredJobDefinition, anchor: number, origin: string): Promise<void> {
    await this.query(
      `WITH saved AS (
         INSERT INTO ${this.jobs} (name, anchor, definition) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition RETURNING name
       )
       SELECT pg_notify($4, $5) FROM saved`,
      [definition.name, Math.round(anchor), JSON.stringify(definition), this.channel, JSON.stringify({ kind: 'saved', job: definition.name, origin })],
    );
  }

  async loadDefinitions(): Promise<Array<{ name: string; definition: unknown; paused: boolean }>> {
    const { rows } = await this.query(`SELECT name, definition, paused FROM ${this.jobs} WHERE definition IS NOT NULL ORDER BY name`);
    return rows.map((row) => ({ name: row.name as string, definition: row.definition, paused: Boolean(row.paused) }));
  }

  async loadPaused(): Promise<Map<string, boolean>> {
    const { rows } = await this.query(`SELECT name, paused FROM ${this.jobs}`);
    return new Map(rows.map((row) => [row.name as string, Boolean(row.paused)]));
  }

  async watch(listener: (change: JobChange) => void): Promise<() => Promise<void>> {
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    // Reconnects wait 200 ms, doubling to 5 s; the periodic resync covers what is missed meanwhile.
    const backoff = new Backoff(200, 5_000);
    const listen = async (): Promise<void> => {
      if (stopped || this.closed) return;
      try {
        const client = await this.pool.connect();
        this.listener = client;
        const lost = () => {
          if (this.listener !== client) return;
          this.listener = null;
          client.release(true);
          if (!stopped && !this.closed) retry = setTimeout(listen, backoff.next());
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
        await client.query(`LISTEN "${this.channel}"`);
        backoff.reset();
      } catch {
        const client = this.listener;
        this.listener = null;
        client?.release(true);
        if (!stopped && !this.closed) retry = setTimeout(listen, backoff.next());
      }
    };
    await listen();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const client = this.listener;
      this.listener = null;
      client?.release(true);
    };
  }

  private async query(text: string, values?: unknown[]): Promise<PgResult> {
    return this.run(() => this.pool.query(text, values));
  }

  /** Runs a driver call; its failures become {@link StoreUnavailableError}. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError('postgres', undefined, { cause: error });
    }
  }
}
