import { Client, Pool } from 'pg';
import { StoreUnavailableError } from '../../lib';
import { PostgresJobStore } from '../../lib/stores/postgres.store';
import { PG_URL, uniqueName } from '../support/services';
import { StallProxy, hostAndPort, through } from '../support/stall-proxy';

/**
 * PostgreSQL never hangs the scheduler: every call of the store is bounded by its time limit
 * (`cluster.timeoutMs`, given to the store with `configure`). A statement that waits longer is
 * cancelled by the server; a server that does not answer at all is given up on by the client,
 * whose connection is destroyed; and in every case no client of the pool stays taken. On the
 * shared server, whose only part in these tests is a lock held by another connection, and through
 * a proxy that can go silent.
 */
const TIMEOUT_MS = 400;
const schema = uniqueName('metronome_timeouts');
const jobs = `"${schema}"."jobs"`;

/** A store on its own pool, or on a pool it is given; connections named `name` in pg_stat_activity. */
function openStore(kind: 'own pool' | 'given pool', name: string, url = PG_URL): { store: PostgresJobStore; pool?: Pool } {
  const named = new URL(url);
  named.searchParams.set('application_name', name);
  if (kind === 'own pool') {
    const store = new PostgresJobStore({ connectionString: named.toString(), schema });
    store.configure({ timeoutMs: TIMEOUT_MS });
    return { store };
  }
  // A pool as users often make it: no time limits of its own.
  const pool = new Pool({ connectionString: named.toString(), max: 3 });
  const store = new PostgresJobStore({ pool, schema });
  store.configure({ timeoutMs: TIMEOUT_MS });
  return { store, pool };
}

type Failure = StoreUnavailableError & { cause?: { code?: string } };

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (error) {
    return error as Failure;
  }
  throw new Error('it did not fail');
}

let admin: Client;

async function connectionsOf(name: string, where = 'true'): Promise<number> {
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND ${where}`, [name]);
  return rows[0].n as number;
}

/** Waits until `check` holds, polling; gives up after `ms` (connections close a moment after the client lets go). */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** No client of the pool is out: every one is idle or gone. */
const nothingTaken = (pool: Pool) => ({ taken: pool.totalCount - pool.idleCount, waiting: pool.waitingCount });

beforeAll(async () => {
  admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  const { store } = openStore('own pool', uniqueName('setup'));
  await store.connect();
  await store.close();
  await admin.query(`INSERT INTO ${jobs} (name, anchor) VALUES ('held', 0)`);
});

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

describe.each(['own pool', 'given pool'] as const)('PostgresJobStore on its %s', (kind) => {
  let locker: Client;

  beforeEach(async () => {
    locker = new Client({ connectionString: PG_URL });
    await locker.connect();
  });

  afterEach(async () => {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  });

  it('gives up on a row another transaction holds: the server cancels the statement, and no client stays taken', async () => {
    const name = uniqueName('locked_row');
    const { store, pool } = openStore(kind, name);
    await store.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${jobs} WHERE name = 'held' FOR UPDATE`);

    const error = await failure(store.setPaused('held', true, 'test'));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    // 57014: canceling statement due to statement timeout, said by the server.
    expect(error.cause?.code).toBe('57014');
    expect(await connectionsOf(name, `wait_event_type = 'Lock'`)).toBe(0);
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });

    // The lock gone, the store works on.
    await locker.query('ROLLBACK');
    await store.setPaused('held', false, 'test');
    await store.close();
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });
    await pool?.end();
  });

  it("waits for another instance's migration lock no longer than its time limit", async () => {
    const { store, pool } = openStore(kind, uniqueName('migration_lock'));
    await locker.query('BEGIN');
    await locker.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nestjs-metronome:"${schema}"`]);

    const error = await failure(store.connect());
    // 55P03: lock_not_available, from lock_timeout.
    expect(error.cause?.code).toBe('55P03');
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });

    await locker.query('COMMIT');
    await store.connect();
    await store.close();
    await pool?.end();
  });

  it('gives up on a server that stops answering in the middle of a call, and destroys that connection', async () => {
    const proxy = await StallProxy.start(hostAndPort(PG_URL, 5432));
    const { store, pool } = openStore(kind, uniqueName('silent'), through(PG_URL, proxy));
    await store.connect();
    await store.setPaused('held', false, 'test');
    proxy.stalled = true;

    const error = await failure(store.setPaused('held', false, 'test'));
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toContain(`127.0.0.1:${proxy.port}`);
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });

    await store.close();
    await proxy.close();
    await pool?.end();
  });

  it('fails to connect to a server that never answers within its time limit, naming host and port but no password', async () => {
    const proxy = await StallProxy.start(hostAndPort(PG_URL, 5432));
    proxy.stalled = true;
    const url = new URL(through(PG_URL, proxy));
    url.password = 'hunter2';
    const { store, pool } = openStore(kind, uniqueName('never'), url.toString());

    const error = await failure(store.connect());
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toContain(`127.0.0.1:${proxy.port}/`);
    expect(error.message).not.toContain('hunter2');

    await store.close();
    // A pool without a connection timeout of its own waits for its connection until the proxy cuts it.
    await proxy.close();
    if (pool) expect(await eventually(async () => pool.totalCount === 0)).toBe(true);
    await pool?.end();
  });
});

describe.each(['own pool', 'given pool'] as const)('The PostgreSQL listener on its %s', (kind) => {
  const listening = (channel: string) => `query = 'LISTEN "${channel}"'`;
  const channel = `${schema}_changes`;

  it('leaves no connection behind at close, however many listeners there were', async () => {
    const name = uniqueName('listeners');
    const { store, pool } = openStore(kind, name);
    await store.connect();
    await store.watch(() => undefined);
    await store.watch(() => undefined);
    expect(await connectionsOf(name, listening(channel))).toBe(2);

    await store.close();
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });
    expect(await eventually(async () => (await connectionsOf(name, listening(channel))) === 0)).toBe(true);
    await pool?.end();
  });

  it('leaves no connection behind when closed while the listener is still connecting', async () => {
    const name = uniqueName('early_close');
    const { store, pool } = openStore(kind, name);
    await store.connect();
    const watching = store.watch(() => undefined);
    await store.close();
    await watching;

    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });
    // Given time to connect and listen, had it been left to.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await connectionsOf(name, listening(channel))).toBe(0);
    await pool?.end();
  });

  it('does not reconnect after close when its connection was lost just before', async () => {
    const name = uniqueName('lost_then_closed');
    const { store, pool } = openStore(kind, name);
    await store.connect();
    await store.watch(() => undefined);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND ${listening(channel)}`, [name]);
    // The listener noticed the loss and waits 200 ms to reconnect: close now.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.close();

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await connectionsOf(name, listening(channel))).toBe(0);
    if (pool) expect(nothingTaken(pool)).toEqual({ taken: 0, waiting: 0 });
    await pool?.end();
  });
});
